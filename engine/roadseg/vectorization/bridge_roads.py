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

Ends are handled in id order (deterministic); each is used once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import shapely

from roadseg.vectorization.params import MIN_ROAD_SUPPORT

if TYPE_CHECKING:
    from roadseg.vectorization.network import RoadNetwork, Support


#: Rays are cast every this many degrees within the angle.
_RAY_STEP_DEG = 5.0


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
    for end in sorted(n for n, dg in g.degree() if dg == 1):
        if end not in g or g.degree(end) != 1 or net.on_border(end):
            continue
        hit = _nearest_ahead(net, end, max_m, angle_deg)
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
        added += 1
    return added


def _nearest_ahead(
    net: RoadNetwork, end: int, max_m: float, angle_deg: float
) -> tuple[tuple[int, int, int], np.ndarray, float] | None:
    """The nearest other edge a ray from ``end`` meets: (edge, point, distance)."""
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
    best: tuple[float, tuple[int, int, int], np.ndarray] | None = None
    for a, b, kk, d in g.edges(keys=True, data=True):
        if (a, b, kk) in mine or not d["geom"].intersects(fan):
            continue
        for ray in rays:
            x = shapely.intersection(ray, d["geom"])
            if x.is_empty:
                continue
            pts = shapely.get_coordinates(x)
            dist = np.hypot(*(pts - xy).T)
            i = int(np.argmin(dist))
            if dist[i] > 1e-9 and (best is None or dist[i] < best[0]):
                best = (float(dist[i]), (a, b, kk), pts[i])
    if best is None:
        return None
    return best[1], best[2], best[0]


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
