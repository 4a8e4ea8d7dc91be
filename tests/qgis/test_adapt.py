"""Adapt model and Retrain from corrections in the real QGIS with the REAL engine.

The scene is a 256 px `roadseg synth` image with its roads; the starting model is the
tiny real model of make_test_model.py (Unet-resnet18, 64 px tiles), so a few fixed
training steps (the engine's ``--steps``) take seconds. The dialogs, the task, the
Processing algorithm, the model list and its QgsSettings are the plugin's own.
"""

from __future__ import annotations

import dataclasses
import html
import json
import subprocess
from pathlib import Path

import pytest
from qgis_helpers import add_raster, choose, messages, run_to_end, set_canvas, wait_until

pytestmark = pytest.mark.qgis

#: OpenStreetMap ``highway`` values standing in for the scene's classes.
OSM = {"major": "primary", "minor": "residential", "track": "track"}


@pytest.fixture(scope="session")
def adapt_scene(real_engine_available, tmp_path_factory):
    """(image, roads GeoPackage, tiny model file): a 256 px scene at 0.5 m in UTM 11N."""
    from conftest import scene_and_tiny_model

    d = tmp_path_factory.mktemp("adapt")
    image, model = scene_and_tiny_model(real_engine_available, d, 256)
    return image, d / "scene" / "roads.gpkg", model


def osm_layer(roads: Path):
    """A memory layer of the scene's roads with OpenStreetMap ``highway`` values (unsaved)."""
    from qgis.core import QgsFeature, QgsField, QgsProject, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    src = QgsVectorLayer(str(roads), "synth", "ogr")
    assert src.isValid() and src.featureCount() >= 3
    layer = QgsVectorLayer(f"MultiLineString?crs={src.crs().authid()}", "osm roads", "memory")
    layer.dataProvider().addAttributes([QgsField("highway", QVariant.String)])
    layer.updateFields()
    feats = []
    for f in src.getFeatures():
        g = QgsFeature(layer.fields())
        g.setGeometry(f.geometry())
        g["highway"] = OSM[str(f["road_class"])]
        feats.append(g)
    layer.dataProvider().addFeatures(feats)
    QgsProject.instance().addMapLayer(layer)
    return layer


def _choose(dlg, raster, labels, model, area="labels", name=None):
    dlg.raster_combo.setLayer(raster)
    dlg.labels_combo.setLayer(labels)
    choose(dlg.area_combo, area)
    if model is not None:
        choose(dlg.model_combo, "__file__")
        dlg.model_file.setFilePath(str(model))
    if name:
        dlg.name_edit.setText(name)
    dlg.refresh()


def _engine_json(*args):
    from conftest import REAL_ENGINE, real_env

    out = subprocess.run(
        [str(REAL_ENGINE), *map(str, args), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=real_env(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_adapt_model_listed_in_map_roads_kept_and_removable(
    plugin, qgis_iface, real_engine, adapt_scene, models_dir, tmp_path
):
    """Adapt from OSM-style roads: before → after shown, model named in Map roads, removable."""
    from qgis.core import QgsSettings
    from roadseg_qgis.gui import prefs

    image, roads, model = adapt_scene
    raster = add_raster(image, "scene")
    set_canvas(qgis_iface, raster)
    labels = osm_layer(roads)
    dlg = plugin.create_adapt_dialog()
    assert dlg is not None, messages(qgis_iface, "warning") + messages(qgis_iface, "critical")
    _choose(dlg, raster, labels, model)
    assert dlg.field_combo.currentField() == "highway"  # OpenStreetMap recognised
    assert dlg.name_edit.text() == "scene adapted"
    dlg.minutes_spin.setValue(2)
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    dlg.accept()
    assert dlg.result() == 1
    work = tmp_path / "work"
    work.mkdir()
    params = dlg.parameters(work)
    assert (params.class_field, params.area_path, params.minutes) == ("highway", None, 2.0)
    assert params.model == str(model) and Path(params.out_path).parent == models_dir
    # A fixed, short run (the engine's --steps); min gain 0 keeps a model that is not worse.
    params = dataclasses.replace(params, steps=6, min_gain=0.0)
    task = plugin.start_adapt(params, work)
    bar = []
    task.progressChanged.connect(bar.append)
    run_to_end(plugin, task, 900)
    assert task.result is not None and task.result.ok, task.result.details()
    res = task.result.result
    rule = res["data"]["rasters"][0]["layer"]["class_rule"]
    assert rule["field"] == "highway"
    features = res["data"]["rasters"][0]["layer"]["features"]
    assert sum(features.values()) == 3 and features["major"] == features["minor"] == 1
    assert task.outcome.adapted and task.outcome.after >= task.outcome.before
    assert bar and max(bar) > 90 and bar == sorted(bar)
    assert not work.exists()  # exported roads removed
    ok = messages(qgis_iface, "success")
    assert ok and "'scene adapted'" in ok[-1] and "→" in ok[-1], ok

    (entry,) = prefs.adapted_models()
    assert (entry.name, entry.parent, entry.raster) == ("scene adapted", str(model), "scene")
    assert Path(entry.path).is_file() and Path(entry.path).parent == models_dir
    assert (entry.before, entry.after) == (task.outcome.before, task.outcome.after)
    info = _engine_json("models", "--info", entry.path)
    assert info["classes"][0] == "background"
    # Kept across restarts: in the QGIS settings file, read again by a new dialog.
    assert "scene adapted" in str(QgsSettings().value("roadseg/adapted_models"))
    mdlg = plugin.create_dialog(fetch_models=False)
    idx = mdlg.model_combo.findData(entry.path)
    assert idx >= 0 and mdlg.model_combo.itemText(idx).startswith("Adapted: scene adapted (road")
    assert mdlg.model_combo.currentData() == entry.path  # the new model is chosen next time
    assert mdlg.file_loader.wait(120000) and wait_until(lambda: mdlg.file_info, 10)
    shown = html.unescape(mdlg.model_label.text())
    assert f"Adapted from tiny on 'scene': road IoU on held-out roads {entry.before:.2f}" in shown
    assert mdlg.remove_model_button.isEnabled()
    mdlg.remove_model_button.click()
    assert mdlg.model_combo.findData(entry.path) < 0
    assert mdlg.model_combo.currentData() == "default"
    assert prefs.adapted_models() == [] and not Path(entry.path).exists()
    assert not plugin.create_dialog(fetch_models=False).remove_model_button.isEnabled()


def test_retrain_from_corrections_after_map_roads(
    plugin, qgis_iface, real_engine, adapt_scene, models_dir, tmp_path
):
    """Map roads → edit the centrelines (unsaved) → checked polygons → Retrain from corrections."""
    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsRectangle, QgsVectorLayer

    image, roads, model = adapt_scene
    raster = add_raster(image, "scene")
    set_canvas(qgis_iface, raster)
    mdlg = plugin.create_dialog()  # the embedded default model maps the scene's roads
    mdlg.raster_combo.setLayer(raster)
    choose(mdlg.area_combo, "layer")
    assert mdlg.loader.wait(120000) and wait_until(lambda: mdlg.current_model_info(), 10)
    mdlg.output_widget.setFilePath(str(tmp_path / "results"))
    choose(mdlg.device_combo, "cpu")
    mdlg.accept()
    task = plugin.start(mdlg.params, mdlg.current_model_info())
    run_to_end(plugin, task, 300)
    assert task.result.ok, task.result.details()
    lines = plugin._last_centrelines()
    assert lines is not None and lines.featureCount() >= 2

    # The corrections: delete a false road, draw a missed one; the edits are not saved.
    truth = QgsVectorLayer(str(roads), "truth", "ogr")
    missed = next(truth.getFeatures()).geometry()
    assert lines.startEditing()
    first = sorted(lines.allFeatureIds())[0]
    assert lines.deleteFeature(first)
    f = QgsFeature(lines.fields())
    f.setGeometry(QgsGeometry(missed))
    f["class"] = "minor"
    assert lines.addFeature(f)
    edited = lines.featureCount()
    # The checked area: the selected one of two polygons (the left four fifths of the scene).
    ext = raster.extent()
    checked = QgsVectorLayer(f"Polygon?crs={raster.crs().authid()}", "checked", "memory")
    polys = []
    for x0, x1 in ((0.0, 0.8), (0.85, 0.95)):
        p = QgsFeature()
        p.setGeometry(
            QgsGeometry.fromRect(
                QgsRectangle(
                    ext.xMinimum() + x0 * ext.width(),
                    ext.yMinimum(),
                    ext.xMinimum() + x1 * ext.width(),
                    ext.yMaximum(),
                )
            )
        )
        polys.append(p)
    checked.dataProvider().addFeatures(polys)
    QgsProject.instance().addMapLayer(checked)
    checked.selectByIds([sorted(checked.allFeatureIds())[0]])

    dlg = plugin.create_adapt_dialog(retrain=True)
    assert dlg.windowTitle() == "Retrain from corrections"
    assert dlg.labels_combo.currentLayer() is lines  # the last Map roads centrelines
    assert dlg.field_combo.currentField() == "class"
    assert dlg.start_model() == "default"  # the model that mapped them
    assert dlg.area_combo.currentData() == "canvas"  # "the current extent" first
    assert dlg.name_edit.text() == "default model retrained"
    # From the tiny model instead (a few steps of the default model would take minutes here).
    choose(dlg.model_combo, "__file__")
    dlg.model_file.setFilePath(str(model))
    assert dlg.name_edit.text() == "tiny retrained"
    choose(dlg.area_combo, "selection")
    dlg.polygon_combo.setLayer(checked)
    dlg.refresh()
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    dlg.accept()
    work = tmp_path / "work"
    work.mkdir()
    params = dataclasses.replace(dlg.parameters(work), steps=2)
    assert params.mode == "retrain" and params.area_path.endswith(".geojson")
    task = plugin.start_adapt(params, work)
    run_to_end(plugin, task, 900)
    assert task.result.ok, task.result.details()
    res = task.result.result
    data = res["data"]["rasters"][0]
    assert sum(data["layer"]["features"].values()) == edited  # the unsaved edits were used
    assert data["layer"]["features"].get("minor", 0) >= 1
    assert data["area_m2"] == pytest.approx(0.8 * ext.width() * ext.height(), rel=0.02)
    assert res["parent"]["model"] == str(model)
    shown = messages(qgis_iface, "success") + messages(qgis_iface, "warning")
    assert any("held-out roads" in m for m in shown), shown
    lines.rollBack()


def test_cancel_adapt_leaves_no_model(
    plugin, qgis_iface, real_engine, adapt_scene, models_dir, monkeypatch
):
    """Toolbar action → dialog → run → cancel: no model file, nothing listed, said so."""
    from roadseg_qgis.gui import adapt_dialog, prefs

    image, roads, model = adapt_scene
    raster = add_raster(image, "scene")
    set_canvas(qgis_iface, raster)
    labels = osm_layer(roads)

    def fake_exec(dlg):
        _choose(dlg, raster, labels, model, area="canvas")
        dlg.minutes_spin.setValue(3)
        dlg.accept()
        return dlg.result()

    monkeypatch.setattr(adapt_dialog.AdaptDialog, "exec", fake_exec)
    plugin.actions["adapt"].trigger()
    task = plugin.last_task
    assert task is not None, messages(qgis_iface, "warning") + messages(qgis_iface, "critical")
    assert task.argv[task.argv.index("--minutes") + 1] == "3"
    assert wait_until(lambda: task.progress() > 0, 300), "the engine never reported progress"
    task.cancel()
    run_to_end(plugin, task, 120)
    assert task.cancelled
    assert any("cancelled" in m for m in messages(qgis_iface, "info"))
    assert prefs.adapted_models() == []
    assert not Path(task.params.out_path).exists() and not task.work_dir.exists()


def test_adapt_dialog_problems(plugin, qgis_iface, real_engine, adapt_scene, models_dir):
    """Each wrong choice is named in red and Run stays disabled until it is fixed."""
    from qgis.core import QgsProject, QgsVectorLayer
    from roadseg_qgis.core.adapted import AdaptedModel
    from roadseg_qgis.gui import prefs

    image, roads, model = adapt_scene
    raster = add_raster(image, "scene")
    set_canvas(qgis_iface, raster)
    dlg = plugin.create_adapt_dialog()
    assert "roads you have" in dlg.error_label.text() and not dlg.run_button.isEnabled()
    labels = osm_layer(roads)
    _choose(dlg, raster, labels, None)
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    empty = QgsVectorLayer(f"Polygon?crs={raster.crs().authid()}", "nothing", "memory")
    QgsProject.instance().addMapLayer(empty)
    choose(dlg.area_combo, "selection")
    dlg.polygon_combo.setLayer(empty)
    assert "No polygons are selected in 'nothing'" in dlg.error_label.text()
    assert not dlg.run_button.isEnabled()
    choose(dlg.area_combo, "labels")
    choose(dlg.model_combo, "__file__")
    dlg.model_file.setFilePath(str(model) + ".missing")
    assert "does not exist" in dlg.error_label.text()
    choose(dlg.model_combo, "default")
    prefs.add_adapted_model(AdaptedModel("mine", str(model)))
    dlg.name_edit.setText("mine")
    assert "already in the list" in dlg.error_label.text()
    dlg.name_edit.setText("")
    assert "name" in dlg.error_label.text() and not dlg.run_button.isEnabled()
    dlg.name_edit.setText("mine 2")
    assert dlg.run_button.isEnabled(), dlg.error_label.text()


def test_processing_adapt_model_says_when_the_start_is_kept(
    provider_alg, real_engine, adapt_scene, models_dir, tmp_path
):
    """Processing ▸ Adapt model: not better by the minimum gain, so the start is kept and said."""
    import processing
    from roadseg_qgis.gui import prefs
    from test_processing import Feedback

    image, roads, model = adapt_scene
    raster = add_raster(image, "scene")
    feedback = Feedback()
    ext = raster.extent()
    extent = (
        f"{ext.xMinimum()},{ext.xMinimum() + ext.width() * 0.75},"
        f"{ext.yMinimum()},{ext.yMaximum()} [{raster.crs().authid()}]"
    )
    res = processing.run(
        "roadseg:adaptmodel",
        {
            "INPUT": raster,
            "LABELS": str(roads),
            "EXTENT": extent,
            "MODEL": str(model),
            "MINUTES": 1,
            "STEPS": 2,
            "DEVICE": 1,
            "MIN_GAIN": 1.0,  # no run gains a whole road IoU: the starting model stays
        },
        feedback=feedback,
    )
    assert res["KEPT"] == "starting", res
    assert 0 <= res["ROAD_IOU_BEFORE"] <= 1 and 0 <= res["ROAD_IOU_AFTER"] <= 1
    assert any("was not better than tiny" in line for line in feedback.infos), feedback.infos
    assert any("--min-gain 1 " in c and "--area " in c for c in feedback.commands)
    assert res["MODEL"] == str(model)  # use the starting model: no copy of it is kept
    assert prefs.adapted_models() == [] and not any(models_dir.glob("*.safetensors"))


def test_processing_adapt_replaces_the_file_the_user_chose(
    provider_alg, real_engine, adapt_scene, models_dir, tmp_path
):
    """A Processing output file that exists is replaced (QGIS asked), not refused by the engine."""
    import processing
    from test_processing import Feedback

    image, roads, model = adapt_scene
    raster = add_raster(image, "scene")
    out = tmp_path / "chosen.safetensors"
    out.write_bytes(b"an earlier model")
    feedback = Feedback()
    res = processing.run(
        "roadseg:adaptmodel",
        {
            "INPUT": raster,
            "LABELS": str(roads),
            "MODEL": str(model),
            "STEPS": 2,
            "DEVICE": 1,
            "MIN_GAIN": 1.0,
            "OUTPUT": str(out),
        },
        feedback=feedback,
    )
    assert res["MODEL"] == str(out) and out.read_bytes() != b"an earlier model"
    assert any(" --overwrite" in c for c in feedback.commands), feedback.commands


@pytest.fixture
def provider_alg(plugin, qgis_processing):
    return plugin.provider
