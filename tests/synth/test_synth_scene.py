"""make_scene: files, determinism, classes, georeferencing, labels on the rendered roads."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from roadseg.errors import ConfigError, OutputError
from roadseg.geo.classes import ClassScheme
from roadseg.geo.labels import VectorLabels
from roadseg.geo.raster import open_raster
from roadseg.synth import STYLES, make_scene
from roadseg.synth.model import WIDTH_RANGE_M
from scipy.ndimage import binary_dilation

SIZE = 256


def _features(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path, layer="roads")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory):
    return make_scene(tmp_path_factory.mktemp("scene") / "a", size=SIZE, seed=11, style="suburban")


def test_outputs_are_a_tiled_rgb_geotiff_and_a_roads_layer(scene) -> None:
    assert scene.image.name == "image.tif" and scene.roads.name == "roads.gpkg"
    with rasterio.open(scene.image) as ds:
        assert (ds.count, ds.width, ds.height, ds.dtypes[0]) == (3, SIZE, SIZE, "uint8")
        assert ds.profile["tiled"] and ds.compression is not None
        assert ds.crs.to_epsg() == 32611
        assert ds.transform.a == pytest.approx(0.5) and ds.transform.e == pytest.approx(-0.5)
        arr = ds.read()
    assert arr.std() > 10  # a picture, not a flat fill
    gdf = _features(scene.roads)
    assert gdf.crs.to_epsg() == 32611
    assert set(gdf.geometry.geom_type) == {"LineString"}
    assert {"road_class", "width_m", "paved"} <= set(gdf.columns)
    # Labels lie inside the image.
    with rasterio.open(scene.image) as ds:
        box = shapely.box(*ds.bounds).buffer(1e-6)
    assert shapely.within(gdf.geometry.values, box).all()
    # Reported figures match the layer.
    for cls, km in scene.km.items():
        assert gdf.loc[gdf.road_class == cls].length.sum() / 1000 == pytest.approx(km, abs=1e-3)
    assert not list(scene.image.parent.glob(".*tmp*"))  # no temporary files left


def test_same_seed_same_bytes_and_features(tmp_path: Path, scene) -> None:
    again = make_scene(tmp_path / "b", size=SIZE, seed=11, style="suburban")
    assert again.image.read_bytes() == scene.image.read_bytes()
    assert again.roads.read_bytes() == scene.roads.read_bytes()  # fixed GeoPackage timestamp
    with rasterio.open(again.image) as ds:
        assert "TIFFTAG_DATETIME" not in ds.tags()
    a, b = _features(scene.roads), _features(again.roads)
    assert len(a) == len(b) > 0
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert all(shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0))


def test_different_seed_differs(tmp_path: Path, scene) -> None:
    other = make_scene(tmp_path / "c", size=SIZE, seed=12, style="suburban")
    assert other.image.read_bytes() != scene.image.read_bytes()
    a, b = _features(scene.roads), _features(other.roads)
    assert len(a) != len(b) or not all(
        shapely.equals_exact(a.geometry.values, b.geometry.values, 1e-6)
    )


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_scene_has_all_classes_in_their_width_ranges(
    tmp_path: Path, style: str, seed: int
) -> None:
    res = make_scene(tmp_path, size=SIZE, seed=seed, style=style)
    gdf = _features(res.roads)
    assert set(gdf.road_class) == {"major", "minor", "track"}
    for cls, (lo, hi) in WIDTH_RANGE_M.items():
        w = gdf.loc[gdf.road_class == cls, "width_m"]
        assert ((w >= lo) & (w <= hi)).all(), (cls, w.tolist())
        assert res.km[cls] > 0.015 and res.counts[cls] >= 1
    assert (gdf.loc[gdf.road_class == "track", "paved"] == 0).all()
    assert (gdf.loc[gdf.road_class == "major", "paved"] == 1).all()
    assert res.layout == (style if style != "random" else res.layout) and res.layout in (
        "urban",
        "suburban",
        "rural",
    )


def test_random_style_varies_layout_and_palette(tmp_path: Path) -> None:
    layouts, means = set(), []
    for seed in range(5):
        res = make_scene(tmp_path / str(seed), size=96, seed=seed)
        layouts.add(res.layout)
        with rasterio.open(res.image) as ds:
            means.append(ds.read().reshape(3, -1).mean(1))
    assert len(layouts) >= 2
    assert np.ptp(np.array(means), axis=0).max() > 15


def _road_contrast(image: Path, roads: Path) -> dict[int, float]:
    src = open_raster(image)
    img = src.read().data * 255
    lab = VectorLabels(roads, ClassScheme.preset("synth"), src.grid).rasterize(src.grid)
    road = lab > 0
    near_road = binary_dilation(road, iterations=2)
    out = {}
    for c in (1, 2, 3):
        m = lab == c
        ring = binary_dilation(m, iterations=6) & ~near_road
        if m.sum() > 30 and ring.sum() > 30:
            out[c] = float(np.abs(img[:, m].mean(1) - img[:, ring].mean(1)).max())
    return out


@pytest.mark.parametrize("style,seed", [("urban", 1), ("suburban", 2), ("rural", 2)])
def test_labels_land_on_rendered_roads(tmp_path: Path, style: str, seed: int) -> None:
    res = make_scene(tmp_path / "s", size=SIZE, seed=seed, style=style)
    contrast = _road_contrast(res.image, res.roads)
    assert len(contrast) == 3
    assert all(v > 8.0 for v in contrast.values()), contrast
    # The same labels moved 15 m sideways no longer sit on a distinct surface for the paved classes.
    gdf = _features(res.roads)
    moved = gdf.set_geometry(gdf.translate(15.0, 15.0))
    moved.to_file(tmp_path / "moved.gpkg", layer="roads")
    shifted = _road_contrast(res.image, tmp_path / "moved.gpkg")
    assert np.mean([shifted.get(c, 0.0) for c in (1, 2)]) < np.mean([contrast[c] for c in (1, 2)])


def test_geographic_crs_has_pixels_of_gsd_metres(tmp_path: Path) -> None:
    res = make_scene(tmp_path, size=128, seed=3, crs="EPSG:4326", gsd=0.6)
    src = open_raster(res.image)
    assert src.crs.to_epsg() == 4326
    gx, gy = src.gsd_m()
    assert gx == pytest.approx(0.6, rel=1e-3) and gy == pytest.approx(0.6, rel=1e-3)
    left, bottom, right, top = src.grid.bounds
    assert left < -115.2 < right and bottom < 36.2 < top
    gdf = _features(res.roads)
    assert gdf.crs.to_epsg() == 4326
    assert shapely.within(
        gdf.geometry.values, shapely.box(left, bottom, right, top).buffer(1e-9)
    ).all()


@pytest.mark.parametrize("crs,epsg", [("EPSG:2229", 2229), ("EPSG:32633", 32633), ("3857", 3857)])
def test_other_crs_feet_far_zones_and_web_mercator(tmp_path: Path, crs: str, epsg: int) -> None:
    res = make_scene(tmp_path, size=64, seed=1, crs=crs, gsd=0.5, style="rural")
    src = open_raster(res.image)
    assert src.crs.to_epsg() == epsg
    # On the ground, whatever the CRS (Web Mercator's "metres" are 1/cos φ of a metre).
    assert src.gsd_m() == pytest.approx((0.5, 0.5), rel=2e-3)
    if epsg == 3857:
        assert abs(src.grid.transform.a) > 0.6  # 0.5 m at 36° N is ~0.62 Mercator units
    gdf = _features(res.roads)
    assert shapely.within(gdf.geometry.values, shapely.box(*src.grid.bounds).buffer(1e-6)).all()


def test_origin_moves_the_scene_and_layout_is_in_metres(tmp_path: Path) -> None:
    a = make_scene(tmp_path / "a", size=128, seed=5, gsd=1.0, style="rural", origin=(-115.0, 36.0))
    b = make_scene(tmp_path / "b", size=256, seed=5, gsd=0.5, style="rural", origin=(-115.0, 36.0))
    with rasterio.open(a.image) as da, rasterio.open(b.image) as db:
        assert da.bounds == pytest.approx(db.bounds)
    # Same ground extent, same seed: the same roads whatever the pixel size.
    ga, gb = _features(a.roads), _features(b.roads)
    assert len(ga) == len(gb)
    assert all(shapely.equals_exact(ga.geometry.values, gb.geometry.values, tolerance=1e-6))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"size": 10}, "size"),
        ({"gsd": 0.0}, "gsd"),
        ({"style": "alpine"}, "style"),
        ({"crs": "EPSG:99999"}, "crs"),
        ({"crs": "EPSG:4978"}, "crs"),
    ],
)
def test_bad_arguments_raise_config_errors(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        make_scene(tmp_path, **kwargs)
    assert info.value.param == match and info.value.value == kwargs[match]
    assert "--" not in str(info.value)  # Python names, no command-line flags
    assert not any(tmp_path.iterdir())


def test_unwritable_outdir_raises_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="^out_dir: cannot create") as info:
        make_scene(blocker / "scene", size=64)
    assert info.value.param == "out_dir"


def test_cancel_stops_without_output(tmp_path: Path) -> None:
    from roadseg.errors import CancelledError

    with pytest.raises(CancelledError):
        make_scene(tmp_path / "x", size=64, cancel=lambda: True)
    assert not (tmp_path / "x" / "image.tif").exists()
