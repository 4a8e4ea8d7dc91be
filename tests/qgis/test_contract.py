"""The CLI ↔ plugin contract with the REAL engine: every command line Map roads can build.

Map roads builds ``roadseg predict`` from three choices: the area (map extent, whole
raster, all polygons of a layer, selected polygons: ``--bbox`` or ``--extent-file``),
the outputs (``--vectorize`` or not) and the model (embedded default or a file). Each
case goes through the real dialog, the real task and the real engine subprocess; the
default run covers every area with both models and every engine-visible shape (area
kind × vectorise × model); the slow run adds the rest of the product. A combination
the engine refuses can no longer pass.
"""

from __future__ import annotations

import importlib
import itertools
import json

import pytest
from qgis_helpers import (
    add_raster,
    choose,
    message_buttons,
    messages,
    run_to_end,
    set_canvas,
    summary_level,
    wait_until,
)

pytestmark = pytest.mark.qgis

VEC = (True, True, False)  # road polygons + centrelines
RAS = (False, False, True)  # class raster only
ALL = (True, True, True)
LINES = (False, True, False)
OPTIONS = {
    "device": "cpu",
    "tile": 64,
    "overlap": 16,
    "batch": 2,
    "working_gsd": 0.4,
    "road_threshold": 0.55,  # the tiny model's network vanishes below its 0.5 here
}

#: The default cases: each area with each model; every (area kind, vectorise, model) shape.
CASES = [
    ("canvas", "default", VEC, {}),
    ("layer", "default", RAS, {}),
    ("polygons", "default", ALL, {}),
    ("selection", "default", RAS, {}),
    ("canvas", "file", RAS, OPTIONS),
    ("layer", "file", ALL, {}),
    ("polygons", "file", RAS, {}),
    ("selection", "file", LINES, OPTIONS),
]
_DEFAULT = {(a, m, o) for a, m, o, _ in CASES}
SLOW_CASES = [
    pytest.param(
        a, m, o, {}, marks=pytest.mark.slow, id=f"{a}-{m}-{''.join('x' if v else '_' for v in o)}"
    )
    for a, m, o in itertools.product(
        ("canvas", "layer", "polygons", "selection"), ("default", "file"), (VEC, RAS, ALL, LINES)
    )
    if (a, m, o) not in _DEFAULT
]


def _aoi_layer(raster_layer):
    """Two polygons over the scene in EPSG:4326: a big one top-left, a small one bottom-right.

    Selected-polygon runs select the big one (the small one may hold no road)."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsFeature,
        QgsGeometry,
        QgsProject,
        QgsRectangle,
        QgsVectorLayer,
    )

    ext = raster_layer.extent()
    w, h = ext.width(), ext.height()
    x0, y0 = ext.xMinimum(), ext.yMinimum()
    big = QgsRectangle(x0 + 0.05 * w, y0 + 0.45 * h, x0 + 0.55 * w, y0 + 0.95 * h)
    small = QgsRectangle(x0 + 0.6 * w, y0 + 0.1 * h, x0 + 0.9 * w, y0 + 0.4 * h)
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "aoi", "memory")
    tr = QgsCoordinateTransform(
        raster_layer.crs(), QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()
    )
    feats = []
    for rect in (big, small):
        g = QgsGeometry.fromRect(rect)
        g.transform(tr)
        f = QgsFeature()
        f.setGeometry(g)
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    QgsProject.instance().addMapLayer(layer)
    return layer, big, small


def _pixel(path, x, y):
    from osgeo import gdal

    ds = gdal.Open(str(path))
    gt = ds.GetGeoTransform()
    col, row = int((x - gt[0]) / gt[1]), int((y - gt[3]) / gt[5])
    value = ds.GetRasterBand(1).ReadRaster(col, row, 1, 1)[0]
    ds = None
    return value


def _extent(path):
    from osgeo import gdal

    ds = gdal.Open(str(path))
    gt = ds.GetGeoTransform()
    out = (gt[0], gt[3] + ds.RasterYSize * gt[5], gt[0] + ds.RasterXSize * gt[1], gt[3])
    ds = None
    return out


def _map_roads(plugin, iface, scene, area, model, outputs, options, out_dir):
    """Choose everything in the real dialog and start the run; returns (dialog, task, extras)."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRectangle,
    )

    raster, model_file = scene
    layer = add_raster(raster, "scene")
    poly, big, small = _aoi_layer(layer)
    ext = layer.extent()
    middle = QgsRectangle(
        ext.xMinimum() + 0.25 * ext.width(),
        ext.yMinimum() + 0.25 * ext.height(),
        ext.xMinimum() + 0.75 * ext.width(),
        ext.yMinimum() + 0.75 * ext.height(),
    )
    tr = QgsCoordinateTransform(
        layer.crs(), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    set_canvas(iface, layer, "EPSG:3857", tr.transformBoundingBox(middle))
    dlg = plugin.create_dialog(fetch_models=model == "default")
    assert dlg is not None, messages(iface, "critical")
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, area)
    if area in ("polygons", "selection"):
        dlg.polygon_combo.setLayer(poly)
        if area == "selection":
            poly.selectByIds([sorted(poly.allFeatureIds())[0]])  # the big one
    if model == "default":
        assert dlg.loader.wait(120000) and wait_until(lambda: dlg.current_model_info(), 10)
        assert "major —" in dlg.model_label.text(), dlg.model_label.text()
    else:
        choose(dlg.model_combo, "__file__")
        dlg.model_file.setFilePath(str(model_file))
        assert dlg.file_loader.wait(120000) and wait_until(lambda: dlg.file_info, 10)
    dlg.polygons_check.setChecked(outputs[0])
    dlg.centrelines_check.setChecked(outputs[1])
    dlg.raster_check.setChecked(outputs[2])
    dlg.output_widget.setFilePath(str(out_dir))
    if options:
        choose(dlg.device_combo, options["device"])
        dlg.tile_spin.setValue(options["tile"])
        dlg.overlap_spin.setValue(options["overlap"])
        dlg.batch_spin.setValue(options["batch"])
        dlg.working_gsd_spin.setValue(options["working_gsd"])
        dlg.threshold_spin.setValue(options["road_threshold"])
    dlg.refresh()
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    dlg.accept()
    assert dlg.result() == 1 and dlg.params is not None, dlg.last_error
    task = plugin.start(dlg.params, dlg.current_model_info())
    assert task is not None, messages(iface, "warning") + messages(iface, "critical")
    return dlg, task, {"layer": layer, "middle": middle, "big": big, "small": small}


@pytest.mark.parametrize(("area", "model", "outputs", "options"), [*CASES, *SLOW_CASES])
def test_map_roads_with_the_real_engine(
    plugin, qgis_iface, real_engine, real_scene, tmp_path, area, model, outputs, options
):
    from qgis.core import QgsPalettedRasterRenderer, QgsProject, QgsRasterLayer, QgsVectorLayer

    out = tmp_path / "results"
    dlg, task, extra = _map_roads(
        plugin, qgis_iface, real_scene, area, model, outputs, options, out
    )
    run_to_end(plugin, task, 300)
    assert task.result is not None and task.result.ok, (
        task.result.details() if task.result else task.error
    )
    argv = task.argv
    polygons = area in ("polygons", "selection")
    # The engine takes --bbox or --extent-file, never both (the bug this test guards).
    assert ("--extent-file" in argv) == polygons and ("--bbox" in argv) != polygons
    assert ("--vectorize" in argv) == (outputs[0] or outputs[1])
    assert ("--model" in argv) == (model == "file")
    if options:
        for flag, key in (("--device", "device"), ("--tile", "tile"), ("--overlap", "overlap")):
            assert argv[argv.index(flag) + 1] == str(options[key])
        assert argv[argv.index("--batch-size") + 1] == str(options["batch"])
        assert argv[argv.index("--working-gsd") + 1] == str(options["working_gsd"])
        assert task.result.result["settings"]["working_gsd_m"] == options["working_gsd"]
        assert argv[argv.index("--road-threshold") + 1] == str(options["road_threshold"])
        assert task.result.result["settings"]["road_threshold"] == options["road_threshold"]
    else:
        assert "--working-gsd" not in argv and "--road-threshold" not in argv
        settings = task.result.result["settings"]
        assert settings["working_gsd_m"] == settings["gsd_m"]  # the model's own
    # The plugin learns its speed from the engine's JSON over the working grid (the pixels its
    # estimate counts): the keys it reads (`working_shape`, `predict_seconds`) must be there.
    estimate = importlib.import_module("roadseg_qgis.core.estimate")
    learned = estimate.learned_rate(task.result.result)
    assert learned is not None and learned[0] > 0 and learned[1] > 0
    # One folder per run with exactly the chosen outputs; no staging folder left.
    runs = [p for p in out.iterdir()]
    assert len(runs) == 1 and runs[0] == task.paths.run_dir, runs
    files = sorted(p.name for p in runs[0].iterdir())
    expected = sorted(
        [
            n
            for n, on in (
                ("roads.gpkg", outputs[0] or outputs[1]),
                ("road_classes.tif", outputs[2]),
            )
            if on
        ]
        + (["area.geojson"] if polygons else [])
    )
    assert files == expected
    # The layer group names the raster and the model; only non-empty layers are in it.
    label = "default model" if model == "default" else "tiny"
    group = QgsProject.instance().layerTreeRoot().findGroup(task.params.run_name)
    assert group is not None, messages(qgis_iface, "success")
    assert task.params.run_name.startswith(f"Roads scene ({label})")
    layers = [n.layer() for n in group.findLayers()]
    names = [lyr.name() for lyr in layers]
    if outputs[1]:
        assert names[0] == "centrelines"
    if outputs[2]:
        assert names[-1] == "road classes"
        ras = layers[-1]
        assert isinstance(ras, QgsRasterLayer) and isinstance(
            ras.renderer(), QgsPalettedRasterRenderer
        )
        assert [c.value for c in ras.renderer().classes()] == list(
            range(1, len(ras.renderer().classes()) + 1)
        )
    for lyr in layers:
        if isinstance(lyr, QgsVectorLayer):
            assert lyr.featureCount() > 0, lyr.name()
    assert all(n == "centrelines" or n.endswith(" roads") or n == "road classes" for n in names)
    if not outputs[0]:
        assert not any(n.endswith(" roads") for n in names)
    # The class raster covers the area asked for, and nothing outside the polygons.
    if outputs[2]:
        minx, miny, maxx, maxy = _extent(task.raster)
        px = 0.5
        if area == "canvas":
            # The canvas shows the middle of the raster (padded to its aspect ratio).
            m, (bx0, by0, bx1, by1) = extra["middle"], task.params.bbox
            assert bx0 <= m.xMinimum() + px and bx1 >= m.xMaximum() - px
            assert by0 <= m.yMinimum() + px and by1 >= m.yMaximum() - px
            assert by1 - by0 < extra["layer"].extent().height() - 4 * px
            assert (minx, miny, maxx, maxy) == pytest.approx((bx0, by0, bx1, by1), abs=2 * px)
        elif area == "layer":
            e = extra["layer"].extent()
            assert (minx, maxy) == pytest.approx((e.xMinimum(), e.yMaximum()))
        elif area == "selection":  # the big polygon only
            b = extra["big"]
            assert minx >= b.xMinimum() - 2 * px and maxx <= b.xMaximum() + 2 * px
            assert miny >= b.yMinimum() - 2 * px and maxy <= b.yMaximum() + 2 * px
        else:
            big, small = extra["big"], extra["small"]
            assert minx <= big.xMinimum() + 2 * px and maxx >= small.xMaximum() - 2 * px
            # Between the two polygons (inside their bounding box): nodata.
            gap_x = (big.xMaximum() + small.xMinimum()) / 2
            gap_y = (big.yMinimum() + small.yMaximum()) / 2
            assert _pixel(task.raster, gap_x, gap_y) == 255
            assert _pixel(task.raster, big.center().x(), big.center().y()) != 255
    if polygons:
        fc = json.loads((task.paths.run_dir / "area.geojson").read_text())
        assert len(fc["features"]) == (1 if area == "selection" else 2)
    # The summary names the file and offers to open its folder; where the engine rated its
    # confidence poor (the tiny test model is unsure of anything), it says so and offers Adapt.
    level = summary_level(task)
    ok = messages(qgis_iface, level)
    saved = task.vectors or task.raster
    assert ok and f"saved in {saved}" in ok[-1], ok
    assert ("the model was unsure of this imagery" in ok[-1]) == (level == "warning")
    buttons = message_buttons(qgis_iface, level)
    assert "Open folder" in buttons and ("Adapt model…" in buttons) == (level == "warning")
    if model == "file":
        assert level == "warning"  # the tiny model: the warning path is exercised here
