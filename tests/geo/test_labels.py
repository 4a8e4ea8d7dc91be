"""Labels from vectors (any CRS, per-class widths in metres, per window) and masks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from georasters import make_raster
from rasterio.features import rasterize
from rasterio.windows import Window
from roadseg.errors import CRSError, InputNotFoundError, LabelError
from roadseg.geo.classes import ClassScheme, parse_class_map
from roadseg.geo.labels import MaskLabels, VectorLabels, open_labels
from roadseg.geo.raster import open_raster


def _lines(tmp_path, crs="EPSG:32611", **cols):
    # Two roads across the tiny_utm raster (x 500000..500032, y 3999968..4000000).
    geoms = [
        shapely.LineString([(500_000, 3_999_984), (500_032, 3_999_984)]),  # horizontal, row 32
        shapely.LineString([(500_008, 4_000_000), (500_008, 3_999_968)]),  # vertical, col 16
    ]
    gdf = gpd.GeoDataFrame(
        cols or {"road_class": ["major", "track"]}, geometry=geoms, crs="EPSG:32611"
    )
    p = tmp_path / "roads.gpkg"
    gdf.to_crs(crs).to_file(p, driver="GPKG")
    return p


def test_buffer_widths_in_metres_and_classes(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    lab = VectorLabels(_lines(tmp_path), ClassScheme.preset("synth"), src.grid)
    m = lab.rasterize(src.grid)
    # major: 12 m wide at 0.5 m/px → 24 rows around row 32 (rows 20..43)
    col = m[:, 50]
    assert set(np.flatnonzero(col == 1)) == set(range(20, 44))
    # track: 4 m wide → 8 px around col 16 (cols 12..19), outside the major road
    row = m[5, :]
    assert set(np.flatnonzero(row == 3)) == set(range(12, 20))
    # major wins at the junction
    assert m[32, 16] == 1


def test_per_feature_width_field(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    p = _lines(tmp_path, road_class=["minor", "minor"], width_m=[2.0, 6.0])
    m = VectorLabels(p, ClassScheme.preset("synth"), src.grid).rasterize(src.grid)
    assert (m[:, 50] == 2).sum() == 4  # 2 m → 4 px
    assert (m[5, :] == 2).sum() == 12  # 6 m → 12 px


def test_labels_in_other_crs_are_reprojected(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    a = VectorLabels(_lines(tmp_path), ClassScheme.preset("synth"), src.grid).rasterize(src.grid)
    b_path = _lines(tmp_path / "x", crs="EPSG:4326") if (tmp_path / "x").mkdir() is None else None
    b = VectorLabels(b_path, ClassScheme.preset("synth"), src.grid).rasterize(src.grid)
    assert (a == b).mean() > 0.99


def test_window_rasterisation_matches_whole(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    lab = VectorLabels(_lines(tmp_path), ClassScheme.preset("synth"), src.grid)
    whole = lab.rasterize(src.grid)
    win = lab.rasterize(src.grid.window_grid(Window(8, 16, 24, 32)))
    np.testing.assert_array_equal(win, whole[16:48, 8:32])
    # A window far away touches no feature.
    assert not lab.rasterize(src.grid.window_grid(Window(1000, 1000, 8, 8))).any()


def test_bad_vector_labels(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    scheme = ClassScheme.preset("synth")
    with pytest.raises(InputNotFoundError, match="do not exist"):
        VectorLabels(tmp_path / "none.gpkg", scheme, src.grid)
    p = _lines(tmp_path)
    with pytest.raises(LabelError, match="no attribute 'kind'.*road_class"):
        VectorLabels(p, scheme, src.grid, class_field="kind")
    p2 = _lines(
        tmp_path / "u" if (tmp_path / "u").mkdir() is None else None,
        road_class=["major", "motorway"],
    )
    with pytest.raises(LabelError, match=r"\['motorway'\].*class_map"):
        VectorLabels(p2, scheme, src.grid)
    far = gpd.GeoDataFrame(
        {"road_class": ["major"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=32611
    )
    far.to_file(tmp_path / "far.gpkg")
    with pytest.raises(LabelError, match="falls inside the raster"):
        VectorLabels(tmp_path / "far.gpkg", scheme, src.grid)
    nocrs = tmp_path / "nocrs.geojson"
    nocrs.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}'
    )
    # GeoJSON without a crs member is WGS84 by definition: it is outside the raster.
    with pytest.raises(LabelError):
        VectorLabels(nocrs, ClassScheme.preset("binary"), src.grid)
    junk = tmp_path / "junk.gpkg"
    junk.write_text("nope")
    with pytest.raises(LabelError, match="cannot read labels"):
        VectorLabels(junk, scheme, src.grid)


def test_vector_labels_need_a_crs_on_the_imagery(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "p.png")
    src = open_raster(tmp_path / "p.png", gsd=0.5)
    with pytest.raises(CRSError, match="georeferenced"):
        VectorLabels(_lines(tmp_path), ClassScheme.preset("synth"), src.grid)


def test_mask_labels_values_colours_and_ignore(tmp_path, tiny_utm):
    src = open_raster(tiny_utm)
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 10:20] = 255
    p = make_raster(tmp_path / "m.tif", mask)
    binary = ClassScheme.preset("binary")
    m = MaskLabels(p, binary).rasterize(src.grid)
    assert m[15].all() and not m[30].any()
    # Outside the mask → ignore
    out = MaskLabels(p, binary).rasterize(src.grid.window_grid(Window(60, 0, 8, 4)))
    assert (out[:, 4:] == 255).all()
    rgb = np.zeros((3, 64, 64), np.uint8)
    rgb[:, 40:50] = np.array([110, 193, 228], np.uint8)[:, None, None]
    pc = make_raster(tmp_path / "c.tif", rgb)
    mc = MaskLabels(pc, binary, colors={(110, 193, 228): 1}).rasterize(src.grid)
    assert mc[45].all() and not mc[10].any()
    soft = make_raster(
        tmp_path / "s.tif", (np.arange(64, dtype=np.uint8)[None, :, None] * 4).repeat(64, 2)
    )
    ms = MaskLabels(soft, binary, threshold=200).rasterize(src.grid)
    assert not ms[49].any() and ms[50].all()
    assert isinstance(open_labels(p, binary, src), MaskLabels)


def test_parse_class_map_errors():
    s = ClassScheme.preset("roads3")
    with pytest.raises(Exception, match="VALUE=CLASS"):
        parse_class_map("5", s)
    with pytest.raises(Exception, match="not one of"):
        parse_class_map("5=highway", s)


def test_spacenet_labels_land_on_the_roads(real_data):
    """Per-window rasterisation equals an independent whole-tile computation in UTM."""
    tile = real_data / "spacenet_vegas_img0"
    src = open_raster(tile / "image.tif")
    lab = VectorLabels(tile / "roads.geojson", ClassScheme.preset("spacenet"), src.grid)
    ours = np.zeros(src.grid.shape, np.uint8)
    for r in range(0, src.height, 256):
        for c in range(0, src.width, 256):
            win = Window(c, r, min(256, src.width - c), min(256, src.height - r))
            ours[r : r + win.height, c : c + win.width] = lab.rasterize(src.grid.window_grid(win))
    # Independent: geopandas buffer in UTM 11N by half the class width, rasterise whole.
    gdf = gpd.read_file(tile / "roads.geojson")
    widths = {"1": 12, "2": 12, "3": 12, "4": 7, "5": 7, "6": 7, "7": 4}
    utm = gdf.to_crs(32611)
    buf = utm.geometry.buffer(utm["road_type"].astype(str).map(widths).to_numpy() / 2)
    shapes = gpd.GeoSeries(buf, crs=32611).to_crs(src.crs)
    ref = rasterize(
        ((g, 1) for g in shapes), out_shape=src.grid.shape, transform=src.grid.transform
    )
    inter = ((ours > 0) & (ref > 0)).sum()
    union = ((ours > 0) | (ref > 0)).sum()
    assert inter / union > 0.97
    assert set(np.unique(ours)) <= {0, 1, 2, 3}
    # Roads are darker asphalt than the desert/roofs around them in this tile.
    img = src.read().data.mean(axis=0)
    assert img[ours > 0].mean() < img[ours == 0].mean()


def test_colour_coded_mask_needs_its_colours_but_grey_rgb_masks_stay_binary(tmp_path, tiny_utm):
    """A colour-coded mask read as one band made nearly every pixel road (Dubai without
    ``mask_colors``: hold-out IoU 0.05): it is refused, naming its colours. White roads on
    black saved as RGB (DeepGlobe) stay a binary mask."""
    src = open_raster(tiny_utm)
    binary = ClassScheme.preset("binary")
    rgb = np.empty((3, 64, 64), np.uint8)
    rgb[:] = np.array([132, 41, 246], np.uint8)[:, None, None]  # land
    rgb[:, 40:50] = np.array([110, 193, 228], np.uint8)[:, None, None]  # road
    coded = make_raster(tmp_path / "c.tif", rgb)
    with pytest.raises(LabelError) as err:
        MaskLabels(coded, binary)
    assert err.value.param == "mask_colors"
    assert "132,41,246 (84 %)" in str(err.value) and "110,193,228 (16 %)" in str(err.value)
    m = MaskLabels(coded, binary, colors={(110, 193, 228): 1}).rasterize(src.grid)
    assert m[45].all() and not m[10].any()
    grey = np.zeros((3, 64, 64), np.uint8)
    grey[:, 10:20] = 255
    m = MaskLabels(make_raster(tmp_path / "g.tif", grey), binary).rasterize(src.grid)
    assert m[15].all() and not m[30].any()
    grey[:, 10:12] = 250  # JPEG-ish noise: still grey, but no longer two values
    noisy = make_raster(tmp_path / "n.tif", grey)
    with pytest.raises(LabelError) as err:
        MaskLabels(noisy, binary)
    assert err.value.param == "mask_values" and "mask_threshold" in err.value.hint
    m = MaskLabels(noisy, binary, threshold=128).rasterize(src.grid)
    assert m[15].all() and m[10].all() and not m[30].any()


def test_a_road_mask_of_more_than_two_values_needs_their_meaning(tmp_path, tiny_utm):
    """Massachusetts masks (0, 1, 255 = no-data fill) read as nonzero = road made the fill
    road; now refused unless ``values`` (or ``threshold``) say what each value is."""
    src = open_raster(tiny_utm)
    binary = ClassScheme.preset("binary")
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 10:20] = 1
    mask[0, 40:] = 255
    p = make_raster(tmp_path / "m.tif", mask)
    with pytest.raises(LabelError) as err:
        MaskLabels(p, binary)
    assert "holds 3 values" in str(err.value) and "255 (38 %)" in str(err.value)
    m = MaskLabels(p, binary, values={1: 1, 255: 255}).rasterize(src.grid)
    assert m[15].all() and (m[50] == 255).all() and not m[30].any()
    # multi-class schemes read values as class indexes, as before
    assert MaskLabels(p, ClassScheme.preset("synth"), values={1: 1, 255: 255}) is not None


def test_palette_mask_with_colour_map(tmp_path, tiny_utm):
    """Palette masks (one band of indexes + a colour table, as in part of the Dubai set)."""
    src = open_raster(tiny_utm)
    idx = np.zeros((1, 64, 64), np.uint8)
    idx[0, 20:30] = 7
    p = make_raster(tmp_path / "pal.tif", idx, photometric="palette")
    import rasterio

    with rasterio.open(p, "r+") as ds:
        ds.write_colormap(1, {0: (0, 0, 0, 255), 7: (110, 193, 228, 255)})
    m = MaskLabels(p, ClassScheme.preset("binary"), colors={(110, 193, 228): 1}).rasterize(src.grid)
    assert m[25].all() and not m[5].any()
    plain = make_raster(tmp_path / "plain1.tif", idx)
    with pytest.raises(LabelError, match="no palette"):
        MaskLabels(plain, ClassScheme.preset("binary"), colors={(110, 193, 228): 1})


def test_declared_nodata_and_class_rasters_pass_the_value_check(tmp_path, tiny_utm):
    """Declared no-data is not a label value; a class raster's ids are road classes."""
    import json

    import rasterio

    src = open_raster(tiny_utm)
    binary = ClassScheme.preset("binary")
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 10:20] = 1
    mask[0, 40:] = 255
    p = make_raster(tmp_path / "nd.tif", mask, nodata=255)
    m = MaskLabels(p, binary).rasterize(src.grid)
    assert m[15].all() and (m[50] == 255).all() and not m[30].any()
    classes = np.zeros((1, 64, 64), np.uint8)
    classes[0, 10:20], classes[0, 30:35], classes[0, 50:55] = 1, 2, 3
    c = make_raster(tmp_path / "classes.tif", classes, nodata=255)
    with rasterio.open(c, "r+") as ds:
        ds.update_tags(ROADSEG_CLASSES=json.dumps(["background", "major", "minor", "track"]))
    m = MaskLabels(c, binary).rasterize(src.grid)
    assert m[15].all() and m[32].all() and m[52].all() and not m[25].any()
