"""Gap bridging onto roads: a dead end that stops short of a road is joined to it.

The skeleton of a road that meets another in a blob of road pixels, or whose mask
thins where the prediction was unsure, often stops a few metres short of the road
it meets: a route that should turn there cannot. **bridge to roads** looks ahead of
every dead end (not on the raster's edge) — rays within ``angle_deg`` of its
direction, up to ``max_m`` — for the nearest other road, and joins the end to it
(splitting that road there; onto its node when one is within a pixel and a half)
only when

* the prediction supports the bridge: at least
  :data:`~roadseg.vectorization.params.MIN_ROAD_SUPPORT` of it lies on road pixels of
  the class raster (the road probability at or above the model's threshold); a link
  across background — a false-positive patch beside a road, a parking row
  beside an aisle — is not made;
* the network does not already join the two within three times the bridge's length
  (a spur looking at the road it leaves gets no shortcut).

Ends are handled in id order (deterministic); each is used once. The roads ahead of an
end are looked up in an R-tree of the edges, not by walking every edge for every end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import shapely

from roadseg.vectorization.edge_data import Key
from roadseg.vectorization.params import MIN_ROAD_SUPPORT

if TYPE_CHECKING:
    from roadseg.vectorization.network import RoadNetwork, Support


#: Rays are cast every this many degrees within the angle.
_RAY_STEP_DEG = 5.0
#: Edges added since the R-tree was built that are looked through one by one before the
#: tree is built anew (at least; or a quarter of the tree's edges).
_REBUILD_MIN = 64


def bridge_to_roads(
    net: RoadNetwork,
    max_m: float,
    angle_deg: float,
    support: Support | None,
) -> int:
    """Join dead ends to the road ahead of them (see the module docstring); the bridges made.

    Without ``support`` (no raster to check against) nothing is bridged.
    """
    g = net.g
    if max_m <= 0 or support is None:
        return 0
    tol = net.extent[2] if net.extent is not None else 1.0
    added = 0
    index = _EdgeIndex(g)
    for end in sorted(n for n, dg in g.degree() if dg == 1):
        if end not in g or g.degree(end) != 1 or net.on_border(end):
            continue
        hit = _nearest_ahead(net, end, max_m, angle_deg, index)
        if hit is None:
            continue
        (u, v, k), point, dist = hit
        if not _far_in_graph(g, end, (u, v, k), point, 3.0 * dist):
            continue
        xy = np.asarray(g.nodes[end]["xy"])
        if support(np.vstack([xy, point])) < MIN_ROAD_SUPPORT:
            continue
        target = net.split_edge(u, v, k, point, tol)
        net.add_link(end, target)
        index.add_edges_at((end, target))  # the split's halves and the bridge
        added += 1
    return added


class _EdgeIndex:
    """The network's edges in an R-tree, kept up to date as bridges are made.

    The tree holds the edges at the start; edges added since are kept beside it (those
    at the nodes named to :meth:`add_edges_at`), and removed ones are skipped when found.

    Args:
        g: The network's graph.

    """

    def __init__(self, g: nx.MultiGraph) -> None:
        self.g = g
        self._build()

    def _build(self) -> None:
        """Put every edge of the graph in a new tree."""
        self.edges: list[tuple[Key, dict[str, Any]]] = [
            ((a, b, k), d) for a, b, k, d in self.g.edges(keys=True, data=True)
        ]
        self.tree = shapely.STRtree([d["geom"] for _, d in self.edges])
        self.added: list[tuple[Key, dict[str, Any]]] = []
        self._known = {id(d) for _, d in self.edges}  # the records are held: ids stay unique

    def add_edges_at(self, nodes: Iterable[int]) -> None:
        """Take in the edges at ``nodes`` that the index does not hold yet.

        They are looked through one by one until there are more than a quarter as many as
        in the tree, which is then built anew (each edge is put in a tree a few times at
        most).
        """
        for a, b, k, d in self.g.edges(list(nodes), keys=True, data=True):
            if id(d) not in self._known:
                self._known.add(id(d))
                self.added.append(((a, b, k), d))
        if len(self.added) > max(_REBUILD_MIN, len(self.edges) // 4):
            self._build()

    def near(self, area: shapely.Geometry) -> Iterator[tuple[Key, dict[str, Any]]]:
        """The network's edges whose bounding box may meet ``area`` (in no set order)."""
        hits = (self.edges[i] for i in self.tree.query(area))
        for (a, b, k), d in itertools.chain(hits, self.added):
            if self.g.has_edge(a, b, k) and self.g.edges[a, b, k] is d:
                yield (a, b, k), d

    def first_in_graph_order(self, keys: set[Key]) -> Key:
        """The edge of ``keys`` that the graph lists first (``keys`` hold either way round)."""
        for a, b, k in self.g.edges(keys=True):
            if (a, b, k) in keys or (b, a, k) in keys:
                return a, b, k
        raise KeyError(keys)


def _nearest_ahead(
    net: RoadNetwork, end: int, max_m: float, angle_deg: float, index: _EdgeIndex
) -> tuple[Key, np.ndarray, float] | None:
    """The nearest other edge a ray from ``end`` meets: (edge, point, distance).

    Of edges equally near, the one the graph lists first; on one edge, the first ray's
    point (rays in order of angle).
    """
    g = net.g
    _, nbr, own = next(iter(g.edges(end, keys=True)))
    mine = {(end, nbr, own), (nbr, end, own)}
    xy = np.asarray(g.nodes[end]["xy"], dtype=float)
    d0 = net.end_directions([end])[0]
    if not np.any(d0):
        return None
    base = math.atan2(d0[1], d0[0])
    n = int(angle_deg // _RAY_STEP_DEG)
    angles = base + np.radians(_RAY_STEP_DEG * np.arange(-n, n + 1))
    tips = xy + max_m * np.c_[np.cos(angles), np.sin(angles)]
    rays = shapely.linestrings([[xy, t] for t in tips])
    fan = shapely.convex_hull(shapely.multilinestrings([[xy, t] for t in tips]))
    hits: list[tuple[float, Key, int, np.ndarray]] = []  # (distance, edge, ray, point)
    for key, d in index.near(fan):
        if key in mine or not d["geom"].intersects(fan):
            continue
        for r, ray in enumerate(rays):
            x = shapely.intersection(ray, d["geom"])
            if x.is_empty:
                continue
            pts = shapely.get_coordinates(x)
            dist = np.hypot(*(pts - xy).T)
            i = int(np.argmin(dist))
            if dist[i] > 1e-9:
                hits.append((float(dist[i]), key, r, pts[i]))
    if not hits:
        return None
    nearest = min(h[0] for h in hits)
    tied = [h for h in hits if h[0] == nearest]
    edge = tied[0][1]
    if any(h[1] != edge for h in tied):
        edge = index.first_in_graph_order({h[1] for h in tied})
        tied = [h for h in tied if h[1] in {edge, (edge[1], edge[0], edge[2])}]
    _, key, _, point = min(tied, key=lambda h: h[2])
    return key, point, nearest


def _far_in_graph(
    g: nx.MultiGraph, end: int, edge: tuple[int, int, int], point: np.ndarray, limit: float
) -> bool:
    """True when the network joins ``end`` to ``point`` on ``edge`` only by a path over ``limit``."""
    u, v, k = edge
    d = g.edges[u, v, k]
    line = d["geom"]
    s = float(line.project(shapely.Point(point)))
    from_src = s if d["src"] == u else line.length - s
    to_u, to_v = from_src, line.length - from_src
    dist = nx.single_source_dijkstra_path_length(g, end, cutoff=limit, weight="length")
    near = min(dist.get(u, math.inf) + to_u, dist.get(v, math.inf) + to_v)
    return near > limit
