"""Network cleaning steps, polygon coverage, and the synthetic-scene APLS floor."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from road_drawing import draw, write_class_raster
from road_graphs import net_of
from roadseg.evaluation.apls_cosmiq import apls_cosmiq
from roadseg.evaluation.cosmiq_graph import build_road_graph, line_parts
from roadseg.evaluation.network_stats import network_stats
from roadseg.vectorization import vectorize
from roadseg.vectorization.clean_graph import collapse_small_loops, drop_edge_stubs, faces

S = 256
#: The hand-built networks' raster: 100 m square, dead ends within 1 m of its edge leave it.
EXTENT = (100.0, 100.0, 1.0)


def lines_of(gpkg):
    return np.asarray(gpd.read_file(gpkg, layer="centerlines").geometry.values, dtype=object)


def test_merge_carriageways_gives_one_centreline(tmp_path):
    # A divided road: two 8 px (4 m) carriageways 6 px (3 m) apart, joined at both ends.
    roads = [
        ([(0, 120), (60, 120)], 10, 1),
        ([(60, 120), (80, 113), (180, 113), (200, 120)], 8, 1),
        ([(60, 120), (80, 127), (180, 127), (200, 120)], 8, 1),
        ([(200, 120), (S, 120)], 10, 1),
    ]
    src = write_class_raster(tmp_path / "d.tif", draw((S, S), roads))
    keep = vectorize(src, tmp_path / "k.gpkg", carriageways="keep")
    merged = vectorize(src, tmp_path / "m.gpkg", carriageways="merge")
    assert network_stats(lines_of(tmp_path / "k.gpkg")).loops_small == 1
    assert network_stats(lines_of(tmp_path / "m.gpkg")).loops_small == 0
    assert keep.cleanup["carriageways_merged"] == 0 and merged.cleanup["carriageways_merged"] >= 1
    assert merged.edges == 1 and merged.centerline_km == pytest.approx(S * 0.5 / 1e3, rel=0.1)


def test_collapse_loops_joins_a_road_split_lengthwise(tmp_path):
    # A 14 m wide road split by a 2 m x 30 m gap (a shadow, a marking): two 6 m strips
    # joined at both ends make a loop of about 250 m² with 2 m of ground inside: one road.
    roads = [([(0, 128), (S, 128)], 28, 2)]
    arr = draw((S, S), roads)
    arr[126:130, 98:158] = 0
    src = write_class_raster(tmp_path / "s.tif", arr)
    off = vectorize(src, tmp_path / "off.gpkg", cleaning=False)
    on = vectorize(src, tmp_path / "on.gpkg")
    assert network_stats(lines_of(tmp_path / "off.gpkg")).loops_tiny == 1
    assert off.cleanup["loops_collapsed"] == 0 and on.cleanup["loops_collapsed"] == 1
    assert network_stats(lines_of(tmp_path / "on.gpkg")).loops_small == 0
    # The mean of the two sides: one straight line down the middle, edge to edge.
    merged = shapely.line_merge(shapely.union_all(lines_of(tmp_path / "on.gpkg")))
    assert merged.geom_type == "LineString"
    assert merged.length == pytest.approx(S * 0.5, rel=0.02)
    ys = shapely.get_coordinates(merged)[:, 1]
    assert np.ptp(ys) < 1.0


def test_collapse_loops_keeps_islands_and_blocks(tmp_path):
    # A ring road (18 x 18 m centreline, a 14 x 14 m island) on a through road: the
    # island is wider than a lane, a roundabout, kept (SpaceNet's truth draws the ring).
    roads = [([(0, 128), (110, 128)], 8, 2), ([(146, 128), (S, 128)], 8, 2)]
    roads.append(([(110, 110), (146, 110), (146, 146), (110, 146), (110, 110)], 8, 2))
    src = write_class_raster(tmp_path / "r.tif", draw((S, S), roads))
    on = vectorize(src, tmp_path / "on.gpkg")
    assert on.cleanup["loops_collapsed"] == 0
    assert network_stats(lines_of(tmp_path / "on.gpkg")).loops_small == 1
    # Three roads crossing in a small triangle (375 m² between the centrelines, 60 m base,
    # 50 m high): a road leaves every corner.
    tri = [([(20, 180), (236, 180)], 8, 2), ([(70, 230), (175, 55)], 8, 2)]
    tri.append(([(190, 230), (85, 55)], 8, 2))
    src = write_class_raster(tmp_path / "t.tif", draw((S, S), tri))
    res = vectorize(src, tmp_path / "t.gpkg")
    areas = [f.area for f in shapely.get_parts(shapely.polygonize(lines_of(tmp_path / "t.gpkg")))]
    assert res.cleanup["loops_collapsed"] == 0 and min(areas) < 400, areas
    # A real block (a 60 x 60 m ring) stays whatever the limits.
    big = [([(20, 20), (140, 20), (140, 140), (20, 140), (20, 20)], 8, 2)]
    src = write_class_raster(tmp_path / "b.tif", draw((S, S), big))
    vectorize(src, tmp_path / "b.gpkg", loop_area_m2=400, loop_width_m=15)
    assert len(shapely.get_parts(shapely.polygonize(lines_of(tmp_path / "b.gpkg")))) == 1


def test_graph_loop_collapse_takes_the_mean_of_a_split_road_only():
    # A road split around a 2 m wide obstacle (0 m wide sides: all of the gap is ground),
    # beside a small triangle with a road at every corner and a 50 x 50 m block.
    net = net_of(
        [
            (0, 1, [(0, 0), (5, 1), (20, 1), (25, 0)]),
            (0, 1, [(0, 0), (5, -1), (20, -1), (25, 0)]),
            (6, 0, [(-30, 0), (0, 0)]),
            (1, 7, [(25, 0), (40, 0)]),
            (7, 8, [(40, 0), (50, 0)]),
            (8, 9, [(50, 0), (45, 9)]),
            (9, 7, [(45, 9), (40, 0)]),
            (8, 10, [(50, 0), (90, 0), (90, 50)]),
            (9, 10, [(45, 9), (45, 50), (90, 50)]),
        ],
        extent=None,
        width=0.0,
    )
    areas = sorted(round(a) for a, _ in faces(net))
    assert len(areas) == 3 and areas[:2] == [40, 45]
    assert collapse_small_loops(net, 400) == 1
    assert sorted(round(a) for a, _ in faces(net))[0] == 45
    # The two sides became their mean: a straight line along y = 0 from x = -30 to 40.
    ((_, end, d),) = net.g.edges(6, data=True)
    line = d["geom"]
    assert end == 7 and line.length == pytest.approx(70.0)
    assert np.abs(shapely.get_coordinates(line)[:, 1]).max() < 1e-9
    # An island with about 5 m of ground between two 3 m wide sides is kept.
    net = net_of(
        [(0, 1, [(0, 0), (5, 6), (20, 6), (25, 0)]), (0, 1, [(0, 0), (5, -6), (20, -6), (25, 0)])],
        extent=None,
        width=3.0,
    )
    assert collapse_small_loops(net, 400) == 0


def test_edge_stubs_are_dropped_only_inside_a_road_at_the_edge():
    # Junction at (50, 3) on a 6 m road along the top edge: a 3 m whisker to the edge
    # (inside the road), a 30 m road down, and an inner 4 m dead end away from the edge.
    # At (90, 96) a road going down continues 4 m straight to the bottom edge, and at
    # (60, 94) a side road leaves a 6 m road and reaches the edge 6 m further on: roads.
    net = net_of(
        [
            (0, 1, [(0, 3), (50, 3)]),
            (1, 2, [(50, 3), (100, 3)]),
            (1, 3, [(50, 3), (50, 0)]),
            (4, 5, [(20, 40), (20, 70)]),
            (5, 6, [(20, 70), (24, 70)]),
            (5, 7, [(20, 70), (20, 99.5)]),
            (8, 9, [(90, 40), (90, 96)]),
            (9, 10, [(90, 96), (90, 100)]),
            (9, 11, [(90, 96), (100, 96)]),
            (12, 13, [(40, 94), (60, 94)]),
            (13, 14, [(60, 94), (75, 94)]),
            (13, 15, [(60, 94), (60, 100)]),
        ],
        extent=EXTENT,
    )
    assert drop_edge_stubs(net, 10.0) == 1
    assert not net.g.has_node(3)
    assert all(net.g.has_node(n) for n in (6, 10, 15))


def test_polygons_of_classes_do_not_overlap(tmp_path):
    roads = [([(0, 100), (S, 110)], 14, 1), ([(90, 0), (120, S)], 9, 2)]
    roads += [([(0, 30), (S, 200)], 7, 2)]
    src = write_class_raster(tmp_path / "p.tif", draw((S, S), roads))
    vectorize(src, tmp_path / "p.gpkg", simplify_m=2.0)
    major = gpd.read_file(tmp_path / "p.gpkg", layer="roads_major").geometry.union_all()
    minor = gpd.read_file(tmp_path / "p.gpkg", layer="roads_minor").geometry.union_all()
    assert major.area > 100 and minor.area > 100
    assert major.intersection(minor).area == pytest.approx(0.0, abs=1e-6)


def synthetic_class_raster(tmp_path, seed, size=384, gsd=0.5):
    from roadseg.geo.classes import ClassScheme
    from roadseg.synth import build_scene

    scheme = ClassScheme.preset("synth")
    layout, _ = build_scene(size, seed, gsd, "urban")
    shapes = sorted(
        ((r.line.buffer(r.width_m / 2.0, cap_style="flat"), scheme.values[r.road_class])
         for r in layout.roads),
        key=lambda s: -s[1],
    )  # fmt: skip
    arr = rasterize(shapes, out_shape=(size, size), transform=Affine(gsd, 0, 0, 0, gsd, 0),
                    dtype=np.uint8)  # fmt: skip
    path = tmp_path / f"s{seed}.tif"
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                       dtype="uint8", nodata=255, crs="EPSG:32611",
                       transform=Affine(gsd, 0, 500_000.0, 0, -gsd, 4_000_000.0)) as dst:  # fmt: skip
        dst.write(arr, 1)
        dst.update_tags(
            ROADSEG_CLASSES=json.dumps(list(scheme.names)),
            ROADSEG_WIDTHS_M=json.dumps([0.0] + [12.0, 7.0, 4.0][: len(scheme.names) - 1]),
        )

    def to_crs(xy):
        return np.c_[500_000.0 + xy[:, 0], 4_000_000.0 - xy[:, 1]]

    truth = np.array([shapely.transform(r.line, to_crs) for r in layout.roads], dtype=object)
    ext = size * gsd
    truth = shapely.clip_by_rect(truth, 500_000.0, 4_000_000.0 - ext, 500_000.0 + ext, 4e6)
    return path, truth[~shapely.is_empty(truth)]


def test_synthetic_scenes_apls_floor(tmp_path):
    """Drawn synthetic truth → vectorise (default settings) → mean APLS (CosmiQ) ≥ 0.85."""
    scores = []
    for seed in (1, 2, 3):
        path, truth = synthetic_class_raster(tmp_path, seed)
        vectorize(path, tmp_path / f"v{seed}.gpkg")
        noded = shapely.get_parts(shapely.union_all(truth))
        t = build_road_graph(line_parts(noded), 5.0)
        p = build_road_graph(line_parts(lines_of(tmp_path / f"v{seed}.gpkg")), 5.0)
        scores.append(apls_cosmiq(t, p).apls)
    print("synthetic APLS", [round(x, 3) for x in scores])
    assert np.mean(scores) >= 0.85 and min(scores) > 0.7, scores
