"""CosmiQ-compatible APLS and TOPO: drawn graphs, and the published SpaceNet sample (img0)."""

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


def graph(*lines):
    return build_road_graph([np.asarray(c, dtype=float) for c in lines])


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


def test_graph_building_follows_cosmiq_vertices_lines_and_simplification():
    # Vertices shared exactly are junctions; a line's inner vertices merge into one edge;
    # where two lines meet end to end (degree 2, two line ids) a node stays.
    g = graph([(0, 0), (50, 0), (100, 0)], [(100, 0), (200, 0)], [(50, 0), (50, 80)])
    assert len(g.xy) == 5 and len(g.edges) == 4
    # Lines crossing without a shared vertex are not connected (CosmiQ does not node).
    g = graph([(0, 0), (100, 0)], [(50, -50), (50, 50)])
    assert len(g.xy) == 4 and len(g.edges) == 2
    # Specks whose longest path is under 5 m go.
    assert len(graph([(0, 0), (3, 0)], [(10, 10), (100, 10)]).edges) == 1


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


def sample_graphs():
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
    return build_road_graph(tl, 5.0), build_road_graph(pl, 3.0, 30)


def test_cosmiq_sample_truth_to_proposal():
    """CosmiQ's published output for this tile: truth→proposal 0.797 (max snap 4 m)."""
    t, p = sample_graphs()
    r = apls_cosmiq(t, p, CosmiqParams(is_curved_eps=1e3))
    print(
        f"\nCosmiQ sample img0: APLS {r.apls:.4f} (T→P {r.truth_to_pred:.4f}, P→T {r.pred_to_truth:.4f})"
    )
    assert r.truth_to_pred == pytest.approx(0.797, abs=0.01)
    assert r.apls == pytest.approx(0.784, abs=0.005)  # ours; see the strict xfail below


@pytest.mark.xfail(
    strict=True,
    reason="proposal→truth is 0.766 here against CosmiQ's published 0.684 (total 0.784 vs 0.736); "
    "the published sample was most likely made from the repository's pickled proposal graph "
    "(its default test method), which cannot be read here",
)
def test_cosmiq_sample_published_total():
    t, p = sample_graphs()
    r = apls_cosmiq(t, p, CosmiqParams(is_curved_eps=1e3))
    assert r.apls == pytest.approx(0.736, abs=0.01)
    assert r.pred_to_truth == pytest.approx(0.684, abs=0.01)


def test_topo_on_the_sample_is_near_cosmiqs():
    """CosmiQ's sample: TOPO precision 0.682, recall 0.587, F1 0.631 (500 random origins)."""
    t, p = sample_graphs()
    r = topo(t, p)
    assert r.precision == pytest.approx(0.682, abs=0.03)
    assert r.f1 == pytest.approx(0.631, abs=0.03)
