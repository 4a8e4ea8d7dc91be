"""The Map roads dialog: parameters from widgets, areas, defaults, remembered choices, checks.

The engine behind the dialog is the real one (it lists the models); no run starts here.
"""

from __future__ import annotations

import importlib
import json
import re
import sys

import pytest
from qgis_helpers import (
    add_raster,
    choose,
    make_raster,
    message_buttons,
    messages,
    project_layers,
    set_canvas,
)

pytestmark = pytest.mark.qgis


def open_dialog(plugin, wait_models: bool = True):
    dlg = plugin.create_dialog(fetch_models=wait_models)
    assert dlg is not None, "the dialog did not open"
    if wait_models:
        assert dlg.loader.wait(120000), "the engine did not answer `roadseg models --json`"
    return dlg


def class_raster(path):
    """A GeoTIFF tagged as a roadseg class raster (what a previous run writes)."""
    from osgeo import gdal

    make_raster(path, bands=1)
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetMetadataItem("ROADSEG_CLASSES", json.dumps(["background", "major"]))
    ds = None
    return path


def xyz_basemap():
    from qgis.core import QgsProject, QgsRasterLayer

    uri = "type=xyz&url=https://tile.openstreetmap.org/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=19&zmin=0"
    layer = QgsRasterLayer(uri, "OpenStreetMap", "wms")
    QgsProject.instance().addMapLayer(layer)
    return layer


def polygons_layer(wkts, crs="EPSG:32611"):
    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer

    layer = QgsVectorLayer(f"Polygon?crs={crs}", "aoi", "memory")
    feats = []
    for wkt in wkts:
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromWkt(wkt))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    QgsProject.instance().addMapLayer(layer)
    return layer


def test_no_raster_layer_in_project(plugin, qgis_iface, real_engine):
    plugin.run()
    warn = messages(qgis_iface, "warning")
    assert any("no raster layer in the project" in m for m in warn), warn
    assert plugin.dialog is None and project_layers() == []


def test_only_class_rasters(plugin, qgis_iface, real_engine, tmp_path):
    add_raster(class_raster(tmp_path / "classes.tif"), "road classes")
    plugin.run()
    warn = messages(qgis_iface, "warning")
    assert any("roadseg class rasters" in m and "XYZ, WMS or WMTS" in m for m in warn), warn
    assert plugin.dialog is None


def test_a_basemap_alone_opens_the_dialog(plugin, qgis_iface, real_engine, tmp_path):
    """Map roads renders web layers: an XYZ basemap is a raster to map (tests/qgis/test_web_*)."""
    basemap = xyz_basemap()
    add_raster(class_raster(tmp_path / "classes.tif"), "road classes")
    dlg = open_dialog(plugin, wait_models=False)
    assert dlg.raster_combo.currentLayer() is basemap


def test_default_raster_is_imagery_never_a_basemap_or_class_raster(
    plugin, qgis_iface, real_engine, tmp_path
):
    """Active layer not a raster: the first raster file that is imagery, not a basemap."""
    basemap = xyz_basemap()
    classes = add_raster(class_raster(tmp_path / "a_classes.tif"), "A road classes")
    imagery = add_raster(make_raster(tmp_path / "z.tif"), "Z imagery")
    aoi = polygons_layer(
        ["POLYGON((500004 3999990, 500010 3999990, 500010 3999996, 500004 3999990))"]
    )
    qgis_iface.setActiveLayer(aoi)
    dlg = open_dialog(plugin, wait_models=False)
    assert dlg.raster_combo.currentLayer() is imagery
    listed = {dlg.raster_combo.layer(i) for i in range(dlg.raster_combo.count())}
    assert imagery in listed and basemap in listed and classes not in listed
    # The active layer wins when it is imagery; a class raster never does.
    other = add_raster(make_raster(tmp_path / "b.tif"), "B imagery")
    qgis_iface.setActiveLayer(other)
    assert open_dialog(plugin, wait_models=False).raster_combo.currentLayer() is other
    qgis_iface.setActiveLayer(classes)
    assert open_dialog(plugin, wait_models=False).raster_combo.currentLayer() in (imagery, other)


def test_dialog_builds_parameters(plugin, qgis_iface, real_engine, utm_raster, tmp_path):
    layer = add_raster(utm_raster)
    set_canvas(qgis_iface, layer)
    dlg = open_dialog(plugin)
    text = dlg.model_label.text()
    assert "major, minor, track" in text and "0.5 m/px" in text
    assert "major — main roads" in text and "about 12 m wide" in text  # the classes explained
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    p = dlg.parameters()  # as the dialog opens: the engine's and the model's defaults
    assert (p.tile, p.overlap, p.batch_size, p.device, p.model) == (None, None, None, "auto", None)
    assert p.working_gsd is None and dlg.working_gsd_spin.value() == 0  # the model's own
    assert p.road_threshold is None and dlg.threshold_spin.value() == 0  # the model's own
    assert (p.outputs.polygons, p.outputs.centrelines, p.outputs.class_raster) == (
        True,
        True,
        False,
    )
    choose(dlg.device_combo, "cpu")
    dlg.tile_spin.setValue(256)
    dlg.overlap_spin.setValue(32)
    dlg.batch_spin.setValue(2)
    dlg.raster_check.setChecked(True)
    dlg.centrelines_check.setChecked(False)
    p = dlg.parameters()
    assert p.raster_path == str(utm_raster) and p.raster_name == "imagery"
    assert p.bbox == pytest.approx((500000.0, 3999968.0, 500032.0, 4000000.0))
    assert p.bbox_crs == "EPSG:32611" and p.area_mode == "layer" and p.aoi_geojson is None
    assert (p.device, p.tile, p.overlap, p.batch_size) == ("cpu", 256, 32, 2)
    assert (p.outputs.polygons, p.outputs.centrelines, p.outputs.class_raster) == (
        True,
        False,
        True,
    )
    assert p.output_dir == str(tmp_path / "out") and p.model is None
    assert p.area_km2 == pytest.approx(32 * 32 / 1e6, rel=0.01)
    assert p.run_name.startswith("Roads imagery (default model) ")
    assert (
        "Area 0.00 km²" in dlg.estimate_label.text() and "at 0.5 m/px" in dlg.estimate_label.text()
    )
    assert " on cpu " in dlg.estimate_label.text()
    # A working resolution: passed to the engine, and the estimate counts its pixels.
    assert "connect the centrelines" in dlg.working_gsd_spin.toolTip()
    dlg.working_gsd_spin.setValue(0.4)
    p = dlg.parameters()
    assert p.working_gsd == pytest.approx(0.4)
    commands = importlib.import_module("roadseg_qgis.core.commands")  # the plugin as installed
    argv = commands.predict_argv(["roadseg"], p, "o.tif", None)
    assert argv[argv.index("--working-gsd") + 1] == "0.4"
    assert "at 0.4 m/px" in dlg.estimate_label.text(), dlg.estimate_label.text()
    # One the engine would refuse for this 0.5 m model: said before Run (a web layer would be
    # rendered at it first).
    dlg.working_gsd_spin.setValue(0.1)
    dlg.refresh()
    assert not dlg.run_button.isEnabled()
    assert "too far from the model's 0.5 m/px" in dlg.error_label.text(), dlg.error_label.text()
    dlg.working_gsd_spin.setValue(0.4)
    dlg.refresh()
    assert dlg.run_button.isEnabled(), dlg.error_label.text()


def test_estimate_before_the_model_answers(plugin, qgis_iface, real_engine, tmp_path):
    """No "on auto" and no raw resolution like 0.300564 m/px before the model's information."""
    path = make_raster(tmp_path / "odd.tif", pixel=0.300564)
    layer = add_raster(path, "odd")
    set_canvas(qgis_iface, layer)
    dlg = open_dialog(plugin, wait_models=False)
    text = dlg.estimate_label.text()
    assert "waiting for the model's resolution" in text
    assert "auto" not in text and "0.300564" not in text
    dlg.fetch_models()
    assert dlg.loader.wait(120000)
    text = dlg.estimate_label.text()
    assert "at 0.5 m/px" in text and not re.search(r"\d\.\d{3,} m/px", text)


def test_extent_from_reprojected_canvas(plugin, qgis_iface, real_engine, utm_raster):
    """A canvas in EPSG:3857 showing the raster's upper-left quarter → that quarter in UTM."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRectangle,
    )

    layer = add_raster(utm_raster)
    quarter = QgsRectangle(500000.0, 3999984.0, 500016.0, 4000000.0)
    tr = QgsCoordinateTransform(
        layer.crs(), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    set_canvas(qgis_iface, layer, "EPSG:3857", tr.transformBoundingBox(quarter))
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "canvas")
    area = dlg.current_area()
    assert area.crs == "EPSG:32611"
    minx, miny, maxx, maxy = area.bbox
    assert minx == pytest.approx(500000.0, abs=0.5) and maxy == pytest.approx(4000000.0, abs=0.5)
    assert maxx >= 500015.5 and miny <= 3999984.5
    assert (maxx - minx) * (maxy - miny) < 0.75 * 32 * 32


def test_polygon_areas(plugin, qgis_iface, real_engine, utm_raster, tmp_path):
    """All polygons of a layer, or the selected ones: polygons for the engine, their area."""
    layer = add_raster(utm_raster)
    poly = polygons_layer(
        [
            "POLYGON((500004 3999990, 500010 3999990, 500010 3999996, 500004 3999996, "
            "500004 3999990))",
            "POLYGON((500020 3999970, 500030 3999970, 500030 3999980, 500020 3999970))",
        ]
    )
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    choose(dlg.area_combo, "selection")
    dlg.polygon_combo.setLayer(poly)
    assert "No polygons are selected in 'aoi'" in dlg.error_label.text()
    assert not dlg.run_button.isEnabled()
    poly.selectByIds([sorted(poly.allFeatureIds())[0]])
    assert dlg.run_button.isEnabled(), dlg.error_label.text()  # the selection is followed
    p = dlg.parameters()
    assert p.bbox == pytest.approx((500004.0, 3999990.0, 500010.0, 3999996.0))
    assert p.area_km2 == pytest.approx(36e-6, rel=0.01)
    fc = json.loads(p.aoi_geojson)
    assert len(fc["features"]) == 1 and fc["features"][0]["geometry"]["type"] == "Polygon"
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert -117.1 < lon < -116.9 and 36.1 < lat < 36.2  # EPSG:4326
    choose(dlg.area_combo, "polygons")  # every polygon, selected or not
    p = dlg.parameters()
    assert p.bbox == pytest.approx((500004.0, 3999970.0, 500030.0, 3999996.0))
    assert len(json.loads(p.aoi_geojson)["features"]) == 2
    assert p.area_km2 == pytest.approx((36 + 50) * 1e-6, rel=0.01)  # the polygons, not the box
    choose(dlg.area_combo, "layer")
    assert dlg.parameters().aoi_geojson is None


def test_problem_shown_in_full_and_run_disabled(plugin, qgis_iface, real_engine, utm_raster):
    from qgis.core import QgsRectangle
    from qgis.PyQt.QtCore import QCoreApplication

    layer = add_raster(utm_raster)
    set_canvas(qgis_iface, layer, extent=QgsRectangle(600000, 4100000, 600100, 4100100))
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "canvas")
    message = dlg.error_label.text()
    assert "does not overlap the raster 'imagery'" in message
    assert not dlg.run_button.isEnabled()
    dlg.show()
    dlg.adjustSize()
    QCoreApplication.processEvents()
    label = dlg.error_label
    assert label.isVisible() and label.wordWrap()
    assert label.height() >= label.heightForWidth(label.width())  # every line shows
    dlg.accept()
    assert dlg.result() == 0 and plugin.tasks == []
    choose(dlg.area_combo, "layer")  # fixed: the message goes, Run comes back
    assert dlg.run_button.isEnabled() and not dlg.error_label.isVisible()
    dlg.hide()


def test_raster_without_crs(plugin, qgis_iface, real_engine, tmp_path):
    path = make_raster(tmp_path / "nocrs.tif", epsg=None)
    layer = add_raster(path, "nocrs")
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    assert "has no coordinate reference system" in dlg.error_label.text()
    assert "'nocrs'" in dlg.error_label.text() and not dlg.run_button.isEnabled()


def test_unwritable_results_folder(plugin, qgis_iface, real_engine, utm_raster, tmp_path):
    layer = add_raster(utm_raster)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.output_widget.setFilePath(str(blocker / "out"))
    assert dlg.run_button.isEnabled()
    dlg.accept()
    assert dlg.result() == 0 and "Cannot write to the results folder" in dlg.last_error
    assert not dlg.run_button.isEnabled() and "Cannot write" in dlg.error_label.text()
    assert not (tmp_path / "a_file" / "out").exists()
    dlg.output_widget.setFilePath(str(tmp_path / "ok"))  # a change clears it
    assert dlg.run_button.isEnabled()


def test_size_limit(plugin, qgis_iface, real_engine, utm_raster, tmp_path):
    from qgis.core import QgsSettings

    QgsSettings().setValue("roadseg/max_area_km2", 0.0005)  # 500 m²; the raster is 1024 m²
    layer = add_raster(utm_raster)
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    assert "larger than the limit of 0.0005 km²" in dlg.error_label.text()
    assert not dlg.run_button.isEnabled()


def test_model_file_without_a_file(plugin, qgis_iface, real_engine, utm_raster, tmp_path):
    """Model file… with no file: no stale description of the embedded model, Run disabled."""
    add_raster(utm_raster)
    dlg = open_dialog(plugin)
    choose(dlg.area_combo, "layer")
    assert "Classes: major, minor, track" in dlg.model_label.text()
    choose(dlg.model_combo, "__file__")
    assert "Choose a model file" in dlg.model_label.text()
    assert "Classes:" not in dlg.model_label.text()
    assert "Choose a model file" in dlg.error_label.text() and not dlg.run_button.isEnabled()
    dlg.model_file.setFilePath(str(tmp_path / "missing.safetensors"))
    assert "No file at" in dlg.model_label.text() and "does not exist" in dlg.error_label.text()
    choose(dlg.model_combo, "default")
    assert dlg.run_button.isEnabled() and "Classes: major" in dlg.model_label.text()


def test_help_tooltips_and_devices(plugin, qgis_iface, real_engine, utm_raster, monkeypatch):
    from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QSpinBox
    from roadseg_qgis.gui import dialog as dialog_mod
    from roadseg_qgis.gui import prefs

    add_raster(utm_raster)
    dlg = open_dialog(plugin, wait_models=False)
    for w in dlg.findChildren((QComboBox, QSpinBox, QCheckBox)):
        if w.isVisibleTo(dlg) and w.parent() is not dlg.raster_combo:
            assert w.toolTip(), f"{w.objectName() or type(w).__name__} has no tooltip"
    for w in (dlg.raster_combo, dlg.polygon_combo, dlg.output_widget):
        assert w.toolTip()
    assert "blended" in dlg.overlap_spin.toolTip() and "memory" in dlg.batch_spin.toolTip()
    opened = []
    monkeypatch.setattr(dialog_mod, "open_url", opened.append)
    dlg.buttons.helpRequested.emit()
    assert opened == ["https://github.com/roadseg/roadseg#qgis-plugin"]
    # Only the devices found on this machine: cuda/mps once the engine used them.
    assert [dlg.device_combo.itemData(i) for i in range(dlg.device_combo.count())] == [
        "auto",
        "cpu",
    ]
    prefs.record_device("cuda:0", auto=True)
    dlg = open_dialog(plugin, wait_models=False)
    assert dlg.device_combo.findData("cuda") >= 0 and dlg.device_combo.findData("mps") < 0


def test_results_folder_asked_once_for_unsaved_projects(
    plugin, qgis_iface, real_engine, utm_raster, tmp_path, monkeypatch
):
    from roadseg_qgis.gui import dialog as dialog_mod

    layer = add_raster(utm_raster)
    dlg = open_dialog(plugin, wait_models=False)
    assert dlg.output_widget.filePath() == ""  # never /tmp
    choose(dlg.area_combo, "layer")
    asked = []
    chosen = tmp_path / "my results"
    monkeypatch.setattr(
        dialog_mod.MapRoadsDialog, "ask_results_dir", lambda self: asked.append(1) or str(chosen)
    )
    dlg.raster_combo.setLayer(layer)
    dlg.accept()
    assert dlg.result() == 1 and dlg.params.output_dir == str(chosen) and asked == [1]
    dlg2 = open_dialog(plugin, wait_models=False)
    assert dlg2.output_widget.filePath() == str(chosen)
    choose(dlg2.area_combo, "layer")
    dlg2.accept()
    assert dlg2.result() == 1 and asked == [1]  # not asked again


def test_choices_are_remembered(plugin, qgis_iface, real_engine, utm_raster, tmp_path):
    layer = add_raster(utm_raster)
    poly = polygons_layer(
        ["POLYGON((500004 3999990, 500010 3999990, 500010 3999996, 500004 3999990))"]
    )
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "polygons")
    dlg.polygon_combo.setLayer(poly)
    choose(dlg.device_combo, "cpu")
    dlg.tile_spin.setValue(128)
    dlg.overlap_spin.setValue(0)
    dlg.batch_spin.setValue(4)
    dlg.working_gsd_spin.setValue(0.45)
    dlg.threshold_spin.setValue(0.4)
    dlg.polygons_check.setChecked(False)
    dlg.raster_check.setChecked(True)
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    dlg.accept()
    assert dlg.result() == 1, dlg.last_error
    again = open_dialog(plugin, wait_models=False)
    assert (
        again.area_combo.currentData() == "polygons" and again.polygon_combo.currentLayer() is poly
    )
    assert again.device_combo.currentData() == "cpu"
    assert (again.tile_spin.value(), again.overlap_spin.value(), again.batch_spin.value()) == (
        128,
        0,
        4,
    )
    assert again.working_gsd_spin.value() == pytest.approx(0.45)
    assert again.threshold_spin.value() == pytest.approx(0.4)
    assert not again.polygons_check.isChecked() and again.raster_check.isChecked()
    assert again.centrelines_check.isChecked()


def test_no_engine_found(plugin, qgis_iface, utm_raster, tmp_path, monkeypatch):
    from roadseg_qgis.gui import settings as settings_mod

    add_raster(utm_raster)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("ROADSEG_ENGINE", raising=False)
    plugin.run()
    crit = messages(qgis_iface, "critical")
    assert any("No roadseg engine found" in m and "Install engine" in m for m in crit), crit
    assert plugin.dialog is None and len(project_layers()) == 1
    opened = []
    monkeypatch.setattr(settings_mod.SettingsDialog, "exec", lambda self: opened.append(self) or 0)
    message_buttons(qgis_iface, "critical")["Settings…"].click()
    assert len(opened) == 1


def test_check_fit_rates_the_area_with_the_real_engine(plugin, qgis_iface, real_engine, tmp_path):
    """*Check fit* runs `roadseg check-fit` on the chosen area and options; the rating shows."""
    from qgis_helpers import wait_until

    img = make_raster(tmp_path / "big.tif", width=1200, height=1100, pixel=1.0)  # 1.32 km²
    layer = add_raster(img)
    dlg = open_dialog(plugin)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.threshold_spin.setValue(0.55)
    dlg.fit_button.click()
    assert "Checking the fit" in dlg.fit_label.text(), dlg.fit_label.text()
    assert not dlg.fit_button.isEnabled()
    assert wait_until(lambda: dlg.fit_check.done, 240), "the engine did not answer check-fit"
    a = dlg.fit_answer
    assert a["settings"]["road_threshold"] == 0.55  # the dialog's options reach the engine
    item = a["rasters"][0]
    assert item["samples"] == 8 and not item["whole"], a
    assert item["confidence"]["pixels"] == 8 * 256 * 256  # 256 m windows of 1 m pixels
    assert item["area_km2"] == pytest.approx(1.32, rel=0.01)
    rating = item["confidence"]["rating"]
    text = dlg.fit_label.text()
    assert f"Fit to this imagery: {rating}" in text and "8 windows of 256 m" in text, text
    assert dlg.fit_button.isEnabled()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]  # the check wrote nothing
    # The cross pattern is nothing like aerial imagery: the default model is unsure of it.
    assert rating == "poor" and "href='adapt'" in text
    dlg.threshold_spin.setValue(0.6)  # other choices: the rating no longer applies
    assert dlg.fit_label.text() == "" and dlg.fit_answer == {}

    # The map extent as the area: panning the map makes the rating one of another area.
    choose(dlg.area_combo, "canvas")
    set_canvas(qgis_iface, layer)
    dlg.fit_button.click()
    assert wait_until(lambda: dlg.fit_check.done, 240) and dlg.fit_answer
    from qgis.core import QgsRectangle

    qgis_iface.mapCanvas().setExtent(QgsRectangle(500_100, 3_999_500, 500_600, 3_999_900))
    assert wait_until(lambda: dlg.fit_label.text() == "", 10), dlg.fit_label.text()

    # A polygon area: the engine reads its polygons from a file removed after the check.
    poly = polygons_layer(
        [
            "POLYGON((500010 3999900, 500100 3999900, 500100 3999990, 500010 3999990, 500010 3999900))"
        ]
    )
    choose(dlg.area_combo, "polygons")
    dlg.polygon_combo.setLayer(poly)
    dlg.fit_button.click()
    fit_dir = dlg._fit_dir
    assert fit_dir is not None and (tmp_path.parent / fit_dir).exists()
    assert wait_until(lambda: dlg.fit_check.done, 240)
    item = dlg.fit_answer["rasters"][0]
    assert item["whole"] and item["confidence"]["pixels"] == 90 * 90  # inside the polygon
    assert "the whole area" in dlg.fit_label.text()
    assert dlg._fit_dir is None and not (tmp_path.parent / fit_dir).exists()


def test_check_fit_says_why_it_cannot_check(plugin, qgis_iface, real_engine, tmp_path):
    layer = xyz_basemap()  # a web layer over "the whole layer": the whole world
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.fit_button.click()
    text = dlg.fit_label.text()
    assert "Cannot check:" in text and "covers the whole world" in text, text
    assert dlg.fit_check.process is None and dlg.fit_button.isEnabled()


def test_adapt_model_from_a_poor_check(plugin, qgis_iface, real_engine, tmp_path, monkeypatch):
    """Map roads → Check fit rates poor → its *Adapt model…* link → Adapt model on that raster."""
    from qgis_helpers import wait_until
    from roadseg_qgis.gui import adapt_dialog, dialog

    other = add_raster(make_raster(tmp_path / "other.tif", width=80, height=80))
    layer = add_raster(make_raster(tmp_path / "img.tif", width=200, height=200))
    qgis_iface.setActiveLayer(other)
    seen = {}

    def map_roads_exec(dlg):
        dlg.raster_combo.setLayer(layer)
        choose(dlg.area_combo, "layer")
        dlg.fit_button.click()
        assert wait_until(lambda: dlg.fit_check.done, 240)
        seen["rating"] = dlg.fit_answer["rasters"][0]["confidence"]["rating"]
        dlg.fit_label.linkActivated.emit("adapt")
        return dlg.result()

    def adapt_exec(dlg):
        seen["adapt"] = (dlg.raster_combo.currentLayer(), dlg.start_model())
        return 0  # closed: nothing runs

    monkeypatch.setattr(dialog.MapRoadsDialog, "exec", map_roads_exec)
    monkeypatch.setattr(adapt_dialog.AdaptDialog, "exec", adapt_exec)
    plugin.actions["map_roads"].trigger()
    assert seen["rating"] == "poor"  # the cross pattern is nothing like aerial imagery
    raster, start = seen["adapt"]
    assert raster.id() == layer.id() and start == "default"
    assert plugin.last_task is None  # no Map roads run started
