"""APLS exactly as CosmiQ's reference code computes it (SpaceNet 3), so figures compare.

Written from the definitions in CosmiQ Works' ``apls`` (``apls.py``: ``make_graphs``,
``create_graph_midpoints``, ``insert_point_into_G``, ``path_sim_metric``,
``compute_apls_metric``), on graphs built as :mod:`roadseg.evaluation.cosmiq_graph`
describes. For graphs ``A`` (truth) and ``B`` (proposal):

1. **Control points.** ``A_cp`` is ``A`` plus *midpoints*: on every edge at least
   ``0.75 × linestring_delta_m`` long whose curvature ``|bbox diagonal − length| /
   length`` is at least ``is_curved_eps`` (a negative value: every edge), points at
   ``linspace(0, L, len(arange(0, L, delta)) + 1)[1:-1]`` (one at the middle when
   ``L ≤ delta``). The control points of ``A`` are all nodes of ``A_cp``. When ``A``
   has ``max_nodes_for_midpoints`` nodes or more, no midpoints are added and the
   control points are a seeded sample of ``max_nodes`` nodes of each graph.
2. **Snapping.** Each control point of ``A``, in order, is projected onto the
   nearest edge of ``B`` (the graph *without* midpoints); beyond ``max_snap_m`` it
   has no counterpart. Onto an edge's inside it becomes a new node splitting the
   edge; onto an existing node it takes that node's name (``allow_renaming``: a
   later control point landing on the same node takes it over, and the earlier one
   loses its counterpart) or is joined to it (renaming off).
3. **Routes.** For every ordered pair ``(s, e)`` of control points of ``A`` joined in
   ``A_cp`` by a path ``L_A``: if ``s`` has no counterpart in ``B'`` the route
   scores 1 (whatever ``L_A``); otherwise routes with ``L_A < min_path_m`` are
   skipped and the others score ``min(1, |L_A − L_B| / L_A)``, or 1 when ``e`` has no
   counterpart or no path joins them in ``B'``.
4. ``C(A→B) = 1 − mean(scores)`` (0 without routes); APLS is the harmonic mean of
   ``C(truth→proposal)`` and ``C(proposal→truth)``, 0 if either is ≤ 0.

The default parameters are those of CosmiQ's ``make_graphs`` and ``compute_apls_metric``
with node renaming on (as their command line); :meth:`CosmiqParams.command_line` gives their
command line's defaults. On SpaceNet Vegas img0 (truth ``roads.geojson``, proposal
``proposal_albu_wkt_pix.csv``) both agree with CosmiQ's own code (``apls`` 0.1.0) within 3e-4
in each direction (``tests/evaluation/test_apls_cosmiq.py``). Edge lengths are geometric
lengths in the metric CRS (CosmiQ uses great-circle lengths for truth edges: 0.06 % longer
on img0). Not reproduced: CosmiQ names proposal nodes from 1000 and truth nodes from 0 with
gaps, so on truths of about a thousand vertices a proposal control point can carry the name of
an unrelated truth node (it is then not inserted, and its routes start at that node); between
edges equally near a control point ours takes the first in our edge order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from roadseg.errors import ConfigError
from roadseg.evaluation.cosmiq_graph import RoadGraph

_EPS = 1e-9


@dataclass(frozen=True)
class CosmiqParams:
    """Settings of CosmiQ's APLS (names as in their code, distances in metres).

    Attributes:
        linestring_delta_m: Spacing of midpoints along curved edges.
        is_curved_eps: Minimum curvature for midpoints (negative: every edge).
        max_snap_m: Largest distance from a control point to the other graph.
        min_path_m: Shorter routes are skipped.
        allow_renaming: A control point on an existing node renames it.
        max_nodes_for_midpoints: Truth graphs this big get no midpoints, sampled nodes.
        max_nodes: Control points sampled per graph in that case.
        seed: Seed of that sample.

    """

    linestring_delta_m: float = 50.0
    is_curved_eps: float = 0.012
    max_snap_m: float = 4.0
    min_path_m: float = 10.0
    allow_renaming: bool = True
    max_nodes_for_midpoints: int = 500
    max_nodes: int = 500
    seed: int = 0

    @classmethod
    def command_line(cls) -> CosmiqParams:
        """The defaults of CosmiQ's ``apls.py`` command line (its README's examples).

        >>> p = CosmiqParams.command_line()
        >>> p.linestring_delta_m, p.is_curved_eps, p.min_path_m, p.allow_renaming
        (200.0, 0.12, 0.001, True)
        """
        return cls(linestring_delta_m=200.0, is_curved_eps=0.12, min_path_m=0.001)

    def __post_init__(self) -> None:
        for name in ("linestring_delta_m", "max_snap_m", "min_path_m"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ConfigError(f"APLS {name} must be a number ≥ 0, got {v}")


@dataclass(frozen=True)
class CosmiqAPLS:
    """CosmiQ-compatible APLS and what it was made of.

    Attributes:
        apls: Harmonic mean of the two directions.
        truth_to_pred: C(truth→proposal): truth control points snapped onto the proposal.
        pred_to_truth: C(proposal→truth).
        routes_truth: Routes scored truth→proposal.
        routes_pred: Routes scored proposal→truth.
        control_truth: Control points of the truth.
        control_pred: Control points of the proposal.
        snapped_truth: Share of truth control points with a counterpart in the proposal.
        snapped_pred: Share of proposal control points with a counterpart in the truth.
        params: The settings.

    """

    apls: float
    truth_to_pred: float
    pred_to_truth: float
    routes_truth: int
    routes_pred: int
    control_truth: int
    control_pred: int
    snapped_truth: float
    snapped_pred: float
    params: CosmiqParams

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (parameters included)."""
        d = asdict(self)
        d["definition"] = "cosmiq"
        return d


def midpoints(g: RoadGraph, delta: float, eps: float) -> RoadGraph:
    """``g`` with CosmiQ's midpoints inserted (new nodes appended after the old ones).

    >>> g = RoadGraph(np.array([[0.0, 0], [0, 120]]), ((0, 1, np.array([[0.0, 0], [0, 120]])),))
    >>> midpoints(g, 50, -1).xy[2:].tolist()
    [[0.0, 40.0], [0.0, 80.0]]
    >>> len(midpoints(g, 50, 0.012).xy)  # a straight edge is not "curved"
    2
    """
    xy = [p for p in g.xy]
    edges: list[tuple[int, int, np.ndarray]] = []
    for i, j, c in g.edges:
        line = shapely.LineString(c)
        length = line.length
        lo, hi = c.min(0), c.max(0)
        dst = float(np.hypot(*(hi - lo)))
        if length <= 0 or abs(dst - length) / length < eps or length < 0.75 * delta:
            edges.append((i, j, c))
            continue
        if length <= delta:
            dists = np.array([0.5 * length])
        else:
            dists = np.linspace(0, length, len(np.arange(0, length, delta)) + 1)[1:-1]
        prev, s0 = i, 0.0
        for s in dists:
            xy.append(np.array(shapely.get_coordinates(line.interpolate(s))[0]))
            cur = len(xy) - 1
            edges.append((prev, cur, _piece(line, c, s0, s)))
            prev, s0 = cur, s
        edges.append((prev, j, _piece(line, c, s0, length)))
    return RoadGraph(np.array(xy, dtype=float).reshape(-1, 2), tuple(edges))


def _piece(line: shapely.LineString, c: np.ndarray, a: float, b: float) -> np.ndarray:
    """Coordinates of ``line`` between distances ``a`` and ``b`` (ends interpolated)."""
    d = np.r_[0.0, np.cumsum(np.hypot(*np.diff(c, axis=0).T))]
    inner = c[(d > a) & (d < b)]
    pa = shapely.get_coordinates(line.interpolate(a))
    pb = shapely.get_coordinates(line.interpolate(b))
    return np.vstack([pa, inner, pb])


class _Snapped:
    """Graph ``B`` with control points of ``A`` inserted (CosmiQ's ``B'``)."""

    def __init__(self, g: RoadGraph) -> None:
        self.g = g
        self.xy: list[np.ndarray] = [p for p in g.xy]
        self.lines = [shapely.LineString(c) for _, _, c in g.edges]
        self.cuts: list[list[tuple[float, int]]] = [[] for _ in g.edges]
        self.tree = shapely.STRtree(self.lines) if self.lines else None
        self.node_of: dict[int, int] = {}  # control label → node
        self.label: dict[int, int] = {}  # node → control label it carries

    def insert(self, points: np.ndarray, snap_m: float, rename: bool) -> None:
        if self.tree is None or len(points) == 0:
            return
        geoms = shapely.points(points)
        for lab, pt in enumerate(geoms):
            hits, dist = self.tree.query_nearest(pt, all_matches=True, return_distance=True)
            if hits.size == 0 or float(dist.min()) > snap_m:
                continue
            e = int(hits[dist == dist.min()].min())
            node = self._node_at(e, float(self.lines[e].project(pt)))
            old = self.label.get(node)
            if old is not None and rename:
                del self.node_of[old]
            if rename or old is None:
                self.label[node] = lab
            self.node_of[lab] = node

    def _node_at(self, e: int, s: float) -> int:
        i, j, _ = self.g.edges[e]
        length = self.lines[e].length
        if s <= _EPS:
            return i
        if s >= length - _EPS:
            return j
        for cs, n in self.cuts[e]:
            if abs(cs - s) <= _EPS:
                return n
        self.xy.append(shapely.get_coordinates(self.lines[e].interpolate(s))[0])
        self.cuts[e].append((s, len(self.xy) - 1))
        self.cuts[e].sort()
        return len(self.xy) - 1

    def matrix(self) -> Any:
        ei, ej, w = [], [], []
        for e, (i, j, _) in enumerate(self.g.edges):
            stops = [(0.0, i), *self.cuts[e], (self.lines[e].length, j)]
            for (sa, a), (sb, b) in zip(stops, stops[1:], strict=False):
                ei.append(a)
                ej.append(b)
                w.append(max(sb - sa, 1e-12))
        return _matrix(len(self.xy), ei, ej, w)


def _matrix(n: int, ei: list[int], ej: list[int], w: list[float]) -> Any:
    """Symmetric sparse adjacency, the shortest of parallel edges kept, self-loops dropped."""
    best: dict[tuple[int, int], float] = {}
    for a, b, x in zip(ei, ej, w, strict=True):
        if a != b:
            k = (min(a, b), max(a, b))
            best[k] = min(best.get(k, math.inf), x)
    if not best:
        return coo_matrix((n, n)).tocsr()
    pairs = np.array(list(best), dtype=np.int64)
    return coo_matrix((list(best.values()), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()


def _graph_matrix(g: RoadGraph) -> Any:
    return _matrix(len(g.xy), [e[0] for e in g.edges], [e[1] for e in g.edges], list(g.lengths))


def _direction(
    a_cp: RoadGraph, ctrl: np.ndarray, b: RoadGraph, p: CosmiqParams
) -> tuple[float, int, float]:
    """C(A→B), the routes scored and the share of A's control points snapped onto B."""
    k = ctrl.size
    if k == 0 or not a_cp.edges:
        return 0.0, 0, 0.0
    snapped = _Snapped(b)
    snapped.insert(a_cp.xy[ctrl], p.max_snap_m, p.allow_renaming)
    da = dijkstra(_graph_matrix(a_cp), directed=False, indices=ctrl)[:, ctrl]
    where = np.array([snapped.node_of.get(i, -1) for i in range(k)], dtype=np.int64)
    db = np.full((k, k), np.inf)
    ok = where >= 0
    if ok.any() and b.edges:
        d = dijkstra(snapped.matrix(), directed=False, indices=where[ok])
        db[np.ix_(ok, ok)] = d[:, where[ok]]
    reach = np.isfinite(da)
    np.fill_diagonal(reach, False)
    n_missing = int(reach[~ok].sum())  # routes from a control point with no counterpart
    rows = ok[:, None] & np.isfinite(da) & (da >= p.min_path_m)
    la, lb = da[rows], db[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(np.isfinite(lb), np.minimum(1.0, np.abs(la - lb) / la), 1.0)
    n = n_missing + diff.size
    if n == 0:
        return 0.0, 0, float(ok.mean())
    return float(1.0 - (diff.sum() + n_missing) / n), int(n), float(ok.mean())


def apls_cosmiq(
    truth: RoadGraph, pred: RoadGraph, params: CosmiqParams | None = None
) -> CosmiqAPLS:
    """CosmiQ-compatible APLS between a truth and a proposal graph (see the module docstring).

    >>> from roadseg.evaluation.cosmiq_graph import build_road_graph
    >>> t = build_road_graph([np.array([[0, 0], [200, 0]]), np.array([[100, -90], [100, 90]])])
    >>> apls_cosmiq(t, t).apls
    1.0
    """
    p = params or CosmiqParams()
    big = len(truth.xy) >= p.max_nodes_for_midpoints
    if big:
        rng = np.random.default_rng(p.seed)
        t_cp, p_cp = truth, pred
        ct = np.sort(rng.choice(len(truth.xy), min(p.max_nodes, len(truth.xy)), replace=False))
        cp = np.sort(rng.choice(len(pred.xy), min(p.max_nodes, len(pred.xy)), replace=False))
    else:
        t_cp = midpoints(truth, p.linestring_delta_m, p.is_curved_eps)
        p_cp = midpoints(pred, p.linestring_delta_m, p.is_curved_eps)
        ct, cp = np.arange(len(t_cp.xy)), np.arange(len(p_cp.xy))
    c_tp, n_tp, s_t = _direction(t_cp, ct, pred, p)
    c_pt, n_pt, s_p = _direction(p_cp, cp, truth, p)
    total = 0.0 if c_tp <= 0 or c_pt <= 0 else 2 * c_tp * c_pt / (c_tp + c_pt)
    return CosmiqAPLS(total, c_tp, c_pt, n_tp, n_pt, int(ct.size), int(cp.size), s_t, s_p, p)
