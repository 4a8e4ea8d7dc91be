"""Road lines → the road graphs that CosmiQ's APLS compares (pure: metric lines in, graph out).

CosmiQ's reference code (``apls``: ``graphTools.create_graphGeoJson``, ``wkt_to_G``,
osmnx 0.9 ``simplify_graph``) builds its graphs like this, and so do we:

1. **Vertices are nodes.** Every vertex of every line is a node; vertices with
   exactly equal coordinates are one node. Lines that cross without sharing a
   vertex are *not* connected (no noding). Each segment remembers its line.
2. **Specks go.** A connected piece of at most ``max_nodes_to_skip`` vertices whose
   longest shortest path is under ``min_subgraph_m`` is removed.
3. **Simplify (strict).** A vertex stays a node when it ends a line, joins other
   than two segments, has a self-loop, or where two different lines meet; the
   runs of vertices in between merge into one edge with the full geometry.

Nodes keep the order in which they were first seen (CosmiQ's node ids grow in
that order, which decides which control point wins when two land on one node).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra


@dataclass(frozen=True)
class RoadGraph:
    """An undirected road multigraph in a metric CRS.

    Attributes:
        xy: Node coordinates, shape (N, 2).
        edges: ``(i, j, coords)`` per edge; ``coords`` runs from node ``i`` to node ``j``.

    """

    xy: np.ndarray
    edges: tuple[tuple[int, int, np.ndarray], ...]

    @property
    def lengths(self) -> np.ndarray:
        """Edge lengths (metres)."""
        return np.array([_length(c) for _, _, c in self.edges], dtype=float)

    def total_length(self) -> float:
        """Sum of edge lengths (metres)."""
        return float(self.lengths.sum()) if self.edges else 0.0


def _length(c: np.ndarray) -> float:
    d = np.diff(c, axis=0)
    return float(np.hypot(d[:, 0], d[:, 1]).sum())


def line_parts(geoms: Sequence[object] | np.ndarray) -> list[np.ndarray]:
    """Coordinate arrays of the LineString parts of ``geoms`` (others ignored)."""
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return []
    parts = shapely.get_parts(arr)
    parts = parts[(shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)]
    return [shapely.get_coordinates(p) for p in parts]


def build_road_graph(
    lines: Sequence[np.ndarray], min_subgraph_m: float = 5.0, max_nodes_to_skip: int = 100
) -> RoadGraph:
    """Build CosmiQ's road graph from line coordinate arrays (see the module docstring).

    >>> g = build_road_graph([np.array([[0, 0], [10, 0], [20, 0]]), np.array([[10, 0], [10, 9]])])
    >>> len(g.xy), sorted(len(c) for _, _, c in g.edges)
    (4, [2, 2, 2])
    """
    ids: dict[tuple[float, float], int] = {}
    segs: dict[tuple[int, int], int] = {}
    for li, c in enumerate(lines):
        prev = -1
        for x, y in np.asarray(c, dtype=float).reshape(-1, 2):
            n = ids.setdefault((float(x), float(y)), len(ids))
            if prev >= 0 and n != prev:
                segs.setdefault((min(prev, n), max(prev, n)), li)
            prev = n
    xy = np.array(list(ids), dtype=float).reshape(-1, 2)
    if not segs:
        return RoadGraph(np.zeros((0, 2)), ())
    pairs = np.array(list(segs), dtype=np.int64)
    line_of = np.array(list(segs.values()), dtype=np.int64)
    keep = _drop_specks(xy, pairs, min_subgraph_m, max_nodes_to_skip)
    pairs, line_of = pairs[keep], line_of[keep]
    used = np.unique(pairs)
    remap = np.full(len(xy), -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return _simplify(xy[used], remap[pairs], line_of)


def _drop_specks(xy: np.ndarray, pairs: np.ndarray, min_m: float, max_nodes: int) -> np.ndarray:
    """Mask of the segments kept: pieces with a longest shortest path ≥ ``min_m`` stay."""
    n = len(xy)
    w = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    m = coo_matrix((w, (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
    _, lab = connected_components(m, directed=False)
    bad = np.zeros(lab.max() + 1, dtype=bool)
    for c in np.unique(lab[pairs[:, 0]]):
        nodes = np.flatnonzero(lab == c)
        if nodes.size > max_nodes:
            continue
        d = dijkstra(m, directed=False, indices=nodes)[:, nodes]
        bad[c] = float(d[np.isfinite(d)].max()) < min_m
    return ~bad[lab[pairs[:, 0]]]


def _simplify(xy: np.ndarray, pairs: np.ndarray, line_of: np.ndarray) -> RoadGraph:
    n = len(xy)
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for k, (a, b) in enumerate(pairs.tolist()):
        adj[a].append((b, k))
        adj[b].append((a, k))
    end = np.zeros(n, dtype=bool)
    for i in range(n):
        nb = adj[i]
        end[i] = len(nb) != 2 or nb[0][0] == nb[1][0] or line_of[nb[0][1]] != line_of[nb[1][1]]
    done = np.zeros(len(pairs), dtype=bool)
    edges: list[tuple[int, int, np.ndarray]] = []

    def walk(start: int, nxt: int, k: int) -> None:
        path = [start]
        cur = nxt
        done[k] = True
        while True:
            path.append(cur)
            if end[cur] or cur == start:
                break
            (a, ka), (b, kb) = adj[cur]
            nxt2, k2 = (b, kb) if ka == k else (a, ka)
            if done[k2]:
                break
            done[k2] = True
            cur, k = nxt2, k2
        edges.append((path[0], path[-1], xy[path]))

    for i in range(n):
        if end[i]:
            for j, k in adj[i]:
                if not done[k]:
                    walk(i, j, k)
    # Rings with no end: one edge from their first vertex to itself.
    for i in range(n):
        for j, k in adj[i]:
            if not done[k]:
                end[i] = True
                walk(i, j, k)
    nodes = np.flatnonzero(end)
    remap = np.full(n, -1, dtype=np.int64)
    remap[nodes] = np.arange(nodes.size)
    out = tuple((int(remap[a]), int(remap[b]), c) for a, b, c in edges)
    return RoadGraph(xy[nodes], out)
