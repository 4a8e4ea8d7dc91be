"""Cleaning steps added for APLS: dead ends bridged onto roads (with the raster's support),
close junctions merged, whiskers of roads running along the raster's edge."""

from __future__ import annotations

import json
import math
from collections import Counter

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from click.testing import CliRunner
from road_drawing import draw, write_class_raster
from road_graphs import net_of
from roadseg.cli.main import cli
from roadseg.geo.classes import Classes
from roadseg.geo.grid import Grid
from roadseg.vectorization.bridge_roads import bridge_to_roads
from roadseg.vectorization.clean_graph import EDGE_GAP_M, drop_edge_stubs
from roadseg.vectorization.extract import ArraySource, MaskSupport
from roadseg.vectorization.junctions import merge_close_junctions

GSD = 0.5
#: The hand-built networks' raster: 100 m square, dead ends within 1.5 px of its edge leave it.
EXTENT = (100.0, 100.0, 1.5 * GSD)


def support_of(arr):
    """The real support reader over an in-memory class array (0.5 m pixels)."""
    grid = Grid(None, Affine.identity(), arr.shape[1], arr.shape[0], GSD)
    return MaskSupport(ArraySource(arr, grid, Classes.untagged(1)), (GSD, GSD))


def t_scene(gap_is_road: bool):
    """A road along y = 50 m and a road from the top edge stopping 15 m short of it."""
    arr = np.zeros((200, 200), np.uint8)
    arr[92:108, :] = 1  # 8 m wide road, rows 46-54 m
    arr[:70, 94:106] = 1  # the side road's pixels down to y = 35 m
    if gap_is_road:
        arr[70:92, 94:106] = 1
    net = net_of([(0, 1, [(0.25, 50), (99.75, 50)]), (2, 3, [(50, 0.25), (50, 35)])], extent=EXTENT)
    return net, support_of(arr)


def test_support_is_the_share_of_a_line_on_road_pixels():
    arr = np.zeros((20, 40), np.uint8)
    arr[:, :20] = 1
    s = support_of(arr)
    assert s(np.array([[1.0, 5.0], [9.0, 5.0]])) == 1.0
    assert s(np.array([[11.0, 5.0], [19.0, 5.0]])) == 0.0
    assert s(np.array([[1.0, 5.0], [19.0, 5.0]])) == pytest.approx(0.5, abs=0.05)
    assert s(np.array([[-30.0, 5.0], [-10.0, 5.0]])) == 0.0  # outside the raster


def test_a_dead_end_short_of_a_road_is_bridged_where_the_prediction_covers_the_gap():
    net, support = t_scene(gap_is_road=True)
    assert bridge_to_roads(net, 20.0, 30.0, support) == 1
    g = net.g
    assert g.degree(3) == 1 + 1
    (junction,) = [n for n, d in g.degree() if d == 3]
    assert g.nodes[junction]["xy"] == pytest.approx((50.0, 50.0))
    assert sum(d["bridges"] for *_, d in g.edges(data=True)) == 1
    # Lines still meet exactly at their nodes.
    for u, v, d in g.edges(data=True):
        c = shapely.get_coordinates(d["geom"])
        ends = {tuple(c[0]), tuple(c[-1])}
        assert ends == {g.nodes[u]["xy"], g.nodes[v]["xy"]}


def test_an_end_is_bridged_onto_a_road_split_by_an_earlier_bridge():
    # Two side roads stop 12 m short of one road: the first bridge splits the road, and the
    # second end finds the half the split made (an edge added since the search began).
    net = net_of(
        [
            (0, 1, [(0.25, 50), (99.75, 50)]),
            (2, 3, [(30, 0.25), (30, 38)]),
            (4, 5, [(70, 0.25), (70, 38)]),
        ],
        extent=EXTENT,
    )
    assert bridge_to_roads(net, 20.0, 30.0, support_of(np.ones((200, 200), np.uint8))) == 2
    g = net.g
    junctions = sorted(g.nodes[n]["xy"] for n, d in g.degree() if d == 3)
    assert junctions == [pytest.approx((30.0, 50.0)), pytest.approx((70.0, 50.0))]
    assert g.degree(3) == 2 and g.degree(5) == 2


def test_no_bridge_across_background_beyond_reach_or_without_a_raster():
    net, support = t_scene(gap_is_road=False)
    assert bridge_to_roads(net, 20.0, 30.0, support) == 0
    net, support = t_scene(gap_is_road=True)
    assert bridge_to_roads(net, 10.0, 30.0, support) == 0  # 15 m away
    assert bridge_to_roads(net, 20.0, 30.0, None) == 0
    assert net.g.number_of_edges() == 2


def test_no_shortcut_onto_the_road_a_spur_leaves():
    # A 10 m spur leaving the road at x = 40 and turning along it: the road ahead of its end
    # (rays within 30°) is 12 m away, and the network already joins them by 24.4 m.
    arr = np.ones((200, 200), np.uint8)
    net = net_of(
        [
            (0, 1, [(0.25, 50), (40, 50)]),
            (1, 2, [(40, 50), (99.75, 50)]),
            (1, 3, [(40, 50), (40, 44), (44, 44)]),
        ],
        extent=EXTENT,
    )
    assert bridge_to_roads(net, 20.0, 30.0, support_of(arr)) == 0


def test_a_crossing_traced_as_two_t_junctions_becomes_one_node_at_the_crossing():
    # Roads along y = 50 and x = 50 cross; the skeleton met them at (48, 50) and (52, 50)
    # with a 4 m link between, the side road bent towards each.
    net = net_of(
        [
            (0, 1, [(0.25, 50), (48, 50)]),
            (1, 2, [(48, 50), (52, 50)]),
            (2, 3, [(52, 50), (99.75, 50)]),
            (1, 4, [(48, 50), (50, 44), (50, 0.25)]),
            (2, 5, [(52, 50), (50, 56), (50, 99.75)]),
        ],
        extent=EXTENT,
    )
    assert merge_close_junctions(net, 0.0) == 0
    assert merge_close_junctions(net, 15.0) == 1
    g = net.g
    (x,) = [n for n, d in g.degree() if d == 4]
    assert g.nodes[x]["xy"] == pytest.approx((50.0, 50.0), abs=0.5)
    assert g.number_of_edges() == 4
    for u, v, d in g.edges(data=True):
        c = shapely.get_coordinates(d["geom"])
        assert {tuple(c[0]), tuple(c[-1])} == {g.nodes[u]["xy"], g.nodes[v]["xy"]}


def test_junctions_of_a_bend_or_a_long_link_stay_apart():
    # A T then a second T 12 m on (longer than the 6 m roads are wide): two junctions.
    net = net_of(
        [
            (0, 1, [(0.25, 50), (40, 50)]),
            (1, 2, [(40, 50), (52, 50)]),
            (2, 3, [(52, 50), (99.75, 50)]),
            (1, 4, [(40, 50), (40, 0.25)]),
            (2, 5, [(52, 50), (52, 99.75)]),
        ],
        extent=EXTENT,
    )
    assert merge_close_junctions(net, 15.0) == 0
    # Two Ts 4 m apart whose side roads leave on the same side: not one crossing.
    net = net_of(
        [
            (0, 1, [(0.25, 50), (48, 50)]),
            (1, 2, [(48, 50), (52, 50)]),
            (2, 3, [(52, 50), (99.75, 50)]),
            (1, 4, [(48, 50), (30, 0.25)]),
            (2, 5, [(52, 50), (70, 0.25)]),
        ],
        extent=EXTENT,
    )
    assert merge_close_junctions(net, 15.0) == 0


def test_whiskers_of_a_road_along_the_edge_go_but_a_bend_at_the_edge_stays():
    # A 6 m road along the top edge, its centre 4.5 m from it (1.5 m of ground): the stub
    # to the edge (4.25 m) is longer than half the width plus 1.5 px, shorter than half
    # plus EDGE_GAP_M: a whisker. Bottom right, a road bends at (95, 95.5) and a 4.75 m
    # stub continues to the right edge: the roads there do not run along that side.
    assert 3.0 + 0.75 < 4.25 <= 3.0 + EDGE_GAP_M
    net = net_of(
        [
            (0, 1, [(0.25, 4.5), (50, 4.5)]),
            (1, 2, [(50, 4.5), (99.75, 4.5)]),
            (1, 3, [(50, 4.5), (50, 0.25)]),
            (5, 6, [(40, 60), (95, 95.5)]),
            (6, 7, [(95, 95.5), (99.75, 94)]),
            (6, 8, [(95, 95.5), (95, 99.75)]),
        ],
        extent=EXTENT,
    )
    assert drop_edge_stubs(net, 10.0) == 1
    assert not net.g.has_node(3)
    assert net.g.has_node(7) and net.g.has_node(8)


def line_ends(gpkg):
    """How many centrelines end at each point of the GeoPackage (UTM metres, to the mm)."""
    ends = Counter()
    for line in gpd.read_file(gpkg, layer="centerlines").geometry:
        c = shapely.get_coordinates(line)
        ends.update((round(x, 3), round(y, 3)) for x, y in (c[0], c[-1]))
    return ends


def most_ends_near(ends, col, row, radius_m=2.0):
    """The most centrelines ending at one point within ``radius_m`` of a pixel (col, row)."""
    x, y = 500_000.0 + col * GSD, 4_000_000.0 - row * GSD
    return max((n for (px, py), n in ends.items() if math.hypot(px - x, py - y) <= radius_m),
               default=0)  # fmt: skip


def test_cli_counts_the_new_steps_and_turns_them_on(tmp_path):
    # An 8 m road along row 128 of a 128 m raster; a crossing traced as two T-junctions
    # 5 m apart (side roads at columns 59 and 69), and at column 190 a side road from the
    # top stopping 1.5 m short of the road (its bridge lies on road pixels but for that).
    roads = [([(0, 128), (256, 128)], 16, 1), ([(59, 0), (59, 128)], 16, 1)]
    roads += [([(69, 128), (69, 256)], 16, 1), ([(190, 0), (190, 117)], 16, 1)]
    src = write_class_raster(tmp_path / "x.tif", draw((256, 256), roads))
    runner = CliRunner(mix_stderr=False)
    out = tmp_path / "x.gpkg"
    r = runner.invoke(
        cli, ["vectorize", str(src), "--out", str(out), "--json", "--road-bridge", "0"]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    cleaning = d["metrics"]["cleaning"]
    assert cleaning["ends_joined_to_roads"] == 0 and cleaning["junctions_merged"] == 0
    assert d["settings"]["cleaning"]["bridge_ends_to_roads_m"] == 0.0
    ends = line_ends(out)
    assert most_ends_near(ends, 64, 128, 4.0) == 3  # two T-junctions
    assert most_ends_near(ends, 190, 128) == 0 and d["metrics"]["components"] == 2
    args = ["vectorize", str(src), "--out", str(out), "--json", "--overwrite"]
    r = runner.invoke(cli, [*args, "--junction", "15"])  # road bridging is on by default (20 m)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    s = d["settings"]["cleaning"]
    assert s["bridge_ends_to_roads_m"] == 20.0 and s["merge_junctions_m"] == 15.0
    cleaning = d["metrics"]["cleaning"]
    assert cleaning["ends_joined_to_roads"] == 1 and cleaning["junctions_merged"] == 1
    # The written network: one crossing where four roads meet, and the side road joined
    # to the road it stopped short of.
    ends = line_ends(out)
    assert most_ends_near(ends, 64, 128) == 4
    assert most_ends_near(ends, 190, 128) == 3 and d["metrics"]["components"] == 1
    r = runner.invoke(cli, [*args, "--junction", "-1"])
    assert r.exit_code != 0 and "junction" in r.stderr
