"""The pure skeleton → edges step on hand-drawn skeletons."""

from __future__ import annotations

import numpy as np
import shapely
from roadseg.vectorization.network import RoadNetwork
from roadseg.vectorization.pixelgraph import BlockPlace, trace_block


def trace(skel, seam_step=None, core=None, num_classes=2):
    skel = np.asarray(skel, dtype=bool)
    h, w = skel.shape
    place = BlockPlace(0, 0, w, core or (0, h, 0, w), seam_step)
    cls = skel.astype(np.uint8)
    return trace_block(skel, cls, np.ones(skel.shape, np.float32), place, (1.0, 1.0), num_classes)


def graph(edges):
    net = RoadNetwork(2)
    net.add(edges)
    net.dissolve()
    return net.g


def test_staircase_has_no_false_junction():
    s = np.zeros((6, 8), bool)
    for r, c in [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4), (4, 5), (5, 6)]:
        s[r, c] = True
    e = trace(s)
    assert len(e) == 1
    coords = shapely.get_coordinates(e.geoms[0])
    steps = np.hypot(*np.diff(coords, axis=0).T)
    assert len(coords) == s.sum() and steps.max() <= np.sqrt(2) + 1e-9  # ordered pixel path
    assert e.npix[0] == s.sum() - 2 and e.counts[0, 1] == s.sum() - 2


def test_plus_and_x_junctions():
    plus = np.zeros((9, 9), bool)
    plus[4, :] = True
    plus[:, 4] = True
    g = graph(trace(plus))
    assert sorted(d for _, d in g.degree()) == [1, 1, 1, 1, 4]
    x = np.eye(9, dtype=bool) | np.fliplr(np.eye(9, dtype=bool))
    g = graph(trace(x))
    assert sorted(d for _, d in g.degree()) == [1, 1, 1, 1, 4]


def test_ring_without_nodes_is_a_self_loop():
    s = np.zeros((8, 8), bool)
    s[1, 1:7] = s[6, 1:7] = s[1:7, 1] = s[1:7, 6] = True
    e = trace(s)
    assert len(e) == 1 and e.u[0] == e.v[0]
    assert e.geoms[0].is_closed and e.geoms[0].length == 20


def test_seams_cut_chains_and_dissolve_back():
    s = np.zeros((20, 20), bool)
    s[7, :] = True
    s[7:, 13] = True
    whole = graph(trace(s))
    parts = RoadNetwork(2)
    for r0, r1, c0, c1 in [(0, 10, 0, 10), (0, 10, 10, 20), (10, 20, 0, 10), (10, 20, 10, 20)]:
        parts.add(trace(s, seam_step=10, core=(r0, r1, c0, c1)))
    parts.dissolve()
    assert (
        sorted(d for _, d in parts.g.degree())
        == sorted(d for _, d in whole.degree())
        == [1, 1, 1, 3]
    )
    lw = sorted(d["length"] for *_, d in whole.edges(data=True))
    lp = sorted(d["length"] for *_, d in parts.g.edges(data=True))
    np.testing.assert_allclose(lp, lw)
    # Pixel counts (class, width) survive the cut: same totals as the whole trace.
    assert sum(d["npix"] for *_, d in parts.g.edges(data=True)) == sum(
        d["npix"] for *_, d in whole.edges(data=True)
    )


def test_isolated_pixels_and_pairs_give_no_edges():
    s = np.zeros((5, 5), bool)
    s[0, 0] = True
    s[3, 3] = s[3, 4] = True
    e = trace(s)
    assert len(e) == 0
