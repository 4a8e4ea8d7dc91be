"""Figures of a centreline network an analyst looks at: small loops and short stubs (pure).

Lines are in a metric CRS. A *loop* is a face of the planar network (the lines
noded at every crossing and polygonised); a *stub* is a dead-end line — one end
shared with no other line — shorter than a length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely

from roadseg.evaluation.cosmiq_graph import line_parts


@dataclass(frozen=True)
class NetworkStats:
    """Counts of a network.

    Attributes:
        km: Total length in km.
        loops_small: Faces enclosing less than ``loop_m2``.
        loops_tiny: Faces enclosing less than ``tiny_m2``.
        stubs: Dead ends shorter than ``stub_m``.
        edge_stubs: Those of them touching the raster's edge (within ``edge_tol_m``).
        loop_m2: Area limit of ``loops_small``.
        tiny_m2: Area limit of ``loops_tiny``.
        stub_m: Length limit of stubs.

    """

    km: float
    loops_small: int
    loops_tiny: int
    stubs: int
    edge_stubs: int
    loop_m2: float
    tiny_m2: float
    stub_m: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def face_areas(geoms: np.ndarray) -> np.ndarray:
    """Areas (m²) of the faces enclosed by the lines.

    >>> from shapely import LineString
    >>> sq = [LineString([(0, 0), (10, 0), (10, 10)]), LineString([(10, 10), (0, 10), (0, 0)])]
    >>> face_areas(np.array(sq, dtype=object)).tolist()
    [100.0]
    """
    parts = line_parts(geoms)
    if not parts:
        return np.zeros(0)
    noded = shapely.union_all(np.array([shapely.LineString(c) for c in parts], dtype=object))
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return np.sort(shapely.area(polys)) if polys.size else np.zeros(0)


def network_stats(
    geoms: np.ndarray,
    bounds: tuple[float, float, float, float] | None = None,
    loop_m2: float = 600.0,
    tiny_m2: float = 400.0,
    stub_m: float = 10.0,
    edge_tol_m: float = 1.0,
) -> NetworkStats:
    """Count small loops and short stubs (see the module docstring).

    Args:
        geoms: Lines (metric CRS).
        bounds: Raster bounds (same CRS) for stubs touching the edge.
        loop_m2: Area under which a face is a small loop.
        tiny_m2: A second, smaller area limit.
        stub_m: Length under which a dead end is a stub.
        edge_tol_m: Distance to the raster's edge that counts as touching it.

    """
    parts = line_parts(geoms)
    areas = face_areas(geoms)
    ends: dict[tuple[float, float], int] = {}
    for c in parts:
        for p in (c[0], c[-1]):
            k = (round(float(p[0]), 6), round(float(p[1]), 6))
            ends[k] = ends.get(k, 0) + 1
    stubs = edge = 0
    tree = shapely.STRtree([shapely.LineString(c) for c in parts]) if parts else None
    for c in parts:
        length = float(np.hypot(*np.diff(c, axis=0).T).sum())
        if length >= stub_m:
            continue
        for p in (c[0], c[-1]):
            k = (round(float(p[0]), 6), round(float(p[1]), 6))
            # A dead end: no other line ends here nor passes through this point.
            if ends[k] != 1 or tree is None:
                continue
            if len(tree.query(shapely.Point(p), predicate="intersects")) > 1:
                continue
            stubs += 1
            if bounds is not None:
                x0, y0, x1, y1 = bounds
                if min(p[0] - x0, x1 - p[0], p[1] - y0, y1 - p[1]) <= edge_tol_m:
                    edge += 1
            break
    km = sum(float(np.hypot(*np.diff(c, axis=0).T).sum()) for c in parts) / 1e3
    return NetworkStats(
        km,
        int((areas < loop_m2).sum()),
        int((areas < tiny_m2).sum()),
        stubs,
        edge,
        loop_m2,
        tiny_m2,
        stub_m,
    )
