"""Road polygons per class: polygonise block cores, join pieces across seams, tidy up.

Pieces are polygonised in the local metric frame. A piece touching a seam (a
core edge inside the raster) is kept aside and unioned with its neighbours at
the end, per class; then small holes are filled (those holding no other class),
the polygons of all classes simplified together as one coverage (no overlaps, no
gaps between classes) and polygons below the minimum area dropped.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from shapely.geometry import Polygon

from roadseg.geo.classraster import NODATA

#: Polygons per class id.
Pieces = dict[int, list[Polygon]]


class PolygonCollector:
    """Collects polygon pieces per class across blocks.

    Args:
        gsd: Metres per pixel (x, y) of the metric frame.
        raster_shape: (rows, columns) of the whole raster.

    """

    def __init__(self, gsd: tuple[float, float], raster_shape: tuple[int, int]) -> None:
        self.gsd = gsd
        self.shape = raster_shape
        self.done: dict[int, list[Polygon]] = defaultdict(list)
        self.seam: dict[int, list[Polygon]] = defaultdict(list)

    def add_block(self, classes: np.ndarray, row0: int, col0: int) -> None:
        """Polygonise a block core (class ids; 0 and nodata are not roads)."""
        self.add_pieces(*polygon_pieces(classes, row0, col0, self.gsd, self.shape))

    def add_pieces(self, done: Pieces, seam: Pieces) -> None:
        """Add a block's pieces (see :func:`polygon_pieces`)."""
        for cid, polys in done.items():
            self.done[cid].extend(polys)
        for cid, polys in seam.items():
            self.seam[cid].extend(polys)

    def finish(
        self, simplify_m: float, min_area_m2: float, hole_area_m2: float
    ) -> dict[int, np.ndarray]:
        """Polygons per class id (metric frame): one coverage across classes.

        Pieces are joined across seams per class; holes smaller than ``hole_area_m2``
        are filled unless another class's polygon lies in them (no overlap); all
        classes are then simplified together (:func:`shapely.coverage_simplify`,
        shared edges moved once, so classes neither overlap nor leave gaps), and
        polygons (slivers included) under ``min_area_m2`` are dropped.
        """
        ids: list[int] = []
        geoms: list[Polygon] = []
        for cid in sorted(set(self.done) | set(self.seam)):
            polys = list(self.done.get(cid, []))
            if self.seam.get(cid):
                merged = shapely.union_all(np.array(self.seam[cid], dtype=object))
                polys.extend(shapely.get_parts(merged).tolist())
            polys = [p for p in polys if not p.is_empty]
            ids += [cid] * len(polys)
            geoms += polys
        arr = np.array(geoms, dtype=object)
        cls = np.array(ids, dtype=np.int64)
        if arr.size:
            arr = fill_free_holes(arr, hole_area_m2)
            # Canonical form first (no collinear vertices, rings from a fixed start),
            # so pieces joined across seams simplify exactly like a whole polygon.
            arr = shapely.normalize(np.array([drop_collinear(g) for g in arr], dtype=object))
            order = np.lexsort((shapely.get_coordinates(shapely.point_on_surface(arr))[:, 0],
                                shapely.get_coordinates(shapely.point_on_surface(arr))[:, 1]))  # fmt: skip
            arr, cls = arr[order], cls[order]
            if simplify_m > 0:
                arr = shapely.coverage_simplify(arr, simplify_m, simplify_boundary=True)
        out: dict[int, np.ndarray] = {}
        for cid in sorted(set(cls.tolist())):
            sel = arr[cls == cid]
            sel = shapely.make_valid(sel)
            out[cid] = np.array(
                [g for g in _polygons(sel) if g.area >= max(min_area_m2, 1e-12)], dtype=object
            )
        return out


def polygon_pieces(
    classes: np.ndarray,
    row0: int,
    col0: int,
    gsd: tuple[float, float],
    raster_shape: tuple[int, int],
) -> tuple[Pieces, Pieces]:
    """Polygons per class of a block core (metric frame): (finished, touching a seam).

    Seams are the core's edges that are not the raster's edges; pieces touching them
    are joined with their neighbours' at the end.
    """
    done: Pieces = defaultdict(list)
    seam: Pieces = defaultdict(list)
    mask = (classes > 0) & (classes != NODATA)
    if not mask.any():
        return dict(done), dict(seam)
    h, w = classes.shape
    gx, gy = gsd
    t = Affine(gx, 0, col0 * gx, 0, gy, row0 * gy)
    lo_x = col0 * gx if col0 > 0 else None
    hi_x = (col0 + w) * gx if col0 + w < raster_shape[1] else None
    lo_y = row0 * gy if row0 > 0 else None
    hi_y = (row0 + h) * gy if row0 + h < raster_shape[0] else None
    tol = 1e-6 * max(gx, gy)
    for geom, value in shapes(classes, mask=mask, connectivity=4, transform=t):
        poly = _polygon(geom["coordinates"])
        x0, y0, x1, y1 = poly.bounds
        touches = (
            (lo_x is not None and x0 <= lo_x + tol)
            or (hi_x is not None and x1 >= hi_x - tol)
            or (lo_y is not None and y0 <= lo_y + tol)
            or (hi_y is not None and y1 >= hi_y - tol)
        )
        (seam if touches else done)[int(value)].append(poly)
    return dict(done), dict(seam)


def fill_free_holes(polys: np.ndarray, max_area: float) -> np.ndarray:
    """Fill holes smaller than ``max_area`` that hold no other polygon of ``polys``.

    >>> from shapely import box
    >>> ring = box(0, 0, 10, 10).difference(box(4, 4, 6, 6))
    >>> [len(p.interiors) for p in fill_free_holes(np.array([ring], dtype=object), 5.0)]
    [0]
    >>> [len(p.interiors) for p in fill_free_holes(np.array([ring, box(4, 4, 6, 6)]), 5.0)]
    [1, 0]
    """
    if max_area <= 0:
        return polys
    tree = shapely.STRtree(polys)
    out = []
    for p in polys:
        if not p.interiors:
            out.append(p)
            continue
        keep = []
        for r in p.interiors:
            hole = Polygon(r)
            if hole.area >= max_area or len(tree.query(hole, predicate="contains")):
                keep.append(r)
        out.append(Polygon(p.exterior, keep))
    return np.array(out, dtype=object)


def _polygon(rings: list) -> Polygon:
    """Build a polygon from GeoJSON rings (faster than ``shapely.geometry.shape``)."""
    lr = [shapely.linearrings(np.asarray(r, dtype=float)) for r in rings]
    return shapely.polygons(lr[0], lr[1:] or None)


def _ring(c: np.ndarray) -> np.ndarray:
    p = c[:-1]
    prev, nxt = np.roll(p, 1, axis=0), np.roll(p, -1, axis=0)
    on_x = (prev[:, 0] == p[:, 0]) & (p[:, 0] == nxt[:, 0])
    on_y = (prev[:, 1] == p[:, 1]) & (p[:, 1] == nxt[:, 1])
    q = p[~(on_x | on_y)]
    return np.vstack([q, q[:1]]) if len(q) >= 3 else c


def drop_collinear(poly: Polygon) -> Polygon:
    """Remove vertices in the middle of horizontal or vertical runs (pixel outlines).

    Pieces joined across block seams keep a vertex where they met; dropping them
    gives the same outline as polygonising the raster whole.

    >>> drop_collinear(Polygon([(0, 0), (1, 0), (2, 0), (2, 2), (0, 2)])).wkt
    'POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))'
    """
    rings = [_ring(shapely.get_coordinates(poly.exterior))]
    rings += [_ring(shapely.get_coordinates(r)) for r in poly.interiors]
    return _polygon(rings)


def fill_holes(poly: Polygon, max_area: float) -> Polygon:
    """Remove the holes smaller than ``max_area`` from a polygon.

    >>> outer = [(0, 0), (10, 0), (10, 10), (0, 10)]
    >>> p = Polygon(outer, [[(1, 1), (2, 1), (2, 2), (1, 2)], [(4, 4), (8, 4), (8, 8), (4, 8)]])
    >>> len(fill_holes(p, 5.0).interiors)
    1
    """
    if max_area <= 0 or not poly.interiors:
        return poly
    keep = [r for r in poly.interiors if Polygon(r).area >= max_area]
    return Polygon(poly.exterior, keep)


def _polygons(geoms: np.ndarray) -> list[Polygon]:
    """Polygon parts of (multi)polygons and collections."""
    parts = shapely.get_parts(geoms)
    out = []
    for p in parts:
        if p.geom_type == "Polygon" and not p.is_empty:
            out.append(p)
        elif p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polygons(np.array([p], dtype=object)))
    return out
