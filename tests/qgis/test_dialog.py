"""The Map roads dialog: parameters from widgets, areas in the raster CRS, bad input."""

from __future__ import annotations

import os
import sys

import pytest
from qgis_helpers import add_raster, make_raster, messages, project_layers, set_canvas

pytestmark = pytest.mark.qgis


def open_dialog(plugin, wait_models: bool = True):
    dlg = plugin.create_dialog()
    assert dlg is not None, "the dialog did not open"
    if wait_models:
        assert dlg.loader.wait(60000), "the engine did not answer `roadseg models --json`"
    return dlg


def choose(combo, data) -> None:
    idx = combo.findData(data)
    assert idx >= 0, data
    combo.setCurrentIndex(idx)


def test_no_raster_layer_in_project(plugin, qgis_iface, fake_engine):
    plugin.run()
    warn = messages(qgis_iface, "warning")
    assert any("no raster layer in the project" in m for m in warn), warn
    assert plugin.dialog is None and project_layers() == []


def test_dialog_builds_parameters(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    layer = add_raster(utm_raster)
    set_canvas(qgis_iface, layer)
    dlg = open_dialog(plugin)
    assert "major, minor, track" in dlg.model_label.text() and "0.5 m/px" in dlg.model_label.text()
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    p = dlg.parameters()  # as the dialog opens: the engine's and the model's defaults
    assert (p.tile, p.overlap, p.batch_size, p.device, p.model) == (None, None, None, "auto", None)
    assert (p.outputs.polygons, p.outputs.centrelines, p.outputs.class_raster) == (
        True,
        True,
        False,
    )
    dlg.device_combo.setCurrentText("cpu")
    dlg.tile_spin.setValue(256)
    dlg.overlap_spin.setValue(32)
    dlg.batch_spin.setValue(2)
    dlg.raster_check.setChecked(True)
    dlg.centrelines_check.setChecked(False)
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    p = dlg.parameters()
    assert p.raster_path == str(utm_raster) and p.raster_name == "imagery"
    assert p.bbox == pytest.approx((500000.0, 3999968.0, 500032.0, 4000000.0))
    assert p.bbox_crs == "EPSG:32611" and p.area_mode == "layer"
    assert (p.device, p.tile, p.overlap, p.batch_size) == ("cpu", 256, 32, 2)
    assert (p.outputs.polygons, p.outputs.centrelines, p.outputs.class_raster) == (
        True,
        False,
        True,
    )
    assert p.output_dir == str(tmp_path / "out") and p.model is None
    assert p.area_km2 == pytest.approx(32 * 32 / 1e6, rel=0.01)
    assert p.run_name.startswith("Roads imagery ")
    # Defaults: model defaults for tiling, automatic overlap.
    dlg.tile_spin.setValue(0)
    dlg.overlap_spin.setValue(-1)
    dlg.batch_spin.setValue(0)
    p = dlg.parameters()
    assert (p.tile, p.overlap, p.batch_size) == (None, None, None)
    assert "Area 0.00 km²" in dlg.estimate_label.text() and "4096" not in dlg.estimate_label.text()


def test_extent_from_reprojected_canvas(plugin, qgis_iface, fake_engine, utm_raster):
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
    p = dlg.parameters()
    assert p.bbox_crs == "EPSG:32611"
    # The canvas fits the rectangle into its aspect ratio: the bbox contains the quarter, and is
    # clipped to the raster; transformBoundingBox may pad by a fraction of a pixel.
    minx, miny, maxx, maxy = p.bbox
    assert minx == pytest.approx(500000.0, abs=0.5) and maxy == pytest.approx(4000000.0, abs=0.5)
    assert maxx >= 500015.5 and miny <= 3999984.5
    assert (maxx - minx) * (maxy - miny) < 0.75 * 32 * 32


def test_selected_polygons_area(plugin, qgis_iface, fake_engine, utm_raster):
    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer

    layer = add_raster(utm_raster)
    poly = QgsVectorLayer("Polygon?crs=EPSG:32611", "aoi", "memory")
    feats = []
    for wkt in (
        "POLYGON((500004 3999990, 500010 3999990, 500010 3999996, 500004 3999996, 500004 3999990))",
        "POLYGON((500020 3999970, 500030 3999970, 500030 3999980, 500020 3999970))",
    ):
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromWkt(wkt))
        feats.append(f)
    poly.dataProvider().addFeatures(feats)
    QgsProject.instance().addMapLayer(poly)
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "selection")
    dlg.polygon_combo.setLayer(poly)
    with pytest.raises(Exception, match="No features are selected"):
        dlg.parameters()
    poly.selectByIds([feats[0].id() if feats[0].id() > 0 else 1])
    p = dlg.parameters()
    assert p.bbox == pytest.approx((500004.0, 3999990.0, 500010.0, 3999996.0))
    import json

    fc = json.loads(p.aoi_geojson)
    assert len(fc["features"]) == 1 and fc["features"][0]["geometry"]["type"] == "Polygon"
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert (
        -117.1 < lon < -116.9 and 36.1 < lat < 36.2
    )  # EPSG:4326, near UTM 11N (500 km E, 4000 km N)
    poly.selectAll()
    p = dlg.parameters()
    assert p.bbox == pytest.approx((500004.0, 3999970.0, 500030.0, 3999996.0))
    assert len(json.loads(p.aoi_geojson)["features"]) == 2
    choose(dlg.area_combo, "layer")
    assert dlg.parameters().aoi_geojson is None


def test_extent_outside_raster(plugin, qgis_iface, fake_engine, utm_raster):
    from qgis.core import QgsRectangle

    layer = add_raster(utm_raster)
    set_canvas(qgis_iface, layer, extent=QgsRectangle(600000, 4100000, 600100, 4100100))
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "canvas")
    dlg.accept()
    assert dlg.result() == 0 and "does not overlap the raster 'imagery'" in dlg.last_error
    assert "does not overlap" in dlg.estimate_label.text()
    assert len(project_layers()) == 1 and plugin.tasks == []


def test_raster_without_crs(plugin, qgis_iface, fake_engine, tmp_path):
    path = make_raster(tmp_path / "nocrs.tif", epsg=None)
    layer = add_raster(path, "nocrs")
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.accept()
    assert dlg.result() == 0
    assert "has no coordinate reference system" in dlg.last_error and "'nocrs'" in dlg.last_error


def test_unwritable_output_folder(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    layer = add_raster(utm_raster)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(blocker / "out"))
    dlg.accept()
    assert dlg.result() == 0 and "Cannot write to the output folder" in dlg.last_error
    assert not (tmp_path / "a_file" / "out").exists()


def test_size_limit(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    from qgis.core import QgsSettings

    QgsSettings().setValue("roadseg/max_area_km2", 0.0005)  # 500 m²; the raster is 1024 m²
    layer = add_raster(utm_raster)
    dlg = open_dialog(plugin, wait_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.refresh_estimate()
    assert "larger than the limit" in dlg.estimate_label.text()
    dlg.accept()
    assert dlg.result() == 0 and "larger than the limit of 0.0005 km²" in dlg.last_error


def test_model_file_that_does_not_load_is_flagged(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    add_raster(utm_raster)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a model")
    dlg = open_dialog(plugin)
    choose(dlg.area_combo, "layer")
    choose(dlg.model_combo, "__file__")
    dlg.model_file.setFilePath(str(bad))
    assert dlg.loader.wait(60000)
    assert "This model file cannot be used" in dlg.model_label.text()
    assert "not a roadseg model file" in dlg.model_label.text()
    good = tmp_path / "good.safetensors"
    good.write_bytes(b"FAKEMODL")
    dlg.model_file.setFilePath(str(good))
    assert dlg.loader.wait(60000)
    assert "Classes: major, minor, track" in dlg.model_label.text()
    dlg.model_file.setFilePath(str(tmp_path / "missing.safetensors"))
    with pytest.raises(Exception, match="does not exist"):
        dlg.parameters()


def test_no_engine_found(plugin, qgis_iface, utm_raster, tmp_path, monkeypatch):
    add_raster(utm_raster)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("ROADSEG_ENGINE", raising=False)
    plugin.run()
    crit = messages(qgis_iface, "critical")
    assert any("No roadseg engine found" in m and "make setup" in m for m in crit), crit
    assert plugin.dialog is None and len(project_layers()) == 1


def test_settings_test_engine(plugin, qgis_iface, fake_engine, tmp_path, monkeypatch):
    sett = __import__("roadseg_qgis.gui.settings", fromlist=["SettingsDialog"])
    dlg = sett.SettingsDialog()
    assert dlg.run_test()
    assert (
        dlg.test_result.text().startswith("OK: roadseg 0.1.0")
        and "ROADSEG_ENGINE" in dlg.test_result.text()
    )
    monkeypatch.delenv("ROADSEG_ENGINE")
    dlg.engine_widget.setFilePath(str(tmp_path / "no" / "roadseg"))
    assert not dlg.run_test()
    assert "does not exist or cannot be run" in dlg.test_result.text()
    assert "Install the roadseg engine" in dlg.test_result.text()
    dlg.limit_spin.setValue(12.5)
    dlg.accept()
    assert sett.engine_setting() == str(tmp_path / "no" / "roadseg") and sett.limit_km2() == 12.5


@pytest.mark.skipif(
    not os.path.exists(os.path.join(os.path.dirname(sys.executable), "roadseg")),
    reason="no real engine next to the test Python",
)
def test_settings_test_engine_real(plugin, qgis_iface, settings_reset):
    """Auto-detection finds the real engine next to the running Python; --version works."""
    sett = __import__("roadseg_qgis.gui.settings", fromlist=["SettingsDialog"])
    dlg = sett.SettingsDialog()
    assert dlg.run_test(), dlg.test_result.text()
    assert "next to the running Python" in dlg.test_result.text()
