"""Centreline topology on drawn class rasters: exact node/edge structure, lengths, attributes."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from road_drawing import UTM, WGS84, draw, write_class_raster
from roadseg.vectorization import vectorize

S = 256  # pixels; 128 m at 0.5 m


def run(tmp_path, arr, where=UTM, name="c", **kw):
    src = write_class_raster(tmp_path / f"{name}.tif", arr, where)
    res = vectorize(src, tmp_path / f"{name}.gpkg", **kw)
    lines = gpd.read_file(tmp_path / f"{name}.gpkg", layer="centerlines")
    g = nx.MultiGraph()
    for r in lines.itertuples():
        g.add_edge(r.node_u, r.node_v)
    return res, lines, g


def degrees(g):
    return sorted(d for _, d in g.degree())


def check_clean(lines):
    """No zero-length or duplicate edges; lines meet exactly at their nodes."""
    geoms = lines.geometry.values
    assert (shapely.length(geoms) > 0).all()
    norm = {shapely.normalize(gm).wkb for gm in geoms}
    assert len(norm) == len(geoms), "duplicate edges"
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    at = {}
    for i, r in enumerate(lines.itertuples()):
        for node, xy in ((r.node_u, first[i]), (r.node_v, last[i])):
            at.setdefault(node, set()).add((float(xy[0]), float(xy[1])))
    assert all(len(v) == 1 for v in at.values()), (
        "edges of one node must end at the same coordinate"
    )


def test_cross_has_one_junction_four_arms(tmp_path):
    arr = draw((S, S), [([(0, 128), (S, 128)], 12, 1), ([(128, 0), (128, S)], 8, 2)])
    res, lines, g = run(tmp_path, arr)
    assert degrees(g) == [1, 1, 1, 1, 4]
    assert len(lines) == 4 and res.components == 1
    check_clean(lines)
    # Arms run from the junction to the raster edge: ~64 m each (pixel centres, ±1 m).
    assert lines.length_m.to_numpy() == pytest.approx([64.0] * 4, abs=1.5)
    assert res.centerline_km == pytest.approx(0.255, abs=0.004)
    by_class = Counter(lines["class"])
    assert by_class == {"major": 2, "minor": 2}
    w = lines.groupby("class").width_m.mean()
    assert w["major"] == pytest.approx(6.0, abs=0.5)  # 12 px at 0.5 m
    assert w["minor"] == pytest.approx(4.0, abs=0.5)  # 8 px


def test_ten_pixel_road_is_five_metres_wide(tmp_path):
    arr = draw((S, S), [([(0, 100), (S, 100)], 10, 1)])
    _, lines, g = run(tmp_path, arr)
    assert len(lines) == 1 and degrees(g) == [1, 1]
    assert lines.width_m.iloc[0] == pytest.approx(5.0, abs=0.3)
    assert lines.length_m.iloc[0] == pytest.approx(127.5, abs=0.6)
    assert lines["class"].iloc[0] == "major"


def test_t_junction(tmp_path):
    arr = draw((S, S), [([(0, 60), (S, 60)], 10, 1), ([(128, 60), (128, S)], 10, 2)])
    _, lines, g = run(tmp_path, arr)
    assert degrees(g) == [1, 1, 1, 3]
    check_clean(lines)
    stem = lines[lines["class"] == "minor"]
    assert len(stem) == 1
    assert stem.length_m.iloc[0] == pytest.approx((S - 60) * 0.5, abs=1.5)


def test_closed_loop_is_one_self_loop_edge(tmp_path):
    ring = [(60, 60), (196, 60), (196, 196), (60, 196), (60, 60)]
    arr = draw((S, S), [(ring, 10, 2)])
    _, lines, g = run(tmp_path, arr)
    assert len(lines) == 1
    r = lines.iloc[0]
    assert r.node_u == r.node_v and g.number_of_nodes() == 1
    assert r.geometry.is_ring
    assert r.length_m == pytest.approx(4 * 136 * 0.5, rel=0.05)


def test_loop_attached_to_a_road(tmp_path):
    ring = [(60, 60), (196, 60), (196, 196), (60, 196), (60, 60)]
    arr = draw((S, S), [(ring, 10, 2), ([(0, 128), (60, 128)], 10, 1)])
    _, lines, g = run(tmp_path, arr)
    check_clean(lines)
    assert nx.number_connected_components(g) == 1
    # A junction of degree 3 where the road meets the ring; the ring is one or two edges.
    assert degrees(g).count(3) in (1, 2)
    assert degrees(g).count(1) == 1
    assert lines.length_m.sum() == pytest.approx(4 * 136 * 0.5 + 60 * 0.5, rel=0.06)


def test_short_spur_is_pruned_long_branch_kept(tmp_path):
    arr = draw(
        (S, S),
        [
            ([(0, 128), (S, 128)], 10, 1),
            ([(60, 128), (60, 118)], 6, 2),  # 5 m stub out of the road side: shorter than prune_m
            ([(180, 128), (180, 20)], 8, 2),  # 54 m branch
        ],
    )
    res, lines, g = run(tmp_path, arr, prune_m=12.0)
    assert degrees(g) == [1, 1, 1, 3]
    assert res.cleanup["spurs_pruned"] >= 1
    check_clean(lines)


def test_aligned_gap_is_bridged(tmp_path):
    arr = draw((S, S), [([(0, 128), (110, 128)], 10, 1), ([(130, 128), (S, 128)], 10, 1)])
    res, lines, g = run(tmp_path, arr, bridge_m=15.0)
    assert res.cleanup["gaps_bridged"] == 1
    assert len(lines) == 1 and degrees(g) == [1, 1]
    assert lines.bridges.iloc[0] == 1
    assert lines.length_m.iloc[0] == pytest.approx(127.5, abs=1.0)
    assert lines["class"].iloc[0] == "major"


def test_gap_too_wide_or_misaligned_is_not_bridged(tmp_path):
    wide = draw(
        (S, S), [([(0, 128), (90, 128)], 10, 1), ([(150, 128), (S, 128)], 10, 1)]
    )  # 30 m gap
    res, lines, _ = run(tmp_path, wide, name="wide", bridge_m=15.0)
    assert res.cleanup["gaps_bridged"] == 0 and len(lines) == 2
    # Two parallel roads whose ends are 10 m apart sideways: not facing each other.
    side = draw((S, S), [([(0, 100), (128, 100)], 10, 1), ([(128, 120), (S, 120)], 10, 1)])
    res, lines, _ = run(tmp_path, side, name="side", bridge_m=15.0)
    assert res.cleanup["gaps_bridged"] == 0 and len(lines) == 2
    # Perpendicular: a road ending 8 m before crossing another road's end direction.
    perp = draw((S, S), [([(0, 128), (120, 128)], 10, 1), ([(136, 140), (136, S)], 10, 1)])
    res, lines, _ = run(tmp_path, perp, name="perp", bridge_m=15.0)
    assert res.cleanup["gaps_bridged"] == 0


def test_geographic_raster_measures_in_metres(tmp_path):
    arr = draw((S, S), [([(0, 128), (S, 128)], 12, 1), ([(128, 0), (128, S)], 8, 2)])
    _, utm, _ = run(tmp_path, arr, UTM, name="utm")
    res, geo, g = run(tmp_path, arr, WGS84, name="geo")
    assert degrees(g) == [1, 1, 1, 1, 4]
    assert geo.crs.to_epsg() == 4326
    # Same lengths and widths in metres (±1%) as the same drawing in UTM.
    assert sorted(geo.length_m) == pytest.approx(sorted(utm.length_m), rel=0.01)
    assert sorted(geo.width_m) == pytest.approx(sorted(utm.width_m), rel=0.02)
    polys = gpd.read_file(tmp_path / "geo.gpkg", layer="roads_major")
    polys_utm = gpd.read_file(tmp_path / "utm.gpkg", layer="roads_major")
    assert polys.area_m2.sum() == pytest.approx(polys_utm.area_m2.sum(), rel=0.01)


def test_polygons_per_class_with_area(tmp_path):
    arr = draw((S, S), [([(0, 128), (S, 128)], 12, 1), ([(128, 0), (128, S)], 8, 2)])
    arr[5:8, 5:8] = 2  # a 2.25 m² speck: below min area
    arr[126:129, 30:33] = 0  # a hole in the major road: filled
    run(tmp_path, arr, min_area_m2=5.0)
    major = gpd.read_file(tmp_path / "c.gpkg", layer="roads_major")
    minor = gpd.read_file(tmp_path / "c.gpkg", layer="roads_minor")
    assert set(major["class"]) == {"major"} and set(minor["class"]) == {"minor"}
    assert len(major) == 1  # major is drawn over minor at the crossing
    assert all(len(p.interiors) == 0 for p in major.geometry)
    assert major.area_m2.sum() == pytest.approx(256 * 12 * 0.25, rel=0.02)
    assert len(minor) == 2  # split by the major road; the speck is gone
    assert minor.area_m2.sum() == pytest.approx((256 - 12) * 8 * 0.25, rel=0.02)
    np.testing.assert_allclose(major.area_m2, major.geometry.area, rtol=1e-6)


def test_nodata_is_not_road(tmp_path):
    arr = draw((S, S), [([(0, 128), (S, 128)], 12, 1)], nodata_rows=slice(0, 40))
    arr[40:128, 100:110] = 2
    res, lines, g = run(tmp_path, arr)
    assert degrees(g) == [1, 1, 1, 3]
    stem = lines[lines["class"] == "minor"]
    assert stem.length_m.sum() == pytest.approx((128 - 40) * 0.5, abs=4.0)


def test_short_roads_leaving_the_raster_or_the_data_are_not_spurs(tmp_path):
    # A road 16 px above the bottom edge with a branch going out of the raster (8 m long),
    # and one going up into nodata (5 m): both are roads leaving the data, not spurs.
    arr = draw(
        (S, S),
        [
            ([(0, 240), (S, 240)], 10, 1),
            ([(80, 240), (80, S)], 8, 2),
            ([(180, 240), (180, 200)], 8, 2),
        ],
    )
    arr[:229] = 255
    res, lines, g = run(tmp_path, arr, prune_m=12.0)
    assert degrees(g) == [1, 1, 1, 1, 3, 3]
    stubs = lines[lines["class"] == "minor"]
    assert len(stubs) == 2 and (stubs.length_m <= 8.5).all()
    # Without the nodata, the upward branch is a real 20 m road: also kept; a 4 m stub in the
    # middle of the raster is pruned.
    arr2 = draw((S, S), [([(0, 128), (S, 128)], 10, 1), ([(80, 128), (80, 136 + 8)], 8, 2)])
    res, lines, g = run(tmp_path, arr2, name="mid", prune_m=12.0)
    assert degrees(g) == [1, 1] and res.cleanup["spurs_pruned"] >= 1
