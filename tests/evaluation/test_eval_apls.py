"""APLS and metric road graphs, on drawn graphs and on the real SpaceNet/OSM labels."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from roadseg.evaluation.apls import apls
from roadseg.evaluation.graphs import graph_from_lines
from shapely import LineString


def grid_lines(dx=0.0, dy=0.0):
    ys, xs = (0, 100, 200, 300), (0, 150, 300, 450)
    lines = [LineString([(0 + dx, y + dy), (500 + dx, y + dy)]) for y in ys]
    lines += [LineString([(x + dx, 0 + dy), (x + dx, 300 + dy)]) for x in xs]
    return np.array(lines, dtype=object)


def test_graph_from_lines_splits_at_crossings_and_snaps_ends():
    g = graph_from_lines(grid_lines())
    assert g.number_of_nodes() == 4 * 5 and g.number_of_edges() == 4 * 4 + 4 * 3
    assert sum(d["length"] for *_, d in g.edges(data=True)) == pytest.approx(4 * 500 + 4 * 300)
    # Two pieces whose ends miss each other by 0.3 m are joined.
    g = graph_from_lines(
        np.array([LineString([(0, 0), (50, 0)]), LineString([(50.3, 0), (100, 0)])])
    )
    assert sorted(d for _, d in g.degree()) == [1, 1, 2]


def test_apls_of_a_graph_with_itself_is_one():
    g = graph_from_lines(grid_lines())
    r = apls(g, g)
    assert r.apls == 1.0 and r.truth_to_pred == 1.0 and r.pred_to_truth == 1.0
    assert r.pairs_truth > 1000 and r.snapped_truth == 1.0


def test_apls_falls_as_edges_are_removed():
    t = graph_from_lines(grid_lines())
    edges = list(t.edges(keys=True))
    order = np.random.default_rng(1).permutation(len(edges))
    g = t.copy()
    scores = []
    for k in order[:8]:
        g.remove_edge(*edges[k])
        scores.append(apls(t, g).apls)
    assert all(s < 1.0 for s in scores)
    assert all(b <= a + 1e-9 for a, b in zip(scores, scores[1:], strict=False)), scores
    assert scores[-1] < 0.8


def test_apls_is_symmetric_tolerant_to_small_shifts_and_zero_when_empty():
    t = graph_from_lines(grid_lines())
    near = graph_from_lines(grid_lines(2.0, 1.0))  # within the 4 m snap
    r = apls(t, near)
    assert 0.97 < r.apls < 1.0
    assert apls(near, t).apls == pytest.approx(r.apls)
    far = graph_from_lines(grid_lines(10.0, 10.0))  # beyond the snap distance
    assert apls(t, far).apls < 0.3
    empty = graph_from_lines(np.array([], dtype=object))
    assert apls(t, empty).apls == 0.0
    assert np.isnan(apls(empty, empty).apls)


def test_detour_costs_in_both_directions():
    # Truth: a straight 400 m road; prediction: the same road with a 100 m gap bypassed by a
    # 300 m detour. Paths across the gap are ~200 m longer and the detour has no true road:
    # penalised both ways.
    truth = graph_from_lines(np.array([LineString([(0, 0), (400, 0)])]))
    pred = graph_from_lines(
        np.array(
            [
                LineString([(0, 0), (150, 0)]),
                LineString([(250, 0), (400, 0)]),
                LineString([(150, 0), (150, 100), (250, 100), (250, 0)]),
            ]
        )
    )
    r = apls(truth, pred)
    assert 0.2 < r.truth_to_pred < 0.95 and 0.1 < r.pred_to_truth < 0.95


TILES = (99, 990, 991, 995, 997, 998, 999)


@pytest.mark.real_data
def test_spacenet_against_osm_graphs(real_data, capsys):
    folder = real_data / "spacenet_vegas_labels_only"
    values = {}
    for n in TILES:
        sn = gpd.read_file(folder / f"spacenet_img{n}.geojson")
        osm = gpd.read_file(folder / f"osm_img{n}.geojson")
        utm = sn.estimate_utm_crs()
        gs = graph_from_lines(sn.to_crs(utm).geometry.values)
        go = graph_from_lines(osm.to_crs(utm).geometry.values)
        assert apls(gs, gs).apls == 1.0
        values[n] = apls(gs, go)
    with capsys.disabled():
        print("\nAPLS SpaceNet vs OSM:", {n: round(v.apls, 3) for n, v in values.items()})
    assert all(0.0 < v.apls < 1.0 for v in values.values())
    assert 0.3 < np.mean([v.apls for v in values.values()]) < 0.9
