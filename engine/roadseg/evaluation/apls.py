"""APLS: Average Path Length Similarity between two road graphs (pure).

Our definition follows CosmiQ Works' APLS (SpaceNet 3; Van Etten et al. 2018,
``apls.py``), with these exact steps:

1. **Control points.** Each graph gets a node every ``interval_m`` metres along
   every edge (the original nodes are kept): ``A'`` and ``B'``.
2. **Snapping.** Every control node of ``A'`` is projected onto the nearest edge
   of ``B'``; if that point is within ``snap_m`` metres it is inserted into
   ``B'`` as a node (``B''``; a point within 1 mm of an edge end maps to that
   end node). Control nodes farther away have no counterpart.
3. **Paths.** For every unordered pair ``(a, b)`` of control nodes of ``A'`` (a
   seeded random sample of at most ``max_nodes`` nodes when there are more)
   with a path in ``A'`` of length ``L_A ≥ min_path_m``: if both have
   counterparts and a path joins them in ``B''`` (length ``L_B``), the pair's
   difference is ``min(1, |L_A − L_B| / L_A)``; otherwise (a missing
   counterpart or no path) it is 1.
4. **One direction.** ``C(A→B) = 1 − mean(differences)``; NaN without pairs.
5. **APLS** is the harmonic mean ``2·C(T→P)·C(P→T) / (C(T→P) + C(P→T))`` of the
   truth→prediction direction (penalises missing roads and broken routes) and
   the prediction→truth direction (penalises spurious roads and shortcuts). If
   one direction has no pairs, APLS is the other one; 0 if either is 0.

Consequently ``APLS(G, G) == 1`` for any graph with a path of at least
``min_path_m``, and removing edges from a copy lowers the score. Shortest paths
use edge lengths in metres (Dijkstra via scipy). Graphs are metric road graphs
(see :mod:`roadseg.evaluation.graphs`): nodes with ``x``/``y`` in metres, edges
with optional ``geometry`` (LineString) and ``length``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

_EPS = 1e-3


@dataclass
class _G:
    """A compact graph: node coordinates and edges (i, j, geometry from i to j, length)."""

    xy: np.ndarray
    ei: list[int]
    ej: list[int]
    geoms: list[shapely.LineString]
    lengths: list[float]


@dataclass(frozen=True)
class APLSResult:
    """APLS and its two directions.

    Attributes:
        apls: The symmetric score in [0, 1] (NaN when neither graph has a path).
        truth_to_pred: C(T→P): truth routes found in the prediction.
        pred_to_truth: C(P→T): predicted routes that exist in the truth.
        pairs_truth: Node pairs scored in the truth→prediction direction.
        pairs_pred: Node pairs scored in the prediction→truth direction.
        snapped_truth: Fraction of truth control nodes with a counterpart in the prediction.
        snapped_pred: Fraction of predicted control nodes with a counterpart in the truth.

    """

    apls: float
    truth_to_pred: float
    pred_to_truth: float
    pairs_truth: int
    pairs_pred: int
    snapped_truth: float
    snapped_pred: float


def _compact(g: nx.Graph) -> _G:
    nodes = list(g.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    xy = np.array([[g.nodes[n]["x"], g.nodes[n]["y"]] for n in nodes], dtype=float).reshape(-1, 2)
    ei, ej, geoms, lengths = [], [], [], []
    for u, v, d in g.edges(data=True):
        i, j = index[u], index[v]
        geom = d.get("geometry")
        if geom is None:
            geom = shapely.LineString([xy[i], xy[j]])
        else:
            c = shapely.get_coordinates(geom)
            # Orient from node i to node j.
            if np.hypot(*(c[0] - xy[i])) > np.hypot(*(c[-1] - xy[i])):
                geom = shapely.LineString(c[::-1])
        length = float(d.get("length", geom.length))
        if length <= 0:
            continue
        ei.append(i)
        ej.append(j)
        geoms.append(geom)
        lengths.append(length)
    return _G(xy, ei, ej, geoms, lengths)


def densify(g: _G, interval_m: float) -> _G:
    """Add a control node every ``interval_m`` metres along every edge."""
    xy = [p for p in g.xy]
    ei, ej, geoms, lengths = [], [], [], []
    for i, j, geom, length in zip(g.ei, g.ej, g.geoms, g.lengths, strict=True):
        cuts: Any = (
            np.arange(interval_m, length - interval_m * 0.25, interval_m) if interval_m > 0 else []
        )
        if len(cuts) == 0:
            ei.append(i)
            ej.append(j)
            geoms.append(geom)
            lengths.append(length)
            continue
        scale = geom.length / length if length else 1.0
        stops = [0.0, *cuts, length]
        prev = i
        for k in range(1, len(stops)):
            if k < len(stops) - 1:
                p = geom.interpolate(stops[k] * scale)
                xy.append(np.array([p.x, p.y]))
                nxt = len(xy) - 1
            else:
                nxt = j
            piece = substring(geom, stops[k - 1] * scale, stops[k] * scale)
            ei.append(prev)
            ej.append(nxt)
            geoms.append(piece)
            lengths.append(stops[k] - stops[k - 1])
            prev = nxt
    return _G(np.array(xy).reshape(-1, 2), ei, ej, geoms, lengths)


def insert_points(g: _G, points: np.ndarray, snap_m: float) -> tuple[_G, np.ndarray]:
    """Insert the projections of ``points`` within ``snap_m`` onto ``g``'s edges as nodes.

    Returns:
        The new graph and, per point, its node index (-1: nothing within ``snap_m``).

    """
    mapping = np.full(len(points), -1, dtype=np.int64)
    if not g.geoms or len(points) == 0:
        return g, mapping
    tree = shapely.STRtree(g.geoms)
    pts = shapely.points(points)
    pi, ek = tree.query_nearest(pts, max_distance=snap_m, all_matches=False)
    cuts: dict[int, list[tuple[float, int]]] = {}
    for p, e in zip(pi.tolist(), ek.tolist(), strict=True):
        geom, length = g.geoms[e], g.lengths[e]
        s = geom.project(pts[p]) * (length / geom.length if geom.length else 1.0)
        if s <= _EPS:
            mapping[p] = g.ei[e]
        elif s >= length - _EPS:
            mapping[p] = g.ej[e]
        else:
            cuts.setdefault(e, []).append((s, p))
    if not cuts:
        return g, mapping
    xy = [q for q in g.xy]
    ei, ej, geoms, lengths = [], [], [], []
    for e, (i, j, geom, length) in enumerate(zip(g.ei, g.ej, g.geoms, g.lengths, strict=True)):
        if e not in cuts:
            ei.append(i)
            ej.append(j)
            geoms.append(geom)
            lengths.append(length)
            continue
        scale = geom.length / length if length else 1.0
        prev, prev_s = i, 0.0
        for s, p in sorted(cuts[e]):
            if s - prev_s <= _EPS:
                mapping[p] = prev
                continue
            q = geom.interpolate(s * scale)
            xy.append(np.array([q.x, q.y]))
            cur = len(xy) - 1
            mapping[p] = cur
            ei.append(prev)
            ej.append(cur)
            lengths.append(s - prev_s)
            geoms.append(substring(geom, prev_s * scale, s * scale))
            prev, prev_s = cur, s
        ei.append(prev)
        ej.append(j)
        lengths.append(length - prev_s)
        geoms.append(substring(geom, prev_s * scale, geom.length))
    return _G(np.array(xy).reshape(-1, 2), ei, ej, geoms, lengths), mapping


def _distances(g: _G, sources: np.ndarray) -> np.ndarray:
    n = len(g.xy)
    if len(sources) == 0:
        return np.zeros((0, n))
    if not g.ei:
        d = np.full((len(sources), n), np.inf)
        d[np.arange(len(sources)), sources] = 0.0
        return d
    m = coo_matrix((g.lengths, (g.ei, g.ej)), shape=(n, n)).tocsr()
    # Parallel edges: coo→csr sums duplicates; keep the shortest instead.
    if m.nnz != len(g.lengths):
        best: dict[tuple[int, int], float] = {}
        for i, j, w in zip(g.ei, g.ej, g.lengths, strict=True):
            k = (min(i, j), max(i, j))
            best[k] = min(best.get(k, math.inf), w)
        ks = np.array(list(best.keys()), dtype=np.int64).reshape(-1, 2)
        m = coo_matrix((list(best.values()), (ks[:, 0], ks[:, 1])), shape=(n, n)).tocsr()
    return dijkstra(m, directed=False, indices=sources)


def _direction(
    a: _G, b: _G, snap_m: float, min_path_m: float, max_nodes: int, rng: np.random.Generator
) -> tuple[float, int, float]:
    """C(A→B), the number of pairs scored and the fraction of A's control nodes snapped."""
    n = len(a.xy)
    if n < 2:
        return float("nan"), 0, float("nan")
    b2, mapping = insert_points(b, a.xy, snap_m)
    src = np.arange(n) if n <= max_nodes else np.sort(rng.choice(n, max_nodes, replace=False))
    da = _distances(a, src)[:, src]
    mb = mapping[src]
    db = np.full(da.shape, np.inf)
    ok = mb >= 0
    if ok.any():
        d = _distances(b2, mb[ok])
        db[np.ix_(ok, ok)] = d[:, mb[ok]]
    iu = np.triu_indices(len(src), k=1)
    la, lb = da[iu], db[iu]
    keep = np.isfinite(la) & (la >= min_path_m)
    la, lb = la[keep], lb[keep]
    if la.size == 0:
        return float("nan"), 0, float(ok.mean())
    diff = np.where(np.isfinite(lb), np.minimum(1.0, np.abs(la - lb) / la), 1.0)
    return float(1.0 - diff.mean()), int(la.size), float((mapping >= 0).mean())


def apls(
    truth: nx.Graph,
    pred: nx.Graph,
    interval_m: float = 50.0,
    snap_m: float = 4.0,
    min_path_m: float = 10.0,
    max_nodes: int = 1000,
    seed: int = 0,
) -> APLSResult:
    """APLS between a truth and a predicted metric road graph (see the module docstring).

    Args:
        truth: True road graph (metres).
        pred: Predicted road graph (metres).
        interval_m: Spacing of control nodes along edges.
        snap_m: Largest distance from a control node to the other graph.
        min_path_m: Shorter paths are not scored.
        max_nodes: At most this many control nodes per direction (seeded sample).
        seed: Seed of that sample.

    >>> from roadseg.evaluation.graphs import graph_from_lines
    >>> from shapely import LineString
    >>> lines = [LineString([(0, 0), (200, 0)]), LineString([(100, -100), (100, 100)])]
    >>> t = graph_from_lines(np.array(lines))
    >>> apls(t, t).apls
    1.0

    """
    rng = np.random.default_rng(seed)
    a = densify(_compact(truth), interval_m)
    b = densify(_compact(pred), interval_m)
    c_tp, n_tp, s_t = _direction(a, b, snap_m, min_path_m, max_nodes, rng)
    c_pt, n_pt, s_p = _direction(b, a, snap_m, min_path_m, max_nodes, rng)
    return APLSResult(_harmonic(c_tp, c_pt), c_tp, c_pt, n_tp, n_pt, s_t, s_p)


def _harmonic(x: float, y: float) -> float:
    """Harmonic mean that tolerates one missing (NaN) side.

    >>> _harmonic(0.5, 1.0), _harmonic(float("nan"), 0.25), _harmonic(0.0, 1.0)
    (0.6666666666666666, 0.25, 0.0)
    """
    if math.isnan(x) and math.isnan(y):
        return float("nan")
    if math.isnan(x) or math.isnan(y):
        return y if math.isnan(x) else x
    if x <= 0 or y <= 0:
        return 0.0
    return 2 * x * y / (x + y)
