"""Where labels are complete: area polygons read from a file, or the labels' default area.

Inside the area a pixel with no road label is background; outside it every pixel is
ignored (neither road nor background), so a layer that only covers part of the
imagery never teaches that the rest has no roads.

Without an area file the labels' **convex hull**, widened by half the widest road
(so the surfaces of the roads on its edge lie inside), is taken as complete
(:func:`default_area`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import shapely
from rasterio.crs import CRS
from rasterio.features import rasterize

from roadseg.errors import LabelError
from roadseg.geo.grid import Grid
from roadseg.geo.vector_input import POLYGONS, read_vector


def read_area(path: str | os.PathLike[str], crs: CRS) -> shapely.Geometry:
    """The union of the polygons of ``path`` (any CRS), in ``crs``.

    Raises:
        InputNotFoundError: the file does not exist.
        LabelError: it cannot be read or holds no polygon.
        CRSError: it has no CRS.

    """
    p = Path(path)
    polys = read_vector(
        p,
        what="`area`",
        param="area",
        kinds=POLYGONS,
        empty="give polygons of where the labels are complete",
    )
    geom = shapely.union_all(shapely.make_valid(polys.to_crs(crs).geometry.values))
    if geom.is_empty or geom.area <= 0:
        raise LabelError(f"`area` {str(p)!r}: the polygons are empty", param="area", value=str(p))
    return geom


def default_area(geoms: np.ndarray, margin: float) -> shapely.Geometry:
    """The labels' convex hull widened by ``margin`` (in the geometries' units).

    >>> a = default_area(np.array([shapely.LineString([(0, 0), (10, 0)]),
    ...                            shapely.LineString([(0, 0), (0, 10)])]), 1.0)
    >>> round(a.area, 1), a.bounds
    (87.2, (-1.0, -1.0, 11.0, 11.0))
    """
    hull = shapely.convex_hull(shapely.union_all(geoms))
    return shapely.buffer(hull, margin, quad_segs=4)


def area_mask(geom: shapely.Geometry, grid: Grid) -> np.ndarray:
    """Boolean (H, W): True where a pixel centre lies inside ``geom`` (in the grid's CRS).

    >>> from affine import Affine
    >>> g = Grid(None, Affine(1, 0, 0, 0, -1, 4), 4, 4)
    >>> area_mask(shapely.box(0, 2, 2, 4), g).astype(int).tolist()
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    if geom.is_empty:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize(
        [(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0, dtype=np.uint8
    ).astype(bool)


def pixel_window(geom: shapely.Geometry, grid: Grid) -> tuple[int, int, int, int] | None:
    """Pixel bounds ``(col0, row0, col1, row1)`` of ``geom`` on ``grid``, clipped (None: outside).

    >>> from affine import Affine
    >>> g = Grid(None, Affine(1, 0, 0, 0, -1, 10), 10, 10)
    >>> pixel_window(shapely.box(2.5, 3, 6, 20), g), pixel_window(shapely.box(20, 0, 30, 5), g)
    ((2, 0, 6, 7), None)
    """
    if geom.is_empty:
        return None
    x0, y0, x1, y1 = geom.bounds
    inv = ~grid.transform
    cols, rows = inv @ (np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
    c0 = max(0, int(np.floor(min(cols))))
    c1 = min(grid.width, int(np.ceil(max(cols))))
    r0 = max(0, int(np.floor(min(rows))))
    r1 = min(grid.height, int(np.ceil(max(rows))))
    if c1 <= c0 or r1 <= r0:
        return None
    return c0, r0, c1, r1
