"""End-to-end with the REAL engine: `.venv/bin/roadseg predict` as a subprocess of QGIS.

The model file is a small real roadseg model (Unet-resnet18, random weights with
calibrated output biases, written by make_test_model.py with the engine's own
Python): the engine predicts and vectorises for real; the tests check what the
plugin makes of it. Skipped with a clear reason only when `roadseg predict --help`
fails.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from qgis_helpers import (
    add_raster,
    make_raster,
    messages,
    project_layers,
    run_to_end,
    set_canvas,
    wait_until,
)

pytestmark = pytest.mark.qgis

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def real_scene(real_engine_available, tmp_path_factory):
    """(raster, model file): a 128 px UTM raster and a real model calibrated on it."""
    d = tmp_path_factory.mktemp("real")
    raster = make_raster(d / "scene.tif", 128, 128)
    model = d / "tiny.safetensors"
    py = Path(real_engine_available).with_name("python")
    proc = subprocess.run(
        [
            str(py if py.exists() else sys.executable),
            str(HERE / "make_test_model.py"),
            str(model),
            str(raster),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return raster, model


def _dialog_params(plugin, raster_layer, model, out, area="layer", class_raster=True):
    dlg = plugin.create_dialog(fetch_models=False)  # only the model file is described
    dlg.raster_combo.setLayer(raster_layer)
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData(area))
    dlg.model_combo.setCurrentIndex(dlg.model_combo.findData("__file__"))
    dlg.model_file.setFilePath(str(model))
    assert dlg.loader.wait(120000)
    assert wait_until(lambda: dlg.file_info is not None, 5), dlg.model_label.text()
    dlg.raster_check.setChecked(class_raster)
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(out))
    dlg.device_combo.setCurrentText("cpu")
    return dlg, dlg.parameters()


def test_real_run_adds_styled_layers(plugin, qgis_iface, real_engine, real_scene, tmp_path):
    from qgis.core import QgsCategorizedSymbolRenderer, QgsPalettedRasterRenderer, QgsProject

    raster, model = real_scene
    layer = add_raster(raster, "scene")
    set_canvas(qgis_iface, layer)
    out = tmp_path / "out"
    dlg, params = _dialog_params(plugin, layer, model, out)
    assert (
        "Classes: major, minor" in dlg.model_label.text() and "0.5 m/px" in dlg.model_label.text()
    )
    task = plugin.start(params, dlg.current_model_info())
    run_to_end(plugin, task, 240)
    assert task.result is not None and task.result.ok, (
        task.result.details() if task.result else task.error
    )
    group = QgsProject.instance().layerTreeRoot().findGroup(params.run_name)
    assert group is not None, messages(qgis_iface, "critical")
    layers = {n.layer().name(): n.layer() for n in group.findLayers()}
    assert list(layers) == ["centrelines", "major roads", "minor roads", "road classes"]
    lines = layers["centrelines"]
    assert lines.featureCount() > 0 and layers["major roads"].featureCount() > 0
    for name in ("class", "width_m", "length_m"):
        assert lines.fields().indexOf(name) >= 0, name
    r = lines.renderer()
    assert isinstance(r, QgsCategorizedSymbolRenderer)
    colors = {c.value(): c.symbol().clone().color().name() for c in r.categories()}
    assert colors == {"major": "#e6550d", "minor": "#fdae6b"}
    assert layers["major roads"].renderer().symbol().color().name() == "#e6550d"
    ras = layers["road classes"]
    assert isinstance(ras.renderer(), QgsPalettedRasterRenderer)
    assert ras.extent().xMinimum() == pytest.approx(500000.0) and ras.width() == 128
    ok = messages(qgis_iface, "success")
    assert ok and "major" in ok[-1] and " km" in ok[-1]
    assert sorted(p.suffix for p in out.iterdir()) == [".gpkg", ".tif"]


def test_real_reprojected_canvas_extent(plugin, qgis_iface, real_engine, real_scene, tmp_path):
    """Canvas in EPSG:4326 over the raster's lower-right part → a class raster of just that."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRectangle,
    )

    raster, model = real_scene
    layer = add_raster(raster, "scene")
    part = QgsRectangle(
        500032.0, 3999936.0, 500064.0, 3999968.0
    )  # 64 × 64 px inside the 128 px raster
    tr = QgsCoordinateTransform(
        layer.crs(), QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()
    )
    set_canvas(qgis_iface, layer, "EPSG:4326", tr.transformBoundingBox(part))
    out = tmp_path / "out"
    dlg, params = _dialog_params(plugin, layer, model, out, area="canvas")
    params = dataclasses.replace(
        params, outputs=dataclasses.replace(params.outputs, polygons=False, centrelines=False)
    )
    task = plugin.start(params, dlg.current_model_info())
    run_to_end(plugin, task, 240)
    assert task.result.ok, task.result.details()
    ras = [lyr for lyr in project_layers() if lyr.name() == "road classes"][0]
    ext = ras.extent()
    minx, miny, maxx, maxy = params.bbox
    px = 0.5
    # The engine crops to the bbox on the input grid: within one pixel of what the plugin sent.
    assert ext.xMinimum() == pytest.approx(minx, abs=px) and ext.xMaximum() == pytest.approx(
        maxx, abs=px
    )
    assert ext.yMinimum() == pytest.approx(miny, abs=px) and ext.yMaximum() == pytest.approx(
        maxy, abs=px
    )
    # …and that bbox is the canvas area in UTM (the 4326 canvas contains the part, padded to
    # the canvas's aspect ratio).
    assert minx <= part.xMinimum() + px and maxx >= part.xMaximum() - px
    assert miny <= part.yMinimum() + px and maxy >= part.yMaximum() - px
    assert ext.width() * ext.height() < 0.6 * 64 * 64
    assert ras.crs().authid() == "EPSG:32611"


def test_real_bad_model_file(plugin, qgis_iface, real_engine, real_scene, tmp_path):
    raster, model = real_scene
    layer = add_raster(raster, "scene")
    set_canvas(qgis_iface, layer)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 64)
    dlg = plugin.create_dialog(fetch_models=False)  # only the model file is described
    dlg.raster_combo.setLayer(layer)
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("layer"))
    dlg.model_combo.setCurrentIndex(dlg.model_combo.findData("__file__"))
    dlg.model_file.setFilePath(str(bad))
    assert dlg.loader.wait(120000) and wait_until(lambda: dlg.loader.done, 5)
    assert "This model file cannot be used" in dlg.model_label.text()
    dlg.temp_check.setChecked(False)
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    n = len(project_layers())
    task = plugin.start(dlg.parameters())
    run_to_end(plugin, task, 240)
    crit = messages(qgis_iface, "critical")
    assert (
        crit and "roadseg failed (ModelFileError)" in crit[-1] and "broken.safetensors" in crit[-1]
    )
    assert len(project_layers()) == n and list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
def test_real_cancel_leaves_nothing(plugin, qgis_iface, real_engine, real_scene, tmp_path):
    """Cancel a real run mid-way: the engine stops, no layer, no file."""
    raster, model = real_scene
    big = make_raster(tmp_path / "big.tif", 1536, 1536)
    layer = add_raster(big, "big")
    out = tmp_path / "out"
    dlg, params = _dialog_params(plugin, layer, model, out)
    n = len(project_layers())
    task = plugin.start(params, dlg.current_model_info())
    assert wait_until(lambda: task.progress() > 5 or task in plugin.finished_tasks, 120)
    assert task not in plugin.finished_tasks, "the run ended before it could be cancelled"
    task.cancel()
    run_to_end(plugin, task, 60)
    assert task.result is not None and task.result.cancelled
    assert len(project_layers()) == n and list(out.iterdir()) == []
    assert any("cancelled" in m for m in messages(qgis_iface, "info"))


@pytest.mark.slow
def test_real_processing_segment_roads(plugin, qgis_processing, real_engine, real_scene, tmp_path):
    import processing

    raster, model = real_scene
    res = processing.run(
        "roadseg:segmentroads",
        {
            "INPUT": str(raster),
            "MODEL": str(model),
            "DEVICE": 1,
            "EXTENT": "500000,500040,3999960,4000000 [EPSG:32611]",
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
    )
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    ras = QgsRasterLayer(res["OUTPUT_RASTER"], "c")
    assert ras.isValid() and ras.width() == 80 and ras.height() == 80
    lines = QgsVectorLayer(res["CENTERLINES"], "c", "ogr")
    assert lines.isValid()
    assert any(uri.endswith("layername=roads_major") for uri in res["LAYERS"])
    vec = processing.run(
        "roadseg:vectorizeroads",
        {"INPUT": res["OUTPUT_RASTER"], "OUTPUT": str(tmp_path / "v.gpkg")},
    )
    assert QgsVectorLayer(vec["CENTERLINES"], "v", "ogr").isValid()


@pytest.mark.slow
def test_real_processing_train_model(plugin, qgis_processing, real_engine, tmp_path):
    """Train road model through Processing with the real engine (tiny run), then describe it."""
    import processing
    from qgis.core import QgsVectorLayer

    scene = tmp_path / "scene"
    subprocess.run(
        [real_engine, "synth", str(scene), "--size", "256", "--seed", "5"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    labels = QgsVectorLayer(str(scene / "roads.gpkg"), "roads", "ogr")
    assert labels.isValid()
    res = processing.run(
        "roadseg:trainmodel",
        {
            "INPUT": str(scene / "image.tif"),
            "LABELS": labels,
            "EPOCHS": 1,
            "DEVICE": 1,
            "TILE": 64,
            "BATCH_SIZE": 2,
            "SAMPLES_PER_EPOCH": 8,
            "OUTPUT": str(tmp_path / "run"),
        },
    )
    model = Path(res["MODEL"])
    assert model.is_file() and model.parent == tmp_path / "run"
    out = subprocess.run(
        [real_engine, "models", str(model), "--json"], capture_output=True, text=True, timeout=300
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["classes"][0] == "background" and len(info["classes"]) >= 2


@pytest.mark.slow
def test_real_geographic_raster_negative_coordinates(
    plugin, qgis_iface, real_engine, real_scene, tmp_path
):
    """An EPSG:4326 raster west of Greenwich: negative --bbox values reach the real CLI intact."""
    _raster, model = real_scene
    path = make_raster(
        tmp_path / "wgs.tif", 64, 64, epsg=4326, origin=(-115.2, 36.2), pixel=0.00001
    )
    layer = add_raster(path, "wgs")
    set_canvas(qgis_iface, layer)
    dlg, params = _dialog_params(plugin, layer, model, tmp_path / "out")
    assert params.bbox_crs == "EPSG:4326" and params.bbox[0] == pytest.approx(-115.2)
    assert 0.0039 < params.area_km2 < 0.0042  # 57.5 m × 71 m (0.00064° at 36.2° N)
    params = dataclasses.replace(
        params, outputs=dataclasses.replace(params.outputs, polygons=False, centrelines=False)
    )
    task = plugin.start(params, dlg.current_model_info())
    run_to_end(plugin, task, 240)
    assert task.result.ok, task.result.details()
    ras = [lyr for lyr in project_layers() if lyr.name() == "road classes"][0]
    assert ras.crs().authid() == "EPSG:4326"
    assert ras.extent().xMinimum() == pytest.approx(-115.2, abs=1e-5)
