"""Restricting a prediction to an area: a bounding box or polygons → a window and a mask.

The output covers the window of the raster grid that intersects the area (same
alignment and resolution, cropped). A bounding box in the raster's CRS is just
that window; a box in another CRS and polygons from a file are also a mask:
pixels outside them become nodata.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.windows import Window

from roadseg.errors import ConfigError, CRSError
from roadseg.geo.grid import Grid


@dataclass(frozen=True)
class Extent:
    """Where to predict in a raster.

    Attributes:
        window: Window of the raster grid to predict (integer offsets and size).
        geoms: Polygons in the raster CRS outside which pixels are nodata (None: the
            whole window).

    """

    window: Window
    geoms: tuple[Any, ...] | None = None

    def mask(self, grid: Grid) -> np.ndarray | None:
        """Boolean (H, W) mask of ``grid`` pixels inside the polygons (None: all inside)."""
        if self.geoms is None:
            return None
        from rasterio.features import geometry_mask

        return geometry_mask(
            self.geoms, out_shape=grid.shape, transform=grid.transform, invert=True
        )


def full_extent(grid: Grid) -> Extent:
    """Return the extent of the whole raster."""
    return Extent(Window(0, 0, grid.width, grid.height))


def resolve_extent(
    grid: Grid,
    raster_name: str,
    bbox: Sequence[float] | None = None,
    bbox_crs: str | None = None,
    extent_file: str | os.PathLike[str] | None = None,
) -> Extent:
    """Turn ``bbox``/``bbox_crs`` or ``extent_file`` into an :class:`Extent` of ``grid``.

    Raises:
        ConfigError: The area is malformed or does not overlap the raster.
        CRSError: A CRS is missing or unknown.

    """
    if bbox is not None and extent_file is not None:
        raise ConfigError(
            "`bbox` and `extent_file` were both given", param="extent_file", hint="give one"
        )
    if bbox is None and extent_file is None:
        return full_extent(grid)
    if extent_file is not None:
        geoms = _read_polygons(Path(extent_file), grid)
        return _extent_from_geoms(
            grid, raster_name, geoms, f"`extent_file` {str(extent_file)!r}", "extent_file"
        )
    minx, miny, maxx, maxy = (float(v) for v in bbox)  # type: ignore[union-attr]
    if not (minx < maxx and miny < maxy):
        raise ConfigError(
            f"`bbox` {minx} {miny} {maxx} {maxy} is empty",
            param="bbox",
            value=list(bbox),  # type: ignore[arg-type]
            hint="give minx miny maxx maxy with min < max",
        )
    src_crs = _parse_crs(bbox_crs) if bbox_crs else grid.crs
    if bbox_crs and grid.crs is None:
        raise CRSError(
            f"`bbox_crs` {bbox_crs} cannot be used with {raster_name}, which has no CRS",
            param="bbox_crs",
            value=bbox_crs,
            hint="give `bbox` in pixel coordinates (column row) without `bbox_crs`",
        )
    if src_crs is None or src_crs == grid.crs:
        return _window_for_bounds(
            grid, raster_name, (minx, miny, maxx, maxy), None, "`bbox`", "bbox"
        )
    from shapely.geometry import box

    poly = _reproject(
        box(minx, miny, maxx, maxy).segmentize(_seg(minx, miny, maxx, maxy)), src_crs, grid.crs
    )
    return _extent_from_geoms(grid, raster_name, (poly,), f"`bbox` (in {bbox_crs})", "bbox")


def _seg(minx: float, miny: float, maxx: float, maxy: float) -> float:
    return max(maxx - minx, maxy - miny) / 32.0


def _parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception:  # noqa: BLE001 - rasterio raises its own CRSError type
        raise CRSError(
            f"`bbox_crs` {text!r} is not a CRS",
            param="bbox_crs",
            value=text,
            hint="give e.g. EPSG:4326 or EPSG:32611",
        ) from None


def _reproject(geom: Any, src: CRS, dst: CRS) -> Any:
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping, shape

    return shape(transform_geom(src, dst, mapping(geom)))


def _read_polygons(path: Path, grid: Grid) -> tuple[Any, ...]:
    if grid.crs is None:
        raise CRSError(
            "`extent_file` needs a georeferenced raster; this one has no CRS",
            param="extent_file",
            value=str(path),
            hint="use `bbox` in pixel coordinates instead",
        )
    from roadseg.geo.vector_input import POLYGONS, read_vector

    gdf = read_vector(
        path,
        what="`extent_file`",
        param="extent_file",
        kinds=POLYGONS,
        empty="give polygon features",
        error=ConfigError,
    )
    gdf = gdf.to_crs(grid.crs.to_wkt())
    return tuple(g for g in gdf.geometry.make_valid() if not g.is_empty)


def _extent_from_geoms(
    grid: Grid, raster_name: str, geoms: tuple[Any, ...], what: str, param: str
) -> Extent:
    import shapely

    bounds = shapely.total_bounds(np.array(geoms, dtype=object))
    ext = _window_for_bounds(grid, raster_name, tuple(bounds), geoms, what, param)
    area = shapely.box(*grid.window_grid(ext.window).bounds)
    if not any(g.intersects(area) and not g.touches(area) for g in geoms):
        raise ConfigError(
            f"{what} does not overlap {raster_name}",
            param=param,
            hint="check the area and its CRS",
        )
    return ext


def _window_for_bounds(
    grid: Grid,
    raster_name: str,
    bounds: tuple[float, ...],
    geoms: tuple[Any, ...] | None,
    what: str,
    param: str,
) -> Extent:
    minx, miny, maxx, maxy = bounds
    inv = ~grid.transform
    cols, rows = zip(*(inv @ (x, y) for x in (minx, maxx) for y in (miny, maxy)), strict=True)
    eps = 1e-6
    c0 = max(0, math.floor(min(cols) + eps))
    c1 = min(grid.width, math.ceil(max(cols) - eps))
    r0 = max(0, math.floor(min(rows) + eps))
    r1 = min(grid.height, math.ceil(max(rows) - eps))
    if c1 <= c0 or r1 <= r0:
        gb = ", ".join(f"{v:.6g}" for v in grid.bounds)
        raise ConfigError(
            f"{what} {', '.join(f'{v:.6g}' for v in bounds)} does not overlap {raster_name} "
            f"(raster bounds {gb} in its CRS)",
            param=param,
            hint="check the coordinates and `bbox_crs`",
        )
    return Extent(Window(c0, r0, c1 - c0, r1 - r0), geoms)
