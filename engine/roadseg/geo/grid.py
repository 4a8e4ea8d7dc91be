"""Pixel grids: a CRS, an affine transform and a size; ground resolution in metres.

Pure helpers (no file access). A :class:`Grid` describes where an array lies on
the ground; windows of a raster and model-resolution working grids are both
grids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

#: Metres per degree of latitude on the WGS84 ellipsoid (mean).
_M_PER_DEG = 111_320.0
#: A projection whose scale at a raster's centre differs from 1 by more than this (Web
#: Mercator away from the equator, a UTM zone far from its meridian) is corrected for it.
SCALE_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class Grid:
    """A north-up pixel grid.

    Attributes:
        crs: Coordinate reference system (None for plain images: pixel coordinates).
        transform: Affine from pixel (col, row) to CRS coordinates.
        width: Columns.
        height: Rows.
        pixel_m: Ground size of one pixel in metres for grids without a CRS (plain
            images with a stated GSD); ignored when ``crs`` is set.

    """

    crs: CRS | None
    transform: Affine
    width: int
    height: int
    pixel_m: float | None = None

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"grid size must be positive, got {self.width}x{self.height}")
        if self.transform.b != 0 or self.transform.d != 0:
            raise ValueError("rotated grids are not supported; warp the raster north-up first")

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y) in CRS units, both positive."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t @ (self.width, self.height)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def window_grid(self, window: Window) -> Grid:
        """Return the grid of a window of this grid (the window may reach outside).

        >>> from affine import Affine
        >>> g = Grid(None, Affine(2, 0, 100, 0, -2, 50), 10, 10)
        >>> g.window_grid(Window(2, 3, 4, 5)).transform.c
        104.0
        """
        t = self.transform @ Affine.translation(window.col_off, window.row_off)
        return Grid(self.crs, t, int(window.width), int(window.height), self.pixel_m)

    def scaled(self, fx: float, fy: float) -> Grid:
        """Return the grid covering the same extent with pixels ``fx`` × ``fy`` times larger.

        The size is rounded up so the extent is covered; the origin is kept.

        >>> from affine import Affine
        >>> Grid(None, Affine(1, 0, 0, 0, -1, 0), 10, 7).scaled(2, 2).shape
        (4, 5)
        """
        t = self.transform @ Affine.scale(fx, fy)
        w = max(1, math.ceil(self.width / fx - 1e-6))
        h = max(1, math.ceil(self.height / fy - 1e-6))
        pm = self.pixel_m * fx if self.pixel_m is not None else None
        return Grid(self.crs, t, w, h, pm)

    def gsd_m(self) -> tuple[float, float]:
        """Ground resolution (x, y) in metres per pixel at the grid centre."""
        if self.crs is None and self.pixel_m is not None:
            return (self.pixel_m * 1.0, self.pixel_m * abs(self.transform.e / self.transform.a))
        return ground_resolution_m(self.crs, self.transform, self.width, self.height)


def ground_resolution_m(
    crs: CRS | None, transform: Affine, width: int, height: int
) -> tuple[float, float]:
    """Pixel size (x, y) in metres at the centre of a grid.

    Geographic CRSs (EPSG:4326) are converted with the latitude of the grid
    centre; projected CRSs with their linear unit. Plain images (no CRS) return
    the pixel size as is.

    >>> from affine import Affine
    >>> from rasterio.crs import CRS
    >>> x, y = ground_resolution_m(CRS.from_epsg(4326), Affine(2.7e-6, 0, -115.3, 0, -2.7e-6, 36.25), 100, 100)
    >>> round(x, 3), round(y, 3)
    (0.242, 0.301)
    """
    rx, ry = abs(transform.a), abs(transform.e)
    if crs is None:
        return (rx, ry)
    cx, cy = transform @ (width / 2, height / 2)
    if crs.is_geographic:
        return (rx * _M_PER_DEG * math.cos(math.radians(cy)), ry * _M_PER_DEG)
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    kx, ky = projection_scale(crs, cx, cy)
    return (rx * factor / kx, ry * factor / ky)


def projection_scale(crs: CRS | None, x: float, y: float) -> tuple[float, float]:
    """How much a projected CRS stretches the ground at ``(x, y)``: (along x, along y).

    A CRS unit covers ``1 / k`` of that unit on the ground: Web Mercator (EPSG:3857) at
    40° N has k ≈ 1.31, so its "0.6 m" pixels are 0.46 m on the ground. Scales within
    :data:`SCALE_TOLERANCE` of 1 (UTM inside its zone, State Plane, national grids) are
    returned as exactly 1, so nothing changes where the CRS is already a ground measure.
    Geographic CRSs and plain images return (1, 1) (they are handled by latitude).

    >>> from rasterio.crs import CRS
    >>> [round(k, 3) for k in projection_scale(CRS.from_epsg(3857), -8238000.0, 4970000.0)]
    [1.319, 1.319]
    >>> projection_scale(CRS.from_epsg(32611), 650000.0, 4012000.0)
    (1.0, 1.0)
    """
    if crs is None or not crs.is_projected:
        return (1.0, 1.0)
    # Rounded to 100 CRS units: the scale of any CRS varies far less over that distance.
    return _scale(crs.to_wkt(), round(float(x), -2), round(float(y), -2))


@lru_cache(maxsize=256)
def _scale(wkt: str, x: float, y: float) -> tuple[float, float]:
    from pyproj import CRS as PCRS
    from pyproj import Proj, Transformer

    try:
        pc = PCRS.from_user_input(wkt)
        lon, lat = Transformer.from_crs(pc, pc.geodetic_crs, always_xy=True).transform(x, y)
        f = Proj(pc).get_factors(lon, lat)
        kx, ky = float(f.parallel_scale), float(f.meridional_scale)
    except Exception:  # noqa: BLE001 - a CRS PROJ cannot invert here: keep its units as they are
        return (1.0, 1.0)
    if not (math.isfinite(kx) and math.isfinite(ky) and kx > 0 and ky > 0):
        return (1.0, 1.0)
    if abs(kx - 1.0) <= SCALE_TOLERANCE and abs(ky - 1.0) <= SCALE_TOLERANCE:
        return (1.0, 1.0)
    return (kx, ky)


def working_grid(grid: Grid, gsd_m: float) -> Grid:
    """Return a grid over the same extent and CRS whose pixels are ``gsd_m`` metres.

    Used to resample imagery to a model's ground resolution without reprojecting:
    each axis is scaled by its own factor (so EPSG:4326 pixels become square on
    the ground).
    """
    gx, gy = grid.gsd_m()
    return grid.scaled(gsd_m / gx, gsd_m / gy)


def utm_crs_for(lon: float, lat: float) -> CRS:
    """Return the WGS84 UTM zone CRS containing a point.

    >>> utm_crs_for(-115.3, 36.2).to_epsg()
    32611
    """
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_crs_for(grid: Grid) -> CRS | None:
    """A CRS with metre units for buffering and measuring near ``grid``.

    The grid's own CRS when it is projected in metres and true to scale there (not Web
    Mercator away from the equator: :func:`projection_scale`), else the UTM zone of its
    centre; None for plain images (pixel units are then used, scaled by the GSD).
    """
    if grid.crs is None:
        return None
    if grid.crs.is_projected and (grid.crs.linear_units_factor or ("", 1.0))[1] == 1.0:
        cx, cy = grid.transform @ (grid.width / 2, grid.height / 2)
        if projection_scale(grid.crs, cx, cy) == (1.0, 1.0):
            return grid.crs
    from rasterio.warp import transform as warp_transform

    left, bottom, right, top = grid.bounds
    xs, ys = warp_transform(grid.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return utm_crs_for(xs[0], ys[0])


#: Relative difference of ground resolution under which no resampling is done.
SAME_GSD_TOLERANCE = 0.01
#: Downsampling by more than this averages source pixels instead of interpolating.
AVERAGE_ABOVE = 1.5


def model_grid(grid: Grid, gsd_m: float, tolerance: float = SAME_GSD_TOLERANCE) -> tuple[Grid, str]:
    """The grid a model at ``gsd_m`` sees over ``grid``, and the resampling to read it with.

    Training and prediction share this rule: the raster's own grid when its ground
    resolution is within ``tolerance`` of the model's; else a :func:`working_grid`,
    read with ``average`` when shrinking by more than :data:`AVERAGE_ABOVE` and
    ``bilinear`` otherwise.

    >>> from affine import Affine
    >>> g = Grid(CRS.from_epsg(32611), Affine(0.25, 0, 0, 0, -0.25, 0), 400, 400)
    >>> w, how = model_grid(g, 0.5)
    >>> w.shape, how
    ((200, 200), 'average')
    >>> model_grid(g, 0.2502)[1]
    'nearest'
    """
    gx, gy = grid.gsd_m()
    factor = (gsd_m / gx, gsd_m / gy)
    if max(abs(factor[0] - 1), abs(factor[1] - 1)) < tolerance:
        return grid, "nearest"
    return working_grid(grid, gsd_m), "average" if max(factor) > AVERAGE_ABOVE else "bilinear"
