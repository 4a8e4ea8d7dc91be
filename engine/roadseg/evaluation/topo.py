"""TOPO: holes and marbles around truth nodes (Biagioni & Eriksson 2012, as CosmiQ computes it).

Written from CosmiQ's ``topo_metric.compute_topo``. For every node ``o`` of the truth graph
(CosmiQ draws as many origins as the truth has nodes, at most 500, at random with
replacement and unseeded; we take every truth node once: the expectation of its figure
without the randomness):

1. The truth nodes within ``radius_m`` of ``o`` that connect to ``o`` through edges
   between such nodes form the truth subgraph; its nodes plus a point every
   ``interval_m`` along each of its edges at least ``interval_m`` long (measured
   outwards from the end nearer ``o``) are the *holes*.
2. The proposal node nearest ``o`` within ``hole_m`` is the proposal origin (none:
   every hole is a miss). Its subgraph gives the *marbles* the same way.
3. Each marble in turn falls into the nearest still-empty hole within ``hole_m``
   (a true positive) or is a false positive; empty holes are false negatives.

Precision, recall and F1 come from the totals over all origins. On SpaceNet Vegas img0 the
holes and marbles are exactly CosmiQ's; CosmiQ takes the marbles in the order Python
iterates a set of its node ids, we in node order, so the greedy step 3 fills a few more
holes (F1 0.573 against CosmiQ's 0.570 over all origins). CosmiQ takes the proposal
before removing doubled edges (:mod:`roadseg.evaluation.cosmiq_graph`, step 3), so a loop
hanging off one node gives its marbles twice there; callers here pass the APLS graphs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order
from scipy.spatial import cKDTree

from roadseg.evaluation.cosmiq_graph import RoadGraph


@dataclass(frozen=True)
class TopoResult:
    """TOPO counts and scores.

    Attributes:
        tp: Marbles in holes.
        fp: Marbles with no hole.
        fn: Empty holes.
        precision: tp / (tp + fp).
        recall: tp / (tp + fn).
        f1: Harmonic mean of precision and recall.
        origins: Truth nodes used as origins.
        radius_m: Subgraph radius.
        interval_m: Spacing of holes and marbles.
        hole_m: Hole radius.

    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    origins: int
    radius_m: float
    interval_m: float
    hole_m: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _adjacency(g: RoadGraph) -> Any:
    n = len(g.xy)
    if not g.edges:
        return coo_matrix((n, n))
    ij = np.array([(i, j) for i, j, _ in g.edges], dtype=np.int64)
    return coo_matrix((np.ones(len(ij)), (ij[:, 0], ij[:, 1])), shape=(n, n))


def _points(
    g: RoadGraph, adj: Any, tree: cKDTree, origin: int, radius: float, step: float
) -> np.ndarray:
    """Nodes of the subgraph around ``origin`` plus points every ``step`` along its edges."""
    near = np.zeros(len(g.xy), dtype=bool)
    near[tree.query_ball_point(g.xy[origin], radius)] = True
    keep = near[adj.row] & near[adj.col]
    sub = coo_matrix((adj.data[keep], (adj.row[keep], adj.col[keep])), shape=adj.shape).tocsr()
    comp = np.zeros(len(g.xy), dtype=bool)
    comp[breadth_first_order(sub, origin, directed=False, return_predecessors=False)] = True
    pts = [g.xy[comp]]
    o = g.xy[origin]
    for i, j, c in g.edges:
        if not (comp[i] and comp[j]):
            continue
        if np.hypot(*(c[-1] - o)) < np.hypot(*(c[0] - o)):
            c = c[::-1]
        line = shapely.LineString(c)
        ds = np.arange(0, line.length, step)[1:] if line.length >= step else np.zeros(0)
        if ds.size:
            pts.append(shapely.get_coordinates(shapely.line_interpolate_point(line, ds)))
    return np.vstack(pts)


def _match(holes: np.ndarray, marbles: np.ndarray, hole_m: float) -> tuple[int, int, int]:
    tree = cKDTree(holes)
    used = np.zeros(len(holes), dtype=bool)
    tp = fp = 0
    for m in marbles:
        idx = [k for k in tree.query_ball_point(m, hole_m) if not used[k]]
        if not idx:
            fp += 1
            continue
        d = np.hypot(*(holes[idx] - m).T)
        used[idx[int(np.argmin(d))]] = True
        tp += 1
    return tp, fp, len(holes) - tp


def topo(
    truth: RoadGraph,
    pred: RoadGraph,
    radius_m: float = 150.0,
    interval_m: float = 30.0,
    hole_m: float = 4.0,
) -> TopoResult:
    """TOPO between a truth and a proposal graph (see the module docstring).

    >>> from roadseg.evaluation.cosmiq_graph import build_road_graph
    >>> t = build_road_graph([np.array([[0, 0], [200, 0]])])
    >>> topo(t, t).f1
    1.0
    """
    tp = fp = fn = 0
    n = len(truth.xy)
    if n and len(pred.xy):
        at, ap = _adjacency(truth), _adjacency(pred)
        tt, tpred = cKDTree(truth.xy), cKDTree(pred.xy)
        for o in range(n):
            holes = _points(truth, at, tt, o, radius_m, interval_m)
            d, k = tpred.query(truth.xy[o], distance_upper_bound=hole_m)
            if not np.isfinite(d):
                fn += len(holes)
                continue
            marbles = _points(pred, ap, tpred, int(k), radius_m, interval_m)
            a, b, c = _match(holes, marbles, hole_m)
            tp, fp, fn = tp + a, fp + b, fn + c
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return TopoResult(tp, fp, fn, prec, rec, f1, n, radius_m, interval_m, hole_m)
