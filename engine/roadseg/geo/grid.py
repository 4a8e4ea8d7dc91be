"""Pixel grids: a CRS, an affine transform and a size; ground resolution in metres.

Pure helpers (no file access). A :class:`Grid` describes where an array lies on
the ground; windows of a raster and model-resolution working grids are both
grids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

#: Metres per degree of latitude on the WGS84 ellipsoid (mean).
_M_PER_DEG = 111_320.0


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
    if crs.is_geographic:
        cy = (transform @ (width / 2, height / 2))[1]
        return (rx * _M_PER_DEG * math.cos(math.radians(cy)), ry * _M_PER_DEG)
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return (rx * factor, ry * factor)


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

    The grid's own CRS when it is projected in metres, else the UTM zone of its
    centre; None for plain images (pixel units are then used, scaled by the GSD).
    """
    if grid.crs is None:
        return None
    if grid.crs.is_projected and (grid.crs.linear_units_factor or ("", 1.0))[1] == 1.0:
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
