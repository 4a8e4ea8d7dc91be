"""Runs in the background task against the fake engine: layers, cancel, failures, extent.

The fake engine (tests/qgis/fake_engine.py) honours the CLI contract and can be made
slow, failing or crashing on demand; the real engine's end-to-end run is in
test_real_engine.py.
"""

from __future__ import annotations

import pytest
from qgis_helpers import add_raster, messages, project_layers, run_to_end, set_canvas, wait_until

pytestmark = pytest.mark.qgis


def _params(plugin, qgis_iface, raster_path, out_dir, area="layer", class_raster=False):
    layer = add_raster(raster_path)
    set_canvas(qgis_iface, layer)
    dlg = plugin.create_dialog()
    assert dlg.loader.wait(60000)
    dlg.raster_combo.setLayer(layer)
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData(area))
    dlg.raster_check.setChecked(class_raster)
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(out_dir))
    return dlg.parameters(), dlg.current_model_info()


class LogCapture:
    """Collect QgsMessageLog messages of the roadseg tag."""

    def __init__(self) -> None:
        from qgis.core import QgsApplication

        self.items: list[tuple[str, int]] = []
        self._log = QgsApplication.messageLog()
        self._log.messageReceived.connect(self._on)

    def _on(self, message, tag, level) -> None:  # noqa: ANN001
        if tag == "roadseg":
            self.items.append((message, int(level)))

    def close(self) -> None:
        self._log.messageReceived.disconnect(self._on)


@pytest.fixture
def log_capture():
    cap = LogCapture()
    yield cap
    cap.close()


def test_run_adds_styled_layers(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    from qgis.core import QgsCategorizedSymbolRenderer, QgsPalettedRasterRenderer, QgsProject

    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out, class_raster=True)
    task = plugin.start(params, info)
    progress: list[float] = []
    task.progressChanged.connect(progress.append)
    run_to_end(plugin, task)
    assert task.result.ok, task.result.details()
    group = QgsProject.instance().layerTreeRoot().findGroup(params.run_name)
    assert group is not None
    names = [n.layer().name() for n in group.findLayers()]
    assert names == ["centrelines", "major roads", "minor roads", "track roads", "road classes"]
    layers = {n.layer().name(): n.layer() for n in group.findLayers()}
    lines = layers["centrelines"]
    assert lines.featureCount() == 2
    r = lines.renderer()
    assert isinstance(r, QgsCategorizedSymbolRenderer) and r.classAttribute() == "class"
    cats = {c.value(): c.symbol().clone() for c in r.categories()}
    assert set(cats) == {"major", "minor", "track"}
    assert cats["major"].color().name() == "#e6550d"
    assert cats["major"].width() > cats["minor"].width() > cats["track"].width()
    major = layers["major roads"]
    assert major.featureCount() == 1
    assert major.renderer().symbol().color().name() == "#e6550d"
    assert layers["minor roads"].renderer().symbol().color().name() == "#fdae6b"
    ras = layers["road classes"]
    assert isinstance(ras.renderer(), QgsPalettedRasterRenderer)
    assert [c.value for c in ras.renderer().classes()] == [1, 2, 3]
    # Persisted GeoPackage and raster in the output folder, nothing else (no staging folder).
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 2 and files[0].endswith(".gpkg") and files[1].endswith(".tif")
    assert lines.source().startswith(str(out))
    ok = messages(qgis_iface, "success")
    assert (
        ok and "major 0.03 km" in ok[-1] and "minor 0.03 km" in ok[-1] and "area 0.00 km²" in ok[-1]
    )
    assert progress and max(progress) >= 97 and progress == sorted(progress)
    # The engine got the area, CRS and machine-readable options.
    argv = fake_engine.calls()[-1]
    assert argv[:2] == ["predict", str(utm_raster)]
    assert argv[argv.index("--bbox-crs") + 1] == "EPSG:32611"
    assert "--json" in argv and argv[argv.index("--progress") + 1] == "json"


def test_run_without_class_raster_keeps_only_vectors(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out, class_raster=False)
    task = plugin.start(params, info)
    run_to_end(plugin, task)
    assert [p.suffix for p in out.iterdir()] == [".gpkg"]
    assert "road classes" not in [lyr.name() for lyr in project_layers()]


def test_reprojected_canvas_extent_reaches_engine(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRectangle,
    )

    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out)
    layer = project_layers()[0]
    quarter = QgsRectangle(500016.0, 3999968.0, 500032.0, 3999984.0)
    wgs = QgsCoordinateReferenceSystem("EPSG:4326")
    tr = QgsCoordinateTransform(layer.crs(), wgs, QgsProject.instance())
    set_canvas(qgis_iface, layer, "EPSG:4326", tr.transformBoundingBox(quarter))
    dlg = plugin.create_dialog(fetch_models=False)
    dlg.raster_combo.setLayer(layer)
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("canvas"))
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(out))
    params = dlg.parameters()
    task = plugin.start(params, info)
    run_to_end(plugin, task)
    argv = fake_engine.calls()[-1]
    i = argv.index("--bbox")
    bbox = [float(v) for v in argv[i + 1 : i + 5]]
    assert argv[argv.index("--bbox-crs") + 1] == "EPSG:32611"
    assert bbox[2] == pytest.approx(500032.0, abs=0.5) and bbox[1] == pytest.approx(
        3999968.0, abs=0.5
    )
    assert bbox[0] <= 500016.5 and bbox[3] >= 3999983.5
    assert (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) < 0.75 * 32 * 32
    # The class layer covers exactly the bbox the engine was given.
    lines = [lyr for lyr in project_layers() if lyr.name() == "centrelines"][0]
    ext = lines.extent()
    assert ext.xMaximum() == pytest.approx(bbox[2], abs=0.5) and ext.yMinimum() == pytest.approx(
        bbox[1], abs=0.5
    )


def test_cancel_leaves_nothing(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out)
    n_layers = len(project_layers())
    fake_engine.mode("slow")
    task = plugin.start(params, info)
    assert wait_until(lambda: task.progress() > 5, 30), "no progress from the engine"
    staged = list(out.glob(".roadseg-partial-*/*"))
    assert staged, "the engine should have started writing into the staging folder"
    task.cancel()
    run_to_end(plugin, task, 30)
    assert task.result is not None and task.result.cancelled
    assert len(project_layers()) == n_layers
    assert list(out.iterdir()) == []
    info_msgs = messages(qgis_iface, "info")
    assert any("cancelled" in m for m in info_msgs), info_msgs
    assert not messages(qgis_iface, "critical")


def test_engine_failure_in_message_bar_and_log(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path, log_capture
):
    from qgis.core import Qgis

    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out)
    n_layers = len(project_layers())
    fake_engine.mode("fail")
    task = plugin.start(params, info)
    run_to_end(plugin, task)
    crit = messages(qgis_iface, "critical")
    assert len(crit) == 1
    assert "roadseg failed (ModelFileError)" in crit[0] and "is damaged" in crit[0]
    details = [m for m, lv in log_capture.items if lv == int(Qgis.Critical)]
    assert details and "Command:" in details[-1] and "Exit status: 1" in details[-1]
    assert len(project_layers()) == n_layers and list(out.iterdir()) == []
    # QGIS and the plugin keep working: the next run succeeds.
    fake_engine.mode("ok")
    task = plugin.start(params, info)
    run_to_end(plugin, task)
    assert task.result.ok and len(project_layers()) == n_layers + 4


def test_engine_crash_without_json(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out)
    fake_engine.mode("crash")
    task = plugin.start(params, info)
    run_to_end(plugin, task)
    crit = messages(qgis_iface, "critical")
    assert crit and "exit status 3" in crit[-1] and "fake crash" in crit[-1]
    assert list(out.iterdir()) == []


def test_bad_model_file_at_run_time(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    import dataclasses

    out = tmp_path / "out"
    params, info = _params(plugin, qgis_iface, utm_raster, out)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    n_layers = len(project_layers())
    task = plugin.start(dataclasses.replace(params, model=str(bad)), info)
    run_to_end(plugin, task)
    crit = messages(qgis_iface, "critical")
    assert crit and "not a roadseg model file" in crit[-1]
    assert len(project_layers()) == n_layers and list(out.iterdir()) == []


def test_start_with_unwritable_folder(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    import dataclasses

    params, info = _params(plugin, qgis_iface, utm_raster, tmp_path / "out")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert plugin.start(dataclasses.replace(params, output_dir=str(blocker / "sub")), info) is None
    warn = messages(qgis_iface, "warning")
    assert warn and "Cannot write to the output folder" in warn[-1]
    assert plugin.tasks == []


def test_selected_polygons_reach_engine_as_extent_file(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    import json

    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer

    out = tmp_path / "out"
    _params(plugin, qgis_iface, utm_raster, out)
    poly = QgsVectorLayer("Polygon?crs=EPSG:32611", "aoi", "memory")
    f = QgsFeature()
    f.setGeometry(
        QgsGeometry.fromWkt(
            "POLYGON((500004 3999990, 500010 3999990, 500010 3999996, 500004 3999990))"
        )
    )
    poly.dataProvider().addFeatures([f])
    QgsProject.instance().addMapLayer(poly)
    poly.selectAll()
    dlg = plugin.create_dialog(fetch_models=False)
    dlg.raster_combo.setLayer([lyr for lyr in project_layers() if lyr.name() == "imagery"][0])
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("selection"))
    dlg.polygon_combo.setLayer(poly)
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(out))
    task = plugin.start(dlg.parameters())
    run_to_end(plugin, task)
    calls = fake_engine.calls()
    argv = [c for c in calls if c[0] == "predict"][-1]
    content = [c for c in calls if c[0] == "extent-file-content"][-1][1]
    assert json.loads(content)["features"][0]["geometry"]["type"] == "Polygon"
    assert calls[-1][:2] == [
        "models",
        "--json",
    ]  # the dialog had no model info: asked after the run
    assert "--extent-file" in argv and argv[argv.index("--extent-file") + 1].endswith(
        "area.geojson"
    )
    # The staging folder with the area file is gone; only the results remain.
    assert [p.suffix for p in out.iterdir()] == [".gpkg"]
    assert task.model_info is not None and task.model_info["classes"][1] == "major"
