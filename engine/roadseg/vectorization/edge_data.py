"""Reading the centreline network's edge records (shared by the graph cleaning steps).

An edge's attributes are described in :mod:`roadseg.vectorization.network`: its ``geom``
starts at node ``src``; ``wsum``/``npix`` sum the road widths of its pixels (``npix`` 0
for a bridge).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    import networkx as nx

#: An edge of the multigraph: (u, v, key).
Key = tuple[int, int, int]

#: Cosine of the largest angle between two roads that continue each other (30°).
COS_STRAIGHT = math.cos(math.radians(30.0))


def coords_from(d: dict[str, Any], n: int) -> np.ndarray:
    """Edge coordinates running away from node ``n``.

    >>> d = {"geom": shapely.LineString([(0, 0), (3, 0)]), "src": 7}
    >>> coords_from(d, 7)[0].tolist(), coords_from(d, 8)[0].tolist()
    ([0.0, 0.0], [3.0, 0.0])
    """
    c = shapely.get_coordinates(d["geom"])
    return c if d["src"] == n else c[::-1]


def mean_width(d: dict[str, Any]) -> float:
    """Mean road width of an edge (metres; 0 for a bridge).

    >>> mean_width({"wsum": 60.0, "npix": 10}), mean_width({"wsum": 0.0, "npix": 0})
    (6.0, 0.0)
    """
    return float(d["wsum"] / d["npix"]) if d["npix"] else 0.0


def other_edges(g: nx.MultiGraph, n: int, edge: Key) -> Iterator[tuple[int, int, int, Any]]:
    """The edges ``(n, far, key, data)`` at node ``n`` other than ``edge`` (either way round)."""
    for a, b, k, d in g.edges(n, keys=True, data=True):
        if {(a, b, k), (b, a, k)}.isdisjoint({edge}):
            yield a, b, k, d
