"""Placing a synthetic scene on the Earth: a north-up grid in any CRS with ~gsd-metre pixels.

Scene metres (x east, y south from the top-left corner) map to pixels by
dividing by the pixel size, and pixels map to the CRS through the grid's
affine transform, so rendered roads and labelled centrelines share one
geometry whatever the CRS.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError as RioCRSError
from shapely.geometry.base import BaseGeometry

from roadseg.errors import ConfigError, CRSError
from roadseg.geo.grid import _M_PER_DEG, Grid, projection_scale

#: Default scene centre (longitude, latitude): the desert edge of Las Vegas.
DEFAULT_ORIGIN: tuple[float, float] = (-115.2, 36.2)


def parse_crs(text: str | CRS, param: str = "crs") -> CRS:
    """Parse a CRS given as ``EPSG:n``, a bare EPSG code, WKT or PROJ text.

    Raises:
        ConfigError: when the text is not a CRS, or the CRS is neither geographic
            nor projected (e.g. geocentric).

    >>> parse_crs("32611").to_epsg()
    32611

    """
    if isinstance(text, CRS):
        crs = text
    else:
        s = str(text).strip()
        try:
            crs = CRS.from_epsg(int(s)) if s.isdigit() else CRS.from_user_input(s)
        except (RioCRSError, ValueError) as exc:
            raise ConfigError(
                f"`{param}` {s!r} is not a CRS ({exc})",
                param=param,
                value=s,
                hint="give e.g. EPSG:32611 or EPSG:4326",
            ) from None
    if not (crs.is_geographic or crs.is_projected):
        raise ConfigError(
            f"`{param}` {crs.to_string()!r} is neither geographic nor projected",
            param=param,
            value=crs.to_string(),
            hint="give e.g. EPSG:32611",
        )
    return crs


def default_origin(crs: CRS) -> tuple[float, float]:
    """Return a plausible scene centre (lon, lat) for ``crs``: Las Vegas if the CRS covers it."""
    from pyproj import CRS as PCRS

    area = PCRS.from_user_input(crs.to_wkt()).area_of_use
    lon, lat = DEFAULT_ORIGIN
    if area is None or (area.west <= lon <= area.east and area.south <= lat <= area.north):
        return DEFAULT_ORIGIN
    west, east = area.west, area.east if area.east >= area.west else area.east + 360.0
    clon = (west + east) / 2.0
    clon = clon - 360.0 if clon > 180.0 else clon
    return (round(clon, 4), round((area.south + area.north) / 2.0, 4))


def scene_grid(
    crs: CRS, size: tuple[int, int], gsd: float, origin: tuple[float, float] | None = None
) -> Grid:
    """Return the grid of a ``size`` (height, width) scene centred on ``origin`` (lon, lat).

    Projected CRSs get pixels of ``gsd`` metres on the ground (in the CRS's own unit, times
    the projection's scale where it is not true to scale, as in Web Mercator);
    geographic ones get degrees sized so that a pixel is ``gsd`` metres at the
    scene's latitude.

    Raises:
        CRSError: when the origin cannot be expressed in ``crs``.

    """
    h, w = size
    lon, lat = origin if origin is not None else default_origin(crs)
    if crs.is_geographic:
        if abs(lat) > 85:
            raise CRSError(
                f"`origin` latitude {lat} is too close to a pole for a {crs.to_string()} grid",
                param="origin",
                value=(lon, lat),
                hint="choose |lat| < 85",
            )
        px, py = gsd / (_M_PER_DEG * math.cos(math.radians(lat))), gsd / _M_PER_DEG
        cx, cy = lon, lat
    else:
        from rasterio.warp import transform as warp

        xs, ys = warp(CRS.from_epsg(4326), crs, [lon], [lat])
        cx, cy = xs[0], ys[0]
        if not (np.isfinite(cx) and np.isfinite(cy)):
            raise CRSError(
                f"`origin` {lon},{lat} lies outside {crs.to_string()}",
                param="origin",
                value=(lon, lat),
                hint="give an `origin` inside its area",
            )
        unit = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
        kx, ky = projection_scale(crs, cx, cy)  # Web Mercator: 1/cos φ CRS units per metre
        px, py = gsd / unit * kx, gsd / unit * ky
        # A tidy corner: whole CRS units.
        cx, cy = round(cx - w / 2 * px) + w / 2 * px, round(cy + h / 2 * py) - h / 2 * py
    transform = Affine(px, 0.0, cx - w / 2 * px, 0.0, -py, cy + h / 2 * py)
    return Grid(crs, transform, w, h)


def to_crs(geoms: list[BaseGeometry], grid: Grid, gsd: float) -> list[BaseGeometry]:
    """Map geometries from scene metres to the grid's CRS (through pixel coordinates)."""
    t = grid.transform
    k = 1.0 / gsd

    def move(c: np.ndarray) -> np.ndarray:
        col, row = c[:, 0] * k, c[:, 1] * k
        return np.column_stack([t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f])

    return [shapely.transform(g, move) for g in geoms]
