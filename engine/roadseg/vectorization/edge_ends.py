"""Roads leaving the raster: their last metres straightened out to the raster's edge.

Before skeletonising, the road mask is extended past the raster's edge by repeating the
edge pixels (:func:`roadseg.vectorization.extract._mask_and_skeleton`), so a road's
centreline reaches the edge instead of stopping half a road width short. The repeated
pixels run straight out of the raster, whatever the road's own direction: a road crossing
the edge at an angle gets a bend, and its skeleton turns to meet the edge at a right angle,
up to several metres beside where the road really crosses it (6.7 m on a 7 m road at 30°
to the edge, drawn synthetic seed 6; README, "Network before/after cleaning").

:func:`straighten_edge_ends` replaces the last metres of every dead end on the raster's
edge — as far back as the bend can reach, :data:`BEND_WIDTHS` road widths — by the road's
own direction just before them, carried straight out to the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString

from roadseg.vectorization.edge_data import coords_from, mean_width
from roadseg.vectorization.params import MIN_ROAD_SUPPORT

if TYPE_CHECKING:
    from roadseg.vectorization.network import RoadNetwork

#: How far back from the edge the bend can reach, in road widths.
BEND_WIDTHS = 1.5
#: The straightened end may lie at most this many bend lengths from where the road's
#: direction is taken (roads running nearly along the edge keep their end).
MAX_REACH = 3.0


def ray_exit(p: np.ndarray, u: np.ndarray, width: float, height: float) -> float:
    """Distance along the unit vector ``u`` from ``p`` (inside) to the rectangle's boundary.

    The rectangle is ``[0, width] × [0, height]``; ``inf`` when ``u`` is zero.

    >>> ray_exit(np.array([5.0, 5.0]), np.array([-1.0, 0.0]), 20.0, 10.0)
    5.0
    >>> round(ray_exit(np.array([5.0, 5.0]), np.array([0.6, 0.8]), 20.0, 10.0), 6)
    6.25
    """
    t = np.inf
    for k, hi in ((0, width), (1, height)):
        if u[k] > 0:
            t = min(t, (hi - p[k]) / u[k])
        elif u[k] < 0:
            t = min(t, -p[k] / u[k])
    return float(max(t, 0.0))


def straighten_edge_ends(
    net: RoadNetwork, direction_m: float, support: Callable[[np.ndarray], float] | None = None
) -> int:
    """Straighten the dead ends on the raster's edge (see the module docstring).

    An end on the edge is moved only when its edge is long enough to give the road's
    direction before the bend, the straight line meets the edge within :data:`MAX_REACH`
    bend lengths, and (with ``support``) lies on road pixels
    (:data:`~roadseg.vectorization.params.MIN_ROAD_SUPPORT`). The road's direction is
    taken over the ``direction_m`` metres before the bend. Returns the ends moved.
    """
    if net.extent is None:
        return 0
    width, height, tol = net.extent
    g = net.g
    moved = 0
    for n in sorted(g.nodes):
        if g.degree(n) != 1:
            continue
        _, _, k, d = next(iter(g.edges(n, keys=True, data=True)))
        if d["npix"] <= 0 or g.has_edge(n, n):
            continue
        x, y = g.nodes[n]["xy"]
        if min(x, y, width - x, height - y) >= tol:
            continue
        bend = BEND_WIDTHS * max(mean_width(d), 1.0)
        line = LineString(coords_from(d, n))
        if line.length < bend + direction_m:
            continue
        a = shapely.get_coordinates(line.interpolate(bend))[0]
        b = shapely.get_coordinates(line.interpolate(bend + direction_m))[0]
        u = (a - b) / max(float(np.hypot(*(a - b))), 1e-12)
        t = ray_exit(a, u, width, height)
        if not np.isfinite(t) or t > MAX_REACH * bend:
            continue
        end = a + t * u
        if support is not None and support(np.vstack([end, a])) < MIN_ROAD_SUPPORT:
            continue
        rest = shapely.get_coordinates(shapely.ops.substring(line, bend, line.length))
        new = np.vstack([end, rest])
        if d["src"] != n:
            new = new[::-1]
        geom = LineString(new)
        d["geom"], d["length"] = geom, float(geom.length)
        g.nodes[n]["xy"] = (float(end[0]), float(end[1]))
        moved += 1
    return moved
