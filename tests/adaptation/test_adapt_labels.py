"""What an adaptation learns from the user's labels: rasterised codes, classes, area, masks.

Codes in ``labels_<i>.tif``: 0 background, 1 major, 2 minor, 3 track, 254 road of
unknown class, 255 ignored.
"""

from __future__ import annotations

import adapt_helpers
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from adapt_helpers import box_layer, write_lines
from PIL import Image
from road_scenes import ORIGIN
from roadseg.adaptation.classmap import class_rule, feature_codes
from roadseg.adaptation.prepare import LabelOptions, label_crop
from roadseg.errors import ConfigError, LabelError
from roadseg.models import read_meta

tiny_model = adapt_helpers.tiny_model  # fixtures shared by the adapt tests
scene = adapt_helpers.scene

OX, OY = ORIGIN


def hline(y_m: float, x0: float = -5, x1: float = 133) -> shapely.LineString:
    """A horizontal line ``y_m`` metres below the scene's top edge."""
    return shapely.LineString([(OX + x0, OY - y_m), (OX + x1, OY - y_m)])


def codes_of(tiny_model, scene, labels, tmp_path, **opts):
    meta = read_meta(tiny_model)
    crop = label_crop(0, scene[0], labels, meta, 64, LabelOptions(**opts), tmp_path)
    with rasterio.open(crop.codes) as ds:
        return ds.read(1), crop


def at(codes, crop, x_m, y_m):
    """Code at scene metres (x right, y down) in the crop."""
    col = int(x_m / 0.5) - int(crop.window.col_off)
    row = int(y_m / 0.5) - int(crop.window.row_off)
    return int(codes[row, col])


def test_osm_highway_values_map_to_model_classes(tiny_model, scene, tmp_path):
    lines = [hline(y) for y in (15, 40, 62, 85, 105, 120)]
    hw = ["primary", "residential", "track", "footway", "bus_guideway", None]
    gpkg = write_lines(tmp_path / "osm.gpkg", lines, highway=hw, name=list("abcdef"))
    area = box_layer(tmp_path / "area.gpkg", 0, 0, 128, 128)
    codes, crop = codes_of(tiny_model, scene, gpkg, tmp_path, area=area)
    got = [at(codes, crop, 64, y) for y in (15, 40, 62, 85, 105, 120)]
    # primary → major, residential → minor, track → track, footway → ignored (not a road),
    # an unknown value and a missing one → road of unknown class
    assert got == [1, 2, 3, 255, 254, 254]
    assert at(codes, crop, 64, 28) == 0  # between roads, inside the area: background
    assert crop.layer["class_rule"]["field"] == "highway"
    assert crop.layer["features"] == {
        "major": 1,
        "minor": 1,
        "track": 1,
        "road (class unknown)": 2,
        "ignored (not a road)": 1,
    }
    # Road widths from the model's classes: major 12 m → 6 m each side of the centreline.
    assert at(codes, crop, 64, 15 + 5) == 1 and at(codes, crop, 64, 15 + 7) == 0


def test_lines_without_a_class_are_roads_of_unknown_class(tiny_model, scene, tmp_path):
    gpkg = write_lines(tmp_path / "plain.gpkg", [hline(30), hline(90)], note=["x", "y"])
    area = box_layer(tmp_path / "area.gpkg", 0, 0, 128, 128)
    codes, crop = codes_of(tiny_model, scene, gpkg, tmp_path, area=area)
    assert at(codes, crop, 50, 30) == 254 and at(codes, crop, 50, 90) == 254
    assert crop.layer["class_rule"] == {"field": None, "source": "none", "values": {}}


def test_area_outside_is_ignored(tiny_model, scene, tmp_path):
    """Outside --area every pixel is 255 (never background), roads included; windows stay inside."""
    lines = [hline(30), hline(90)]
    gpkg = write_lines(tmp_path / "roads.gpkg", lines, highway=["primary", "primary"])
    # An L-shaped area: left half, plus the bottom-right quarter.
    ox, oy = ORIGIN
    ell = shapely.Polygon(
        [
            (ox, oy),
            (ox + 64, oy),
            (ox + 64, oy - 64),
            (ox + 128, oy - 64),
            (ox + 128, oy - 128),
            (ox, oy - 128),
        ]
    )
    area = tmp_path / "area.gpkg"
    # In another CRS than the imagery (reprojected on reading).
    gpd.GeoDataFrame(geometry=[ell], crs="EPSG:32611").to_crs("EPSG:4326").to_file(area)
    codes, crop = codes_of(tiny_model, scene, gpkg, tmp_path, area=area)
    assert at(codes, crop, 30, 30) == 1  # road inside
    assert at(codes, crop, 100, 30) == 255  # the same road outside the area
    assert at(codes, crop, 100, 50) == 255  # background outside
    assert at(codes, crop, 30, 50) == 0 and at(codes, crop, 100, 110) == 0  # background inside
    assert at(codes, crop, 100, 90) == 1
    outside = codes == 255
    assert 0.2 < outside.mean() < 0.3  # the top-right quarter (less rounding at the edges)
    assert crop.area_source == "file"
    assert crop.summary()["area_m2"] == pytest.approx(128 * 128 * 0.75, rel=0.03)


def test_area_crops_to_its_bounding_box(tiny_model, scene, tmp_path):
    gpkg = write_lines(tmp_path / "roads.gpkg", [hline(30)], highway=["primary"])
    area = box_layer(tmp_path / "area.gpkg", 10, 20, 60, 100)
    codes, crop = codes_of(tiny_model, scene, gpkg, tmp_path, area=area)
    assert (int(crop.window.col_off), int(crop.window.row_off)) == (20, 40)
    assert codes.shape == (160, 100)
    assert not (codes == 255).any()


def test_default_area_is_the_labels_convex_hull(tiny_model, scene, tmp_path):
    """Without --area: the hull of the labels, widened by half the widest road (6 m)."""
    lines = [
        shapely.LineString([(OX + 10, OY - 20), (OX + 60, OY - 20)]),
        shapely.LineString([(OX + 10, OY - 20), (OX + 10, OY - 70)]),
    ]
    gpkg = write_lines(tmp_path / "roads.gpkg", lines, highway=["residential"] * 2)
    codes, crop = codes_of(tiny_model, scene, gpkg, tmp_path)
    assert crop.area_source == "convex hull"
    assert at(codes, crop, 20, 30) == 0  # inside the hull, no road: background
    assert at(codes, crop, 50, 60) == 255  # beyond the hull's diagonal edge: ignored
    assert at(codes, crop, 30, 20) == 2
    # The crop is the hull's bounding box (plus 6 m): nothing beyond it is read.
    assert int(crop.window.col_off) == int((10 - 6) / 0.5)
    assert codes.shape[1] == pytest.approx((60 + 6 - 4) / 0.5, abs=2)


def test_centerlines_layer_of_a_vectorised_result(tiny_model, scene, tmp_path):
    """The `centerlines` layer is read from a multi-layer GeoPackage; `class` holds class names."""
    gpkg = tmp_path / "roads.gpkg"
    poly = shapely.box(OX, OY - 10, OX + 128, OY)
    gpd.GeoDataFrame({"class": ["major"]}, geometry=[poly], crs="EPSG:32611").to_file(
        gpkg, layer="roads_major"
    )
    gpd.GeoDataFrame(
        {"class": ["minor", "track", "bridge"], "width_m": [5.0, 3.0, 9.0]},
        geometry=[hline(40), hline(70), hline(100)],
        crs="EPSG:32611",
    ).to_file(gpkg, layer="centerlines")
    area = box_layer(tmp_path / "area.gpkg", 0, 0, 128, 128)
    codes, crop = codes_of(tiny_model, scene, gpkg, tmp_path, area=area)
    assert crop.layer["layer"] == "centerlines"
    assert [at(codes, crop, 64, y) for y in (40, 70, 100)] == [2, 3, 254]
    assert at(codes, crop, 64, 3) == 0  # the polygon layer is not read


def test_mask_labels_of_plain_images(tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    mask = np.zeros((96, 128), dtype=np.uint8)
    mask[40:50, :] = 1
    mask[:, 120:] = 255
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    meta = read_meta(tiny_model)
    opts = LabelOptions(mask_values="0=background,1=road,255=ignore", gsd=0.5)
    crop = label_crop(0, tmp_path / "a.png", tmp_path / "a_mask.png", meta, 64, opts, tmp_path)
    with rasterio.open(crop.codes) as ds:
        codes = ds.read(1)
    assert codes.shape == (96, 128) and crop.area_source == "whole image"
    assert codes[45, 10] == 254 and codes[10, 10] == 0 and codes[10, 125] == 255


def test_class_map_and_errors():
    names = ("background", "major", "minor", "track")
    r = class_rule(["kind"], names, "kind", "big=major,small=minor")
    assert feature_codes(["big", "small", "other"], r).tolist() == [1, 2, 254]
    r = class_rule(["road_type"], names)
    assert r.source == "spacenet" and feature_codes([1, 5, 7], r).tolist() == [1, 2, 3]
    # A model with one road class: every road is that class.
    r = class_rule(["highway"], ("background", "road"))
    assert feature_codes(["primary", "weird", "steps"], r).tolist() == [1, 1, 255]
    with pytest.raises(ConfigError, match="not an attribute"):
        class_rule(["highway"], names, "kind")
    with pytest.raises(ConfigError, match="needs class_field"):
        class_rule(["highway"], names, None, "a=major")


def test_labels_that_miss_the_raster(tiny_model, scene, tmp_path):
    far = shapely.LineString([(OX + 5000, OY), (OX + 5100, OY)])
    gpkg = write_lines(tmp_path / "far.gpkg", [far], highway=["primary"])
    with pytest.raises(LabelError, match="does not overlap raster"):
        codes_of(tiny_model, scene, gpkg, tmp_path)
