"""Junction snapping: the several nodes a skeleton makes of one junction become one.

Where roads meet in a blob of road pixels (a crossing at an acute angle, a wide
junction, a roundabout-like widening) the skeleton seldom meets in one point: a
crossing becomes two T-junctions joined by a short link, or a small triangle. The
junction's node then lies metres away from the true crossing, and APLS's control
points there find no counterpart.

**merge close junctions**: an edge between two junctions (three roads or more at each)
no longer than the widest road meeting there (and at most ``max_m``) is a piece of one
junction: it is contracted, and the merged node goes where the roads' axes meet — the
least-squares intersection of the lines the roads follow one to two road widths away
from the junction, where the skeleton is no longer bent by the blob — or to the middle
of the link when the roads are near parallel. The roads' first metres are redrawn
straight from there. Nodes on the raster's edge are not moved.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.ops

from roadseg.vectorization.edge_data import (
    COS_STRAIGHT,
    Key,
    coords_from,
    mean_width,
    other_edges,
)

if TYPE_CHECKING:
    import networkx as nx

    from roadseg.vectorization.network import RoadNetwork


def merge_close_junctions(net: RoadNetwork, max_m: float) -> int:
    """Contract links between junctions shorter than the roads' width (see the module docstring).

    Links are taken shortest first (then by their lower node id, then in the graph's edge
    order), the first one that qualifies is contracted, and the search goes on from there:
    a link looked at before and turned down is looked at again only when a contraction
    changed the roads at one of its ends (nothing else decides whether it qualifies).

    Returns the links contracted.
    """
    if max_m <= 0:
        return 0
    g = net.g
    # The graph lists an edge from whichever of its nodes came first (no node is added here).
    rank = {n: i for i, n in enumerate(g.nodes)}
    queue: list[tuple[float, int, int, Key, dict[str, Any]]] = []
    count = itertools.count()

    def push(edges: Iterable[tuple[int, int, int, dict[str, Any]]]) -> None:
        for a, b, kk, d in edges:
            if d["length"] <= max_m:
                heapq.heappush(queue, (d["length"], min(a, b), next(count), (a, b, kk), d))

    push(g.edges(keys=True, data=True))
    merged = 0
    while queue:
        first = queue[0][:2]
        links: dict[int, tuple[Key, dict[str, Any]]] = {}
        while queue and queue[0][:2] == first:
            *_, (a, b, kk), d = heapq.heappop(queue)
            if g.has_edge(a, b, kk) and g.edges[a, b, kk] is d:  # else changed since pushed
                links[id(d)] = ((a, b, kk) if rank[a] <= rank[b] else (b, a, kk)), d
        tied = list(links.values())
        if len(tied) > 1:
            tied = _in_graph_order(g, tied)
        for i, ((u, v, k), d) in enumerate(tied):
            if not _contractible(net, u, v, k):
                continue
            w = max(_road_width(g, n, (u, v, k)) for n in (u, v))
            if d["length"] > min(w, max_m) or not _crossing(g, u, v, k, w):
                continue
            ends = {u} | {far for n in (u, v) for _, far, *_ in other_edges(g, n, (u, v, k))}
            _contract(net, u, v, k, w)
            merged += 1
            push((*key, dd) for key, dd in tied[i + 1 :])  # not looked at yet
            push(g.edges([n for n in ends if n in g], keys=True, data=True))
            break
    return merged


def _in_graph_order(
    g: nx.MultiGraph, links: list[tuple[Key, dict[str, Any]]]
) -> list[tuple[Key, dict[str, Any]]]:
    """``links`` in the order the graph lists its edges."""
    pos: dict[Key, int] = {}
    want = {k for k, _ in links}
    for i, key in enumerate(g.edges(keys=True)):
        if key in want:
            pos[key] = i
            if len(pos) == len(want):
                break
    return sorted(links, key=lambda link: pos[link[0]])


def _contractible(net: RoadNetwork, u: int, v: int, k: int) -> bool:
    """A link between two junctions, neither on the border, with no other edge between them."""
    g = net.g
    if u == v or g.degree(u) < 3 or g.degree(v) < 3:
        return False
    if g.number_of_edges(u, v) != 1 or g.has_edge(u, u) or g.has_edge(v, v):
        return False
    return not (net.on_border(u) or net.on_border(v))


def _crossing(g: nx.MultiGraph, u: int, v: int, k: int, w: float) -> bool:
    """Two roads at each end of the link, each going straight on (within 30°) at the other."""
    dirs = []
    for n in (u, v):
        axes = [_axis(coords_from(d, n), w) for *_, d in other_edges(g, n, (u, v, k))]
        if len(axes) != 2 or any(ax is None for ax in axes):
            return False
        dirs.append([ax[1] for ax in axes if ax is not None])
    (a1, a2), (b1, b2) = dirs
    cos = -COS_STRAIGHT
    return bool((a1 @ b1 < cos and a2 @ b2 < cos) or (a1 @ b2 < cos and a2 @ b1 < cos))


def _road_width(g: nx.MultiGraph, n: int, link: Key) -> float:
    """Widest road (metres) at node ``n`` other than ``link``."""
    return max((mean_width(d) for *_, d in other_edges(g, n, link)), default=0.0)


def _axis(coords: np.ndarray, w: float) -> tuple[np.ndarray, np.ndarray] | None:
    """A point and unit direction of a road one to two widths from its junction end."""
    line = shapely.LineString(coords)
    length = line.length
    if length <= 0:
        return None
    a = line.interpolate(min(w, 0.5 * length))
    b = line.interpolate(min(2.0 * w, length))
    pa = np.array([a.x, a.y])
    vec = np.array([b.x, b.y]) - pa
    norm = float(np.hypot(*vec))
    if norm <= 1e-9:
        return None
    return pa, vec / norm


def meeting_point(axes: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """Least-squares intersection of lines given as (point, unit direction).

    None when the lines are (near) parallel.

    >>> axes = [(np.array([5.0, 0]), np.array([1.0, 0])), (np.array([0.0, 3]), np.array([0, 1.0]))]
    >>> meeting_point(axes).round(6).tolist()
    [0.0, 0.0]
    >>> meeting_point([axes[0], (np.array([0.0, 2]), np.array([1.0, 0]))]) is None
    True
    """
    a = np.zeros((2, 2))
    b = np.zeros(2)
    for p, d in axes:
        m = np.eye(2) - np.outer(d, d)
        a += m
        b += m @ p
    if np.linalg.cond(a) > 1e3:
        return None
    return np.linalg.solve(a, b)


def _contract(net: RoadNetwork, u: int, v: int, k: int, w: float) -> None:
    """Remove the link ``u``–``v``: ``v``'s roads join ``u``, moved to where the roads meet."""
    g = net.g
    link = g.edges[u, v, k]
    mid = np.asarray(shapely.get_coordinates(link["geom"].interpolate(0.5, normalized=True))[0])
    others = [(n, *e) for n in (u, v) for e in other_edges(g, n, (u, v, k))]
    axes = [ax for n, *_, d in others if (ax := _axis(coords_from(d, n), w)) is not None]
    p = meeting_point(axes)
    if p is None or float(np.hypot(*(p - mid))) > max(w, link["length"]):
        p = mid
    g.remove_edge(u, v, k)
    moved = []
    for n, _, far, kk, d in others:
        g.remove_edge(n, far, kk)
        moved.append((far, coords_from(d, n), d))
    g.remove_node(v)
    g.nodes[u]["xy"] = (float(p[0]), float(p[1]))
    for far, coords, d in moved:
        geom = _redraw(coords, p, 0.5 * w)
        g.add_edge(u, far, **{**d, "geom": geom, "src": u, "length": float(geom.length)})
    net.dissolve([u])


def _redraw(coords: np.ndarray, p: np.ndarray, cut_m: float) -> shapely.LineString:
    """The road ``coords`` (from the junction) starting at ``p``, its first ``cut_m`` redrawn."""
    line = shapely.LineString(coords)
    cut = min(cut_m, 0.3 * line.length)
    rest = shapely.get_coordinates(shapely.ops.substring(line, cut, line.length))
    if math.isclose(float(np.hypot(*(rest[0] - p))), 0.0, abs_tol=1e-9):
        rest = rest[1:]
    out = np.vstack([p[None, :], rest])
    if len(out) < 2:
        out = np.vstack([p[None, :], coords[-1:]])
    return shapely.LineString(out)
