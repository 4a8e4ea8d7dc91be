"""Rasters in Web Mercator (EPSG:3857, how web maps and many exports come) are measured
on the ground: their "metres" are stretched by 1/cos(latitude), which roadseg undoes.

A synthetic scene in UTM is warped to EPSG:3857 (as a user's web-map export would be); the
ground resolution, the metric CRS, the rasterised road widths and the measured road lengths
must then agree with the UTM original.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.warp import Resampling, calculate_default_transform, reproject
from roadseg.geo.classes import ClassScheme
from roadseg.geo.grid import metric_crs_for, projection_scale
from roadseg.geo.labels import VectorLabels
from roadseg.geo.raster import open_raster
from roadseg.synth import make_scene
from roadseg.vectorization.frame import MetricFrame


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """The same scene in UTM 11N (Las Vegas, 36° N) and warped to Web Mercator."""
    d = tmp_path_factory.mktemp("merc")
    scene = make_scene(d / "utm", size=384, seed=5, gsd=0.5, style="urban")
    merc = d / "merc.tif"
    with rasterio.open(scene.image) as src:
        t, w, h = calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds
        )
        prof = src.profile | {"crs": "EPSG:3857", "transform": t, "width": w, "height": h}
        with rasterio.open(merc, "w", **prof) as dst:
            for b in range(1, src.count + 1):
                reproject(
                    rasterio.band(src, b),
                    rasterio.band(dst, b),
                    resampling=Resampling.bilinear,
                )
    return scene, merc


def test_web_mercator_pixels_are_measured_on_the_ground(scenes):
    scene, merc = scenes
    grid = open_raster(merc).grid
    assert abs(grid.transform.a) > 0.6  # the CRS says ~0.62 "m" per pixel at 36° N ...
    gx, gy = grid.gsd_m()
    assert gx == pytest.approx(0.5, rel=0.02) and gy == pytest.approx(0.5, rel=0.02)  # ... 0.5 m
    assert metric_crs_for(grid).to_epsg() == 32611  # buffering/measuring in UTM, not 3857
    utm = open_raster(scene.image).grid
    assert utm.gsd_m() == (0.5, 0.5)  # true-to-scale CRSs are untouched
    assert metric_crs_for(utm).to_epsg() == 32611


def test_road_widths_and_lengths_in_web_mercator_match_utm(scenes, tmp_path):
    scene, merc = scenes
    scheme = ClassScheme.preset("synth")
    utm_grid, merc_grid = open_raster(scene.image).grid, open_raster(merc).grid
    # Roads clipped well inside the scene, so both grids hold all of their surfaces.
    inner = shapely.box(*utm_grid.bounds).buffer(-40.0)
    clipped = tmp_path / "inner.gpkg"
    gpd.read_file(scene.roads).clip(inner).to_file(clipped)
    on_utm = VectorLabels(clipped, scheme, utm_grid).rasterize(utm_grid)
    on_merc = VectorLabels(clipped, scheme, merc_grid).rasterize(merc_grid)
    # Road area on the ground (pixels × ground pixel area) is the same on both grids.
    ground_px = np.prod(merc_grid.gsd_m())
    assert (on_merc > 0).sum() * ground_px == pytest.approx((on_utm > 0).sum() * 0.25, rel=0.04)

    roads = gpd.read_file(scene.roads)
    true_m = roads.geometry.length.to_numpy()
    in_merc = np.asarray(roads.to_crs("EPSG:3857").geometry.values)
    measured = MetricFrame(merc_grid).lengths_m(in_merc)
    np.testing.assert_allclose(measured, true_m, rtol=0.005)


def test_scale_is_one_where_the_projection_is_true():
    from rasterio.crs import CRS

    assert projection_scale(CRS.from_epsg(3857), 0.0, 0.0) == (1.0, 1.0)  # equator
    assert projection_scale(CRS.from_epsg(4326), 10.0, 50.0) == (1.0, 1.0)  # by latitude
    assert projection_scale(None, 1.0, 1.0) == (1.0, 1.0)
    kx, ky = projection_scale(CRS.from_epsg(3857), 0.0, 6_446_000.0)  # ~50° N
    assert kx == pytest.approx(1.556, abs=0.01) and kx == pytest.approx(ky)
