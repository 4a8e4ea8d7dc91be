"""Building centreline networks by hand for the network cleaning tests (metres)."""

from __future__ import annotations

import numpy as np
from roadseg.vectorization.network import RoadNetwork
from shapely import LineString


def net_of(edges, *, extent, width=6.0) -> RoadNetwork:
    """A network of ``edges`` ``(u, v, [(x, y), ...])``, each ``width`` metres wide.

    Each edge counts 10 road pixels of class 1 (``wsum``/``npix`` give ``width``).
    ``extent`` is the raster's ``(width, height, tolerance)`` in metres (dead ends within
    the tolerance of its edge are roads leaving it), or None for no raster edge.
    """
    net = RoadNetwork(2, extent)
    for u, v, pts in edges:
        line = LineString(pts)
        net.g.add_node(u, xy=tuple(map(float, pts[0])))
        net.g.add_node(v, xy=tuple(map(float, pts[-1])))
        net.g.add_edge(
            u, v, geom=line, src=u, counts=np.array([0, 10]), wsum=10 * width, npix=10,
            length=line.length, bridges=0,
        )  # fmt: skip
    return net
