"""CosmiQ-compatible APLS and TOPO: drawn graphs, and CosmiQ's own code on SpaceNet Vegas img0.

The reference figures below were made by running CosmiQ's ``apls`` 0.1.0 (the PyPI release of
github.com/CosmiQ/apls, same ``apls.py`` as the repository's last commit) on the shared tile,
README command 1 (``--test_method=gt_json_prop_wkt``): truth ``roads.geojson``, proposal
``proposal_albu_wkt_pix.csv``, image ``image.tif``. The sample output CosmiQ published for this
tile (APLS 0.736: 0.797 / 0.684, TOPO F1 0.631) is *not* what that code computes from these
files (see the README's Limits), so the tests pin what the code computes
(``scripts/cosmiq_reference.py`` reruns it).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import Transformer
from roadseg.evaluation.apls import apls
from roadseg.evaluation.apls_cosmiq import CosmiqParams, apls_cosmiq, midpoints
from roadseg.evaluation.cosmiq_graph import build_road_graph, line_parts
from roadseg.evaluation.graphs import graph_from_lines
from roadseg.evaluation.topo import topo

TILE = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "spacenet_vegas_img0"
)
#: CosmiQ's command-line defaults (``python apls.py``), used by its README's command 1.
COSMIQ_CLI = CosmiqParams.command_line()


def graph(*lines, **kw):
    return build_road_graph([np.asarray(c, dtype=float) for c in lines], **kw)


def grid(dx=0.0, dy=0.0):
    ys, xs = (0, 100, 200, 300), (0, 150, 300, 450)
    out = []
    for y in ys:  # horizontal streets split at every crossing: shared vertices = junctions
        out += [
            [(a + dx, y + dy), (b + dx, y + dy)]
            for a, b in zip(xs[:-1] + (450,), xs[1:] + (500,), strict=True)
        ]
    for x in xs:
        out += [[(x + dx, a + dy), (x + dx, a + 100 + dy)] for a in (0, 100, 200)]
    return graph(*out)


def test_graph_building_follows_cosmiq_vertices_and_strict_simplification():
    # Vertices shared exactly are junctions; runs of degree-2 nodes merge into one edge,
    # also where two lines meet end to end (osmnx strict simplification).
    g = graph([(0, 0), (50, 0), (100, 0)], [(100, 0), (200, 0)], [(50, 0), (50, 80)])
    assert len(g.xy) == 4 and sorted(len(c) for _, _, c in g.edges) == [2, 2, 3]
    # Lines crossing without a shared vertex are not connected (CosmiQ does not node).
    g = graph([(0, 0), (100, 0)], [(50, -50), (50, 50)])
    assert len(g.xy) == 4 and len(g.edges) == 2
    # Specks whose longest path is under 5 m go.
    assert len(graph([(0, 0), (3, 0)], [(10, 10), (100, 10)]).edges) == 1
    # A ring with no junction is not simplified: every vertex stays a node.
    ring = graph([(0, 0), (50, 0), (50, 50), (0, 50), (0, 0)])
    assert len(ring.xy) == 4 and len(ring.edges) == 4


def test_doubled_segments_vanish_like_in_cosmiqs_code():
    # Road B ends by drawing again the last 3 m of road A: CosmiQ drops both copies,
    # which cuts A in two; drop_doubled=False keeps one copy.
    a = [(0, 0), (97, 0), (100, 0), (200, 0)]
    b = [(97, 60), (97, 0), (100, 0)]
    cut = graph(a, b)
    kept = graph(a, b, drop_doubled=False)
    assert len(cut.edges) == 3 and cut.total_length() == pytest.approx(97 + 100 + 60)
    assert len(kept.edges) == 4 and kept.total_length() == pytest.approx(97 + 3 + 100 + 60)
    truth = graph(a, [(97, 60), (97, 0)])
    assert apls_cosmiq(truth, kept).apls == 1.0
    assert apls_cosmiq(truth, cut).truth_to_pred < 0.8  # routes across the gap are missing
    # A loop hanging off one node is simplified once per direction, then both copies go.
    lolly = [(0, 0), (100, 0)], [(100, 0), (150, 30), (150, -30), (100, 0)]
    assert len(graph(*lolly).edges) == 1
    assert len(graph(*lolly, drop_doubled=False).edges) == 2


def test_midpoints_only_on_curved_long_edges():
    bend = graph([(0, 0), (100, 0), (100, 100)])
    assert len(midpoints(bend, 50, 0.012).xy) == 2 + 3  # 200 m: linspace(0, 200, 5)[1:-1]
    assert len(midpoints(graph([(0, 0), (200, 0)]), 50, 0.012).xy) == 2  # straight: none
    assert len(midpoints(graph([(0, 0), (200, 0)]), 50, -1).xy) == 5  # eps < 0: every edge


def test_identity_empty_and_shift():
    g = grid()
    assert apls_cosmiq(g, g).apls == 1.0
    assert apls_cosmiq(g, graph()).apls == 0.0
    near = apls_cosmiq(g, grid(2.0, 1.0))
    assert 0.97 < near.apls <= 1.0 and near.snapped_truth == 1.0
    assert apls_cosmiq(g, grid(10.0, 10.0)).apls == 0.0  # nothing within the 4 m snap


def test_a_gentle_bend_scores_high_with_cosmiq_and_low_with_roadseg():
    # The finding: a road drawn 6 m off its truth along a bend. CosmiQ's control
    # points are nodes (no midpoints on straight edges), so the shift costs little.
    truth = [[(0, 0), (150, 0)], [(150, 0), (300, 0)], [(150, 0), (150, 150)]]
    pred = [[(0, 0), (75, 6), (150, 0)], [(150, 0), (300, 0)], [(150, 0), (150, 150)]]
    c = apls_cosmiq(graph(*truth), graph(*pred))
    assert c.apls > 0.99, c
    r = apls(
        graph_from_lines(np.array([shapely.LineString(x) for x in truth])),
        graph_from_lines(np.array([shapely.LineString(x) for x in pred])),
    )
    assert r.apls < c.apls - 0.05, (r, c)


def test_renaming_a_node_twice_loses_the_first_control_point():
    # Two truth ends 2 m apart both snap onto the proposal's one end node: with renaming
    # the later takes the node over and the earlier has no counterpart.
    truth = graph(
        [(0, 0), (100, 0)], [(100, 0), (200, 0)], [(100, 0), (100, 1.5)], [(0, 2), (-40, 2)]
    )
    pred = graph([(0, 0), (200, 0)])
    on = apls_cosmiq(truth, pred, CosmiqParams(allow_renaming=True))
    off = apls_cosmiq(truth, pred, CosmiqParams(allow_renaming=False))
    assert on.truth_to_pred < off.truth_to_pred


def test_removing_roads_lowers_the_score():
    full = grid()
    part = build_road_graph([c for _, _, c in full.edges][:-4])
    fewer = build_road_graph([c for _, _, c in full.edges][:-8])
    a, b = apls_cosmiq(full, part).apls, apls_cosmiq(full, fewer).apls
    assert 1.0 > a > b


def test_topo_identity_and_shift():
    g = grid()
    assert topo(g, g).f1 == 1.0
    assert topo(g, grid(10.0, 10.0)).f1 == 0.0
    assert 0.9 < topo(g, grid(1.0, 1.0)).f1 <= 1.0


def test_topo_holes_stay_within_the_radius():
    # 100 m road, a 20 m stub keeping its end a junction, then 300 m on: from (0, 0),
    # (100, 0) and (100, 20) the subgraph is the 100 m edge and the stub (3 nodes + holes
    # at 30, 60, 90 m); from (400, 0) nothing else lies within 150 m (1 hole).
    g = graph([(0, 0), (100, 0)], [(100, 0), (400, 0)], [(100, 0), (100, 20)])
    r = topo(g, g)
    assert (r.tp, r.fp, r.fn) == (3 * 6 + 1, 0, 0)


def sample_graphs(drop_doubled=True):
    """The shared tile's graphs, built the way CosmiQ's ``gt_json_prop_wkt`` builds them."""
    if not (TILE / "proposal_albu_wkt_pix.csv").exists():
        pytest.skip(f"real SpaceNet sample not found at {TILE}")
    with rasterio.open(TILE / "image.tif") as src:
        t = src.transform
    truth = gpd.read_file(TILE / "roads.geojson")
    utm = truth.estimate_utm_crs()
    to_utm = Transformer.from_crs("EPSG:4326", utm, always_xy=True)

    def project(c):
        return np.c_[to_utm.transform(c[:, 0], c[:, 1])]

    tl = [project(c) for c in line_parts(truth.geometry.values)]
    pl = []
    for wkt in pd.read_csv(TILE / "proposal_albu_wkt_pix.csv")["WKT_Pix"]:
        c = shapely.get_coordinates(shapely.from_wkt(wkt))  # pixel corners, as CosmiQ's wkt_to_G
        pl.append(project(np.c_[t.c + c[:, 0] * t.a, t.f + c[:, 1] * t.e]))
    # CosmiQ: truth pieces under 5 m and proposal pieces under 10 px (3 m) are dropped.
    return (
        build_road_graph(tl, 5.0, drop_doubled=drop_doubled),
        build_road_graph(pl, 3.0, 30, drop_doubled=drop_doubled),
    )


def test_sample_graphs_are_cosmiqs():
    """CosmiQ's code builds a truth of 71 nodes / 90 edges, a proposal of 86 / 110."""
    t, p = sample_graphs()
    assert (len(t.xy), len(t.edges), len(p.xy), len(p.edges)) == (71, 90, 86, 110)
    assert p.total_length() == pytest.approx(4686.05, abs=0.01)
    assert t.total_length() == pytest.approx(4461.29, rel=1e-3)  # CosmiQ: great-circle


def test_sample_apls_matches_cosmiqs_code_with_its_command_line_defaults():
    """CosmiQ's ``apls.py`` (README command 1): 0.68938 = hmean(0.74099, 0.64449)."""
    t, p = sample_graphs()
    r = apls_cosmiq(t, p, COSMIQ_CLI)
    print(
        f"\nimg0, CosmiQ CLI settings: {r.apls:.4f} ({r.truth_to_pred:.4f}, {r.pred_to_truth:.4f})"
    )
    assert (r.control_truth, r.control_pred, r.routes_truth, r.routes_pred) == (71, 86, 4970, 6974)
    assert r.truth_to_pred == pytest.approx(0.74099, abs=0.001)
    assert r.pred_to_truth == pytest.approx(0.64449, abs=0.001)
    assert r.apls == pytest.approx(0.68938, abs=0.001)


def test_sample_apls_matches_cosmiqs_code_with_roadsegs_defaults():
    """CosmiQ's ``make_graphs`` defaults (50 m, curvature 0.012, 10 m routes), renaming on."""
    t, p = sample_graphs()
    r = apls_cosmiq(t, p)
    assert (r.control_truth, r.control_pred) == (81, 90)  # 10 and 4 midpoints
    assert r.truth_to_pred == pytest.approx(0.72782, abs=0.001)
    assert r.pred_to_truth == pytest.approx(0.64470, abs=0.001)
    assert r.apls == pytest.approx(0.68374, abs=0.001)


def test_sample_apls_without_cosmiqs_doubled_segment_removal():
    """CosmiQ's code, its ``create_edge_linestrings`` patched to keep one copy: 0.8231/0.7641."""
    t, p = sample_graphs(drop_doubled=False)
    r = apls_cosmiq(t, p, COSMIQ_CLI)
    assert (len(t.xy), len(t.edges)) == (71, 91)
    assert r.truth_to_pred == pytest.approx(0.8231, abs=0.001)
    assert r.pred_to_truth == pytest.approx(0.7641, abs=0.001)
    # With roadseg's defaults: the 0.791 `roadseg evaluate` gives on this tile, whose noding
    # of the truth vectors also keeps one copy (CosmiQ's removal of both: 0.684).
    r = apls_cosmiq(t, p)
    assert (r.apls, r.truth_to_pred, r.pred_to_truth) == pytest.approx(
        (0.7913, 0.8142, 0.7696), abs=0.001
    )


def test_sample_topo_matches_cosmiqs_code_over_all_origins():
    """CosmiQ's ``compute_topo`` with each truth node once as origin: holes 4157 (2112 filled),
    marbles 3252, F1 0.5701. Marbles are matched in a different order (CosmiQ's follows
    Python's set order of its node ids): one more marble finds a hole in 12 of 71 origins.
    """
    t, p = sample_graphs()
    r = topo(t, p)
    assert (r.tp + r.fn, r.tp + r.fp, r.origins) == (4157, 3252, 71)
    assert abs(r.tp - 2112) <= 15
    assert r.f1 == pytest.approx(0.5701, abs=0.005)
