"""Map roads and Adapt on a web (XYZ) layer: resolution arithmetic, the zoom cap, real runs.

The XYZ source is local: ``file://`` tiles cut by the test (GDAL + PIL) from a
``roadseg synth`` scene near Las Vegas (36.2° N), never the internet. The end-to-end
tests run the real engine on the rendered GeoTIFF: Map roads with the embedded default
model, Adapt with the tiny model of make_test_model.py and a few fixed steps.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from conftest import real_env, tiny_model
from qgis_helpers import (
    choose,
    make_raster,
    run_to_end,
    set_canvas,
    wait_until,
    write_xyz_tiles,
    xyz_layer,
)

pytestmark = pytest.mark.qgis

LAT = 36.2  # the synth scene's latitude (its default origin)


@pytest.fixture(scope="module")
def scene(real_engine_available, tmp_path_factory):  # noqa: ANN001, ANN201
    """(image, roads, tiles folder): a 256 px scene at 0.5 m and its XYZ tiles at zooms 17, 18."""
    d = tmp_path_factory.mktemp("web")
    subprocess.run(
        [real_engine_available, "synth", str(d / "scene"), "--size", "256", "--seed", "3"],
        check=True,
        capture_output=True,
        timeout=300,
        env=real_env(),
    )
    image = d / "scene" / "image.tif"
    tiles = d / "tiles"
    assert write_xyz_tiles(image, tiles, 17) >= 1
    assert write_xyz_tiles(image, tiles, 18) >= 4
    return image, d / "scene" / "roads.gpkg", tiles


@pytest.fixture(scope="module")
def tiny(real_engine_available, scene):  # noqa: ANN001, ANN201
    """The tiny real model (0.5 m/px), calibrated on the scene."""
    image = scene[0]
    return tiny_model(real_engine_available, image, image.parent.parent / "tiny.safetensors")


def _scene_area(image: Path, inset_m: float = 6.0):  # noqa: ANN202
    """The scene's extent less ``inset_m`` as an Area in EPSG:3857 (the XYZ layer's CRS)."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRasterLayer,
    )
    from roadseg_qgis.gui.area import Area, rect_bbox

    lyr = QgsRasterLayer(str(image), "scene")
    rect = lyr.extent().buffered(-inset_m)
    to_merc = QgsCoordinateTransform(
        lyr.crs(), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    r = to_merc.transformBoundingBox(rect)
    del lyr
    return Area(rect_bbox(r), "EPSG:3857", 1e4), r


def test_zoom_arithmetic_matches_qgis(plugin_pkg, qgis_new_project, tmp_path):
    """The plugin's zoom → m/px is QGIS's own tile matrix (scaled to the ground), zmax included."""
    import math

    from qgis.core import QgsRasterLayer
    from roadseg_qgis.core.webraster import xyz_zooms, zoom_gsd_m

    for extra, zmax, ratio in (
        ("&zmax=17", 17, 1.0),
        ("", 18, 1.0),
        ("&zmax=19&tilePixelRatio=2", 19, 2.0),
    ):
        src = f"type=xyz&url={tmp_path.as_uri()}/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmin=0{extra}"
        layer = QgsRasterLayer(src, "t", "wms")
        assert layer.isValid()
        assert xyz_zooms(layer.source()) == (0, zmax, ratio)
        finest = min(layer.dataProvider().nativeResolutions())  # EPSG:3857 units per pixel
        assert len(layer.dataProvider().nativeResolutions()) == zmax + 1
        for lat in (0.0, LAT, -60.0):
            expected = finest * math.cos(math.radians(lat))
            assert zoom_gsd_m(zmax, lat, ratio) == pytest.approx(expected, rel=1e-12)
        del layer


def test_render_never_asks_beyond_the_layers_max_zoom(plugin_pkg, qgis_new_project, scene):
    """zmax=17 renders (upsampled); the same tiles announced up to 18 draw nothing, and say so."""
    from osgeo import gdal
    from qgis.core import QgsProject
    from roadseg_qgis.core.errors import PluginError
    from roadseg_qgis.gui.render import layer_offer, plan_render

    transforms = QgsProject.instance().transformContext()

    image, _roads, tiles = scene
    only17 = tiles.parent / "tiles17"
    (only17 / "17").mkdir(parents=True)
    (tiles / "17").rename(only17 / "17")  # this source has zoom 17 only
    try:
        area, _rect = _scene_area(image)
        layer = xyz_layer(only17, zmax=17)
        offer = layer_offer(layer, area, 0.5, transforms)
        assert offer.zoom == offer.zmax == 17 and offer.coarser
        assert offer.text() == (
            "XYZ layer: 0.96 m/px at its maximum zoom 17; rendered at 0.5 m/px "
            "(upsampled: no finer detail than the layer has)"
        )
        job = plan_render(layer, area, 0.5, transforms)
        try:
            assert job.crs.authid() == "EPSG:32611" and not job.path.exists()
            assert job.run() == job.path
            ds = gdal.Open(str(job.path))
            gt = ds.GetGeoTransform()
            assert (ds.RasterXSize, ds.RasterYSize) == (job.width, job.height)
            assert 232 <= job.width <= 250 and gt[1] == pytest.approx(0.5) and gt[5] == -0.5
            assert "32611" in ds.GetProjection() and ds.RasterCount == 4
            red = ds.GetRasterBand(1).ComputeStatistics(False)
            assert ds.GetRasterBand(4).ComputeRasterMinMax(False) == (255, 255)  # all drawn
            assert 120 < red[2] < 220  # the scene's ground colours, not black
            ds = None
        finally:
            job.cleanup()
        assert not job.path.parent.exists()

        greedy = xyz_layer(only17, zmax=18, name="claims zoom 18")
        job = plan_render(greedy, area, 0.5, transforms)
        try:
            with pytest.raises(PluginError, match="drew nothing over the area"):
                job.run()
        finally:
            job.cleanup()
    finally:
        (only17 / "17").rename(tiles / "17")


def test_processing_plans_with_the_transforms_of_its_context(
    plugin_pkg, qgis_new_project, tmp_path
):
    """Processing plans a rendering with its context's datum transforms, not the project's
    (an algorithm may run in a worker thread, away from the project)."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProject,
    )
    from roadseg_qgis.processing_provider.rendering import plan_layer_render

    image = make_raster(tmp_path / "utm.tif")  # UTM 11N
    assert write_xyz_tiles(image, tmp_path / "tiles", 18) >= 1
    layer = xyz_layer(tmp_path / "tiles", zmax=18)
    area, _rect = _scene_area(image)
    transforms = QgsProject.instance().transformContext()  # a copy: the project keeps its own
    shift = (
        "+proj=pipeline +step +inv +proj=webmerc +ellps=WGS84 "
        "+step +proj=utm +zone=11 +ellps=WGS84 +step +proj=affine +xoff=100"
    )
    merc, utm = (
        QgsCoordinateReferenceSystem("EPSG:3857"),
        QgsCoordinateReferenceSystem("EPSG:32611"),
    )
    assert transforms.addCoordinateOperation(merc, utm, shift)
    shifted = QgsProcessingContext()
    shifted.setTransformContext(transforms)
    plans = [
        plan_layer_render(layer, area, 0.5, "m", "fix", context, QgsProcessingFeedback())
        for context in (QgsProcessingContext(), shifted)
    ]
    assert [p.crs.authid() for p in plans] == ["EPSG:32611"] * 2
    assert plans[1].extent.xMinimum() - plans[0].extent.xMinimum() == pytest.approx(100, abs=1)
    assert plans[1].extent.yMaximum() == pytest.approx(plans[0].extent.yMaximum(), abs=1)
    assert plans[1].transform_context.hasTransform(merc, utm)  # also for writing the GeoTIFF
    assert not QgsProject.instance().transformContext().hasTransform(merc, utm)


def test_map_roads_on_a_local_xyz_layer(plugin, qgis_iface, real_engine, scene, tmp_path):
    """Dialog → render → real engine → layers: roads where the scene has them; temp file gone."""
    from qgis.core import QgsGeometry, QgsProject, QgsRasterLayer, QgsVectorLayer

    image, roads, tiles = scene
    layer = xyz_layer(tiles, zmax=18)
    _area, rect = _scene_area(image)
    set_canvas(qgis_iface, layer, extent=rect)
    dlg = plugin.create_dialog(fetch_models=True)
    assert dlg is not None and dlg.raster_combo.currentLayer() is layer
    assert dlg.loader.wait(120000) and wait_until(lambda: "default" in dlg.model_infos, 10)
    choose(dlg.area_combo, "layer")
    assert "covers the whole world" in dlg.error_label.text() and not dlg.run_button.isEnabled()
    choose(dlg.area_combo, "canvas")
    dlg.refresh()
    text = dlg.estimate_label.text()
    assert "XYZ layer: 0.48 m/px at its maximum zoom 18; rendered at 0.5 m/px" in text, text
    assert "Mpx at 0.5 m/px" in text and dlg.run_button.isEnabled(), dlg.error_label.text()
    dlg.raster_check.setChecked(True)
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    choose(dlg.device_combo, "cpu")
    params = dlg.parameters()
    job = dlg.render_job
    assert job is not None and params.raster_path == str(job.path) and not job.path.exists()
    assert params.bbox_crs == "EPSG:32611" and params.raster_name == "local tiles"
    task = plugin.start(params, dlg.current_model_info(), job)
    run_to_end(plugin, task, 400)
    assert task.error is None and task.result.ok, task.result.details()
    assert not job.path.parent.exists(), "the rendered GeoTIFF was left behind"
    from osgeo import gdal

    ds = gdal.Open(str(task.raster))
    assert "32611" in ds.GetProjection() and ds.GetGeoTransform()[1] == pytest.approx(0.5)
    ds = None
    lines = QgsVectorLayer(f"{task.vectors}|layername=centerlines", "c", "ogr")
    truth = QgsVectorLayer(str(roads), "truth", "ogr")
    assert lines.isValid() and truth.isValid() and lines.crs() == truth.crs()
    # Judged inside the scene: the map extent reaches past it, onto black tiles whose edge
    # with the imagery looks like a road to the model.
    inner = QgsGeometry.fromRect(QgsRasterLayer(str(image), "scene").extent().buffered(-10.0))
    truth_lines = QgsGeometry.unaryUnion([f.geometry() for f in truth.getFeatures()])
    found = QgsGeometry.unaryUnion([f.geometry() for f in lines.getFeatures()]).intersection(inner)
    truth_in = truth_lines.intersection(inner)
    precision = found.intersection(truth_lines.buffer(8.0, 8)).length() / max(found.length(), 1)
    recall = truth_in.intersection(found.buffer(8.0, 8)).length() / truth_in.length()
    assert found.length() > 60.0, f"only {found.length():.0f} m of roads found in the scene"
    assert precision > 0.8 and recall > 0.7, (precision, recall)
    del lines, truth
    assert QgsProject.instance().layerTreeRoot().findGroup(params.run_name) is not None


def _adapt_dialog(plugin, layer, labels, model, retrain=False):  # noqa: ANN001, ANN202
    """The Adapt (or Retrain) dialog on ``layer`` over the map extent, once it knows the model's
    resolution."""
    dlg = plugin.create_adapt_dialog(retrain=retrain)
    assert dlg is not None
    dlg.raster_combo.setLayer(layer)
    dlg.labels_combo.setLayer(labels)
    choose(dlg.area_combo, "canvas")
    choose(dlg.model_combo, "__file__")
    dlg.model_file.setFilePath(str(model))
    assert wait_until(lambda: dlg.start_gsd() > 0 or dlg.gsd_error, 120), dlg.error_label.text()
    assert dlg.start_gsd() == pytest.approx(0.5), dlg.gsd_error
    return dlg


def test_adapt_and_retrain_on_a_local_xyz_layer(
    plugin, qgis_iface, real_engine, scene, tiny, models_dir, tmp_path
):
    """Adapt on an XYZ layer: rendered at the model's resolution, run, temp file gone.

    Also: the resolution the layer offers is said, the size limit applies, a whole-world area
    is refused, Retrain from corrections plans the same rendering, and a layer that draws
    nothing fails with the rendered file and the work folder removed.
    """
    from qgis.core import QgsProject, QgsVectorLayer
    from roadseg_qgis.gui import prefs

    image, roads, tiles = scene
    layer = xyz_layer(tiles, zmax=18)
    _area, rect = _scene_area(image)
    set_canvas(qgis_iface, layer, extent=rect)
    labels = QgsVectorLayer(str(roads), "roads", "ogr")
    QgsProject.instance().addMapLayer(labels)
    dlg = _adapt_dialog(plugin, layer, labels, tiny)
    offer = "XYZ layer: 0.48 m/px at its maximum zoom 18; rendered at 0.5 m/px"
    assert offer in dlg.offer_label.text() and dlg.offer_label.isVisibleTo(dlg)
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    choose(dlg.area_combo, "layer")
    assert "covers the whole world" in dlg.error_label.text() and not dlg.run_button.isEnabled()
    choose(dlg.area_combo, "labels")  # around the roads: their bounding box is rendered
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    prefs.set_limit_km2(0.005)  # the scene is about 0.013 km²
    dlg.refresh()
    assert "larger than the limit of 0.005 km²" in dlg.error_label.text()
    prefs.set_limit_km2(25.0)
    choose(dlg.area_combo, "canvas")
    assert dlg.run_button.isEnabled(), dlg.error_label.text()
    dlg.accept()
    assert dlg.result() == 1
    work = tmp_path / "work"
    work.mkdir()
    params = dataclasses.replace(dlg.parameters(work), steps=2, min_gain=0.0)
    job = dlg.render_job
    assert job is not None and params.raster_path == str(job.path) and not job.path.exists()
    assert job.crs.authid() == "EPSG:32611" and params.raster_name == "local tiles"
    task = plugin.start_adapt(params, work, job)
    run_to_end(plugin, task, 900)
    assert task.error is None and task.result.ok, task.result.details()
    data = task.result.result["data"]["rasters"][0]
    assert data["image"] == str(job.path) and sum(data["layer"]["features"].values()) == 3
    assert 0 < data["area_m2"] <= job.width * job.height * 0.25  # inside the rendered grid
    assert not job.path.parent.exists(), "the rendered GeoTIFF was left behind"
    assert not work.exists() and Path(params.out_path).parent == models_dir

    # Retrain from corrections: the same dialog plans the same rendering.
    rdlg = _adapt_dialog(plugin, layer, labels, tiny, retrain=True)
    assert rdlg.windowTitle() == "Retrain from corrections"
    assert offer in rdlg.offer_label.text() and rdlg.run_button.isEnabled(), rdlg.last_error
    rwork = tmp_path / "rwork"
    rwork.mkdir()
    rparams = rdlg.parameters(rwork)
    assert rparams.mode == "retrain" and rparams.raster_path == str(rdlg.render_job.path)
    assert (rdlg.render_job.width, rdlg.render_job.height) == (job.width, job.height)

    # A layer that draws nothing there: the run fails before the engine, and cleans up.
    empty = xyz_layer(tmp_path / "no_tiles", zmax=18, name="empty")
    rdlg.raster_combo.setLayer(empty)
    assert rdlg.run_button.isEnabled(), rdlg.error_label.text()
    failed = plugin.start_adapt(rdlg.parameters(rwork), rwork, rdlg.render_job)
    run_to_end(plugin, failed, 120)
    assert failed.error is not None and "drew nothing" in failed.error.message
    assert failed.result is None and not rdlg.render_job.path.parent.exists()
    assert not rwork.exists() and not Path(failed.params.out_path).exists()


def test_processing_adapt_model_on_a_local_xyz_layer(
    plugin, qgis_processing, real_engine, scene, tiny, models_dir
):
    """Processing ▸ Adapt model on an XYZ layer: rendered over the extent, run, file removed."""
    import tempfile

    import processing
    from roadseg_qgis.gui.render import TEMP_PREFIX
    from test_processing import Feedback

    image, roads, tiles = scene
    layer = xyz_layer(tiles, zmax=18)
    _area, rect = _scene_area(image)
    before = set(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"))
    feedback = Feedback()
    bar = []
    feedback.progressChanged.connect(bar.append)
    extent = f"{rect.xMinimum()},{rect.xMaximum()},{rect.yMinimum()},{rect.yMaximum()} [EPSG:3857]"
    res = processing.run(
        "roadseg:adaptmodel",
        {
            "INPUT": layer,
            "LABELS": str(roads),
            "EXTENT": extent,
            "MODEL": str(tiny),
            "STEPS": 2,
            "DEVICE": 1,
            "MIN_GAIN": 1.0,  # no run gains a whole road IoU: the starting model stays
        },
        feedback=feedback,
    )
    assert res["KEPT"] == "starting" and res["MODEL"] == str(tiny), res
    offer = "XYZ layer: 0.48 m/px at its maximum zoom 18; rendered at 0.5 m/px"
    assert offer in feedback.infos, feedback.infos
    (command,) = [c for c in feedback.commands if " adapt " in c]
    assert TEMP_PREFIX in command and "--area " in command, command
    assert set(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")) == before  # removed
    # The rendering's share of the bar first; the engine's "prepare" (0 %) does not undo it.
    assert bar[0] == 5.0 and bar == sorted(bar) and bar[-1] == 100.0, bar
    # Adapt's own stages: measuring the starting model ("before") owns 10-20 % of the bar
    # (the predict stages' mapper jumped from 5 % straight to half way with 2 steps).
    assert any(10.0 <= p <= 20.0 for p in bar), bar


def test_processing_segment_roads_on_a_local_xyz_layer(
    plugin, qgis_processing, real_engine, scene, tiny, tmp_path
):
    """Processing ▸ Segment roads on an XYZ layer: the extent is required; rendered over it at
    the model's resolution, mapped by the real engine on that grid; the rendered file removed;
    a cancel while rendering leaves nothing behind."""
    import tempfile

    import processing
    from osgeo import gdal
    from qgis.core import QgsProcessingException, QgsProject, QgsVectorLayer
    from roadseg_qgis.gui.area import Area, rect_bbox
    from roadseg_qgis.gui.render import TEMP_PREFIX, plan_render
    from test_processing import Feedback

    image, _roads, tiles = scene
    layer = xyz_layer(tiles, zmax=18)
    _area, rect = _scene_area(image)
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob(f"{TEMP_PREFIX}*"))
    out = {"OUTPUT_RASTER": str(tmp_path / "c.tif"), "OUTPUT_VECTORS": str(tmp_path / "r.gpkg")}
    base = {"INPUT": layer, "MODEL": str(tiny), "DEVICE": 1, "MAX_AREA_KM2": 0, **out}

    # Without an area: a web layer is the whole world, refused before the engine runs.
    feedback = Feedback()
    with pytest.raises(QgsProcessingException, match=r"web layer.*parameter 'Area' \(EXTENT\)"):
        processing.run("roadseg:segmentroads", base, feedback=feedback)
    assert feedback.commands == [] and not (tmp_path / "c.tif").exists()

    extent = f"{rect.xMinimum()},{rect.xMaximum()},{rect.yMinimum()},{rect.yMaximum()} [EPSG:3857]"
    feedback = Feedback()
    res = processing.run(
        "roadseg:segmentroads", {**base, "EXTENT": extent, "LOAD_LAYERS": False}, feedback=feedback
    )
    offer = "XYZ layer: 0.48 m/px at its maximum zoom 18; rendered at 0.5 m/px"
    assert offer in feedback.infos, feedback.infos
    (command,) = feedback.commands
    argv = command.split()
    assert argv[argv.index("predict") + 1].startswith(str(temp / TEMP_PREFIX)), command
    assert argv[argv.index("--bbox-crs") + 1] == "EPSG:32611" and "--working-gsd" not in argv
    assert set(temp.glob(f"{TEMP_PREFIX}*")) == before, "the rendered GeoTIFF was left behind"

    # The outputs lie on the grid the layer was rendered on: the area in UTM at 0.5 m.
    transforms = QgsProject.instance().transformContext()
    grid = plan_render(layer, Area(rect_bbox(rect), "EPSG:3857", 1.0), 0.5, transforms)
    assert grid.bbox == tuple(float(v) for v in argv[argv.index("--bbox") + 1 :][:4])
    ds = gdal.Open(res["OUTPUT_RASTER"])
    gt = ds.GetGeoTransform()
    assert "32611" in ds.GetProjection() and (ds.RasterXSize, ds.RasterYSize) == (
        grid.width,
        grid.height,
    )
    assert gt[0] == pytest.approx(grid.extent.xMinimum(), abs=1e-6)
    assert gt[3] == pytest.approx(grid.extent.yMaximum(), abs=1e-6)
    assert (gt[1], gt[5]) == (pytest.approx(0.5), pytest.approx(-0.5))
    assert 232 <= grid.width <= 250 and ds.GetMetadataItem("ROADSEG_CLASSES")
    ds = None
    lines = QgsVectorLayer(res["CENTERLINES"], "c", "ogr")
    assert lines.isValid() and lines.crs().authid() == "EPSG:32611"
    road_layers = {uri.split("layername=")[1] for uri in res["LAYERS"]}
    assert "centerlines" in road_layers and len(road_layers) >= 2, road_layers
    assert res["ROAD_KM"] >= 0.0
    del lines

    # Cancelled while rendering: no engine run, no outputs, no rendered file.
    feedback = Feedback()
    feedback.progressChanged.connect(lambda _p: feedback.cancel())
    more = {"OUTPUT_RASTER": str(tmp_path / "c2.tif"), "OUTPUT_VECTORS": str(tmp_path / "r2.gpkg")}
    with pytest.raises(QgsProcessingException, match="Cancelled by the user while rendering"):
        processing.run(
            "roadseg:segmentroads", {**base, **more, "EXTENT": extent}, feedback=feedback
        )
    assert feedback.commands == [] and not any(Path(p).exists() for p in more.values())
    assert set(temp.glob(f"{TEMP_PREFIX}*")) == before


def test_check_fit_on_a_local_xyz_layer(plugin, qgis_iface, real_engine, scene):
    """Check fit on a web layer: the centre of the area is rendered at the model's resolution
    in a task, `roadseg check-fit` rates it, the rendering is removed."""
    import doctest

    from roadseg_qgis.gui import area as area_module

    assert doctest.testmod(area_module).failed == 0  # central_square's examples
    image, _roads, tiles = scene
    layer = xyz_layer(tiles, zmax=18)
    _area, rect = _scene_area(image)
    set_canvas(qgis_iface, layer, extent=rect)
    dlg = plugin.create_dialog(fetch_models=True)
    assert dlg.loader.wait(120000) and wait_until(lambda: "default" in dlg.model_infos, 10)
    choose(dlg.area_combo, "canvas")
    dlg.fit_button.click()
    job = dlg.fit_render
    assert job is not None and "Rendering the centre" in dlg.fit_label.text()
    assert wait_until(lambda: dlg._fit_task is None, 300), dlg.fit_label.text()
    item = dlg.fit_answer["rasters"][0]
    assert item["whole"] and item["confidence"]["rating"] in ("good", "fair", "poor")
    assert item["raster"] == str(job.path) and not job.path.parent.exists()
    km2 = job.width * job.height * 0.25 / 1e6  # the scene is smaller than the square
    assert f"(Rendered: {km2:.2f} km² at the centre of the area.)" in dlg.fit_label.text()
    assert job.gsd_m == pytest.approx(0.5) and km2 < 0.1
