"""Map roads on a web (XYZ) layer: resolution arithmetic, the zoom cap, and a real run.

The XYZ source is local: ``file://`` tiles cut by the test (GDAL + PIL) from a
``roadseg synth`` scene near Las Vegas (36.2° N), never the internet. The end-to-end
test runs the real engine with the embedded default model on the rendered GeoTIFF.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import real_env
from qgis_helpers import run_to_end, set_canvas, wait_until, write_xyz_tiles, xyz_layer

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


def _scene_area(image: Path, inset_m: float = 6.0):  # noqa: ANN202
    """The scene's extent less ``inset_m`` as an Area in EPSG:3857 (the XYZ layer's CRS)."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRasterLayer,
    )
    from roadseg_qgis.gui.area import Area

    lyr = QgsRasterLayer(str(image), "scene")
    rect = lyr.extent().buffered(-inset_m)
    to_merc = QgsCoordinateTransform(
        lyr.crs(), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    r = to_merc.transformBoundingBox(rect)
    del lyr
    return Area((r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum()), "EPSG:3857", 1e4), r


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
    from roadseg_qgis.core.errors import PluginError
    from roadseg_qgis.gui.render import layer_offer, plan_render

    image, _roads, tiles = scene
    only17 = tiles.parent / "tiles17"
    (only17 / "17").mkdir(parents=True)
    (tiles / "17").rename(only17 / "17")  # this source has zoom 17 only
    try:
        area, _rect = _scene_area(image)
        layer = xyz_layer(only17, zmax=17)
        offer = layer_offer(layer, area, 0.5)
        assert offer.zoom == offer.zmax == 17 and offer.coarser
        assert offer.text() == (
            "XYZ layer: 0.96 m/px at its maximum zoom 17; rendered at 0.5 m/px "
            "(upsampled: no finer detail than the layer has)"
        )
        job = plan_render(layer, area, 0.5)
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
        job = plan_render(greedy, area, 0.5)
        try:
            with pytest.raises(PluginError, match="drew nothing over the area"):
                job.run()
        finally:
            job.cleanup()
    finally:
        (only17 / "17").rename(tiles / "17")


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
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("layer"))
    assert "covers the whole world" in dlg.error_label.text() and not dlg.run_button.isEnabled()
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("canvas"))
    dlg.refresh()
    text = dlg.estimate_label.text()
    assert "XYZ layer: 0.48 m/px at its maximum zoom 18; rendered at 0.5 m/px" in text, text
    assert "Mpx at 0.5 m/px" in text and dlg.run_button.isEnabled(), dlg.error_label.text()
    dlg.raster_check.setChecked(True)
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    dlg.device_combo.setCurrentIndex(dlg.device_combo.findData("cpu"))
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
