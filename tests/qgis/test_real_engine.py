"""Map roads end to end with the REAL engine: where results go, bad models, cancel, 4326.

The model file is a small real roadseg model (Unet-resnet18, random weights with
calibrated output biases, written by make_test_model.py with the engine's own
Python); the embedded default model is the real one. Skipped with a clear reason
only when `roadseg predict --help` fails.
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from pathlib import Path

import pytest
from qgis_helpers import (
    add_raster,
    choose,
    make_raster,
    message_buttons,
    messages,
    project_layers,
    run_to_end,
    set_canvas,
    summary_level,
    wait_until,
)

pytestmark = pytest.mark.qgis

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_dir():
    """A project folder outside the temporary folder (QGIS marks layers in /tmp temporary)."""
    folder = REPO / "build" / f"qgis-test-project-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    yield folder
    from qgis.core import QgsProject

    QgsProject.instance().clear()
    shutil.rmtree(folder, ignore_errors=True)


def _dialog_params(plugin, raster_layer, model, out, area="layer", class_raster=True):
    dlg = plugin.create_dialog(fetch_models=False)  # only the model file is described
    dlg.raster_combo.setLayer(raster_layer)
    choose(dlg.area_combo, area)
    choose(dlg.model_combo, "__file__")
    dlg.model_file.setFilePath(str(model))
    assert dlg.file_loader.wait(120000)
    assert wait_until(lambda: dlg.file_info is not None, 5), dlg.model_label.text()
    dlg.raster_check.setChecked(class_raster)
    dlg.output_widget.setFilePath(str(out))
    choose(dlg.device_combo, "cpu")
    return dlg, dlg.parameters()


def test_results_saved_next_to_the_project(
    plugin, qgis_iface, real_engine, real_scene, project_dir, monkeypatch
):
    """Toolbar → dialog → run: results in <project>/roadseg/<run>/, kept, named, remembered."""
    from qgis.core import QgsProject
    from roadseg_qgis.gui import dialog as dialog_mod
    from roadseg_qgis.gui import messages as messages_mod

    raster, model = real_scene
    project = QgsProject.instance()
    layer = add_raster(raster, "scene")
    set_canvas(qgis_iface, layer)
    assert project.write(str(project_dir / "city.qgz"))
    choices = {}

    def fake_exec(dlg):  # the user's choices, then Run
        choose(dlg.area_combo, "layer")
        choose(dlg.model_combo, "__file__")
        dlg.model_file.setFilePath(str(model))
        dlg.file_loader.wait(120000)
        wait_until(lambda: dlg.file_info is not None, 5)
        dlg.raster_check.setChecked(True)
        dlg.tile_spin.setValue(64)
        choices["output"] = dlg.output_widget.filePath()
        dlg.accept()
        return dlg.result()

    monkeypatch.setattr(dialog_mod.MapRoadsDialog, "exec", fake_exec)
    plugin.run()
    task = plugin.last_task
    assert task is not None, messages(qgis_iface, "critical") + messages(qgis_iface, "warning")
    run_to_end(plugin, task, 300)
    assert task.result.ok, task.result.details()
    results = project_dir / "roadseg"
    assert choices["output"] == str(results)
    assert task.paths.run_dir.parent == results
    assert sorted(p.name for p in task.paths.run_dir.iterdir()) == [
        "road_classes.tif",
        "roads.gpkg",
    ]
    group = project.layerTreeRoot().findGroup(task.params.run_name)
    assert group is not None and "(tiny)" in group.name()
    for node in group.findLayers():
        lyr = node.layer()
        assert not lyr.isTemporary(), lyr.name()
        assert Path(lyr.source().split("|")[0]).parent == task.paths.run_dir
    level = summary_level(task)  # warning where the model was unsure (the tiny test model)
    ok = messages(qgis_iface, level)
    assert ok and f"saved in {task.paths.vectors}" in ok[-1]
    opened = []
    monkeypatch.setattr(messages_mod, "open_folder", lambda folder: opened.append(Path(folder)))
    message_buttons(qgis_iface, level)["Open folder"].click()
    assert opened == [task.paths.run_dir]
    # The next dialog starts from the same choices.
    dlg = plugin.create_dialog(fetch_models=False)
    assert dlg.area_combo.currentData() == "layer" and dlg.model_combo.currentData() == "__file__"
    assert dlg.model_file.filePath() == str(model) and dlg.tile_spin.value() == 64
    assert dlg.raster_check.isChecked() and dlg.output_widget.filePath() == str(results)


def test_real_bad_model_file(plugin, qgis_iface, real_engine, real_scene, tmp_path):
    raster, model = real_scene
    layer = add_raster(raster, "scene")
    set_canvas(qgis_iface, layer)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 64)
    dlg = plugin.create_dialog(fetch_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    choose(dlg.model_combo, "__file__")
    dlg.model_file.setFilePath(str(bad))
    assert dlg.file_loader.wait(120000) and wait_until(lambda: dlg.file_loader.done, 5)
    assert "This model file cannot be used" in dlg.model_label.text()
    assert "This model file cannot be used" in dlg.error_label.text()
    assert not dlg.run_button.isEnabled()
    # Started anyway (e.g. from a script): the engine's own message, nothing left behind.
    choose(dlg.model_combo, "default")
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    params = dataclasses.replace(dlg.parameters(), model=str(bad))
    n = len(project_layers())
    task = plugin.start(params)
    run_to_end(plugin, task, 300)
    crit = messages(qgis_iface, "critical")
    assert (
        crit and "roadseg failed (ModelFileError)" in crit[-1] and "broken.safetensors" in crit[-1]
    )
    assert len(project_layers()) == n and list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
def test_real_cancel_leaves_nothing(plugin, qgis_iface, real_engine, real_scene, tmp_path):
    """Cancel a real run mid-way: the engine stops, no layer, no file, reported as cancelled."""
    from qgis.core import QgsTask

    _raster, model = real_scene
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
    assert task.cancelled and task.status() == QgsTask.TaskStatus.Complete
    assert len(project_layers()) == n and list(out.iterdir()) == []
    assert any("cancelled" in m for m in messages(qgis_iface, "info"))
    assert not messages(qgis_iface, "critical")


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


def test_no_roads_found_adds_no_empty_layer(plugin, qgis_iface, real_engine, tmp_path):
    """Imagery without roads: no empty layer, no group, and the summary says so."""
    from osgeo import gdal, osr
    from qgis.core import QgsProject

    path = tmp_path / "field.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 96, 96, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500_000.0, 0.5, 0, 4_000_000.0, 0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32611)
    ds.SetProjection(srs.ExportToWkt())
    for b, value in enumerate((96, 128, 64), start=1):
        ds.GetRasterBand(b).Fill(value)  # an even green field
    ds = None
    layer = add_raster(path, "field")
    set_canvas(qgis_iface, layer)
    dlg = plugin.create_dialog(fetch_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, "layer")
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    n = len(project_layers())
    task = plugin.start(dlg.parameters())
    run_to_end(plugin, task, 300)
    assert task.result.ok, task.result.details()
    assert len(project_layers()) == n  # no empty "track roads"
    assert QgsProject.instance().layerTreeRoot().findGroup(task.params.run_name) is None
    ok = messages(qgis_iface, "success")
    assert ok and "No roads found" in ok[-1] and "no layer was added" in ok[-1]
    assert "Open folder" in message_buttons(qgis_iface, "success")
