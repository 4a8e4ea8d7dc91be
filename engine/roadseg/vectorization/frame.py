"""The metric working frame of a raster: pixel ↔ local metres ↔ CRS, and measuring.

Vectorisation works in a *local metric frame*: pixel coordinates scaled by the
ground resolution in metres at the raster centre (x right, y down, origin at the
raster's top-left corner). For projected rasters this frame is exactly the CRS
in metres (an affine map) — divided by the projection's scale where it is not true to
scale (Web Mercator: :func:`roadseg.geo.grid.projection_scale`); for EPSG:4326 rasters
it is the usual per-axis approximation at the centre latitude, used for thresholds
(simplification, pruning, bridging). Final lengths and areas are measured on the
ellipsoid for geographic CRSs, so they stay correct wherever the raster lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from affine import Affine

from roadseg.geo.grid import Grid, projection_scale


@dataclass(frozen=True)
class MetricFrame:
    """Local metric frame of a grid.

    Attributes:
        grid: The raster grid.

    """

    grid: Grid

    @cached_property
    def gsd(self) -> tuple[float, float]:
        """Metres per pixel (x, y) at the raster centre."""
        gx, gy = self.grid.gsd_m()
        return (float(gx), float(gy))

    @property
    def mean_gsd(self) -> float:
        """Mean pixel size in metres."""
        return (self.gsd[0] + self.gsd[1]) / 2.0

    def px(self, metres: float) -> float:
        """Convert a distance in metres to pixels.

        >>> from affine import Affine
        >>> MetricFrame(Grid(None, Affine.identity(), 4, 4, 0.5)).px(2.0)
        4.0
        """
        return metres / self.mean_gsd

    @cached_property
    def to_crs(self) -> Affine:
        """Affine from the local metric frame to CRS coordinates."""
        gx, gy = self.gsd
        return self.grid.transform @ Affine.scale(1.0 / gx, 1.0 / gy)

    def geoms_to_crs(self, geoms: np.ndarray) -> np.ndarray:
        """Map shapely geometries from the metric frame to the CRS."""
        t = self.to_crs
        m = np.array([[t.a, t.b], [t.d, t.e]])
        off = np.array([t.c, t.f])

        def fn(xy: np.ndarray) -> np.ndarray:
            return xy @ m.T + off

        return shapely.transform(np.asarray(geoms, dtype=object), fn)

    def point_to_crs(self, x: float, y: float) -> tuple[float, float]:
        """One point from the metric frame to the CRS."""
        cx, cy = self.to_crs @ (x, y)
        return (float(cx), float(cy))

    @cached_property
    def _geod(self) -> object | None:
        crs = self.grid.crs
        if crs is None or not crs.is_geographic:
            return None
        from pyproj import CRS as PCRS

        return PCRS.from_user_input(crs.to_wkt()).get_geod()

    @cached_property
    def _unit(self) -> tuple[float, float]:
        """Ground metres per CRS unit (x, y): the unit, divided by the projection's scale."""
        crs = self.grid.crs
        if crs is None:
            u = float(self.grid.pixel_m or 1.0) / abs(self.grid.transform.a)
            return (u, u)
        u = float(crs.linear_units_factor[1]) if crs.linear_units_factor else 1.0
        cx, cy = self.grid.transform @ (self.grid.width / 2, self.grid.height / 2)
        kx, ky = projection_scale(crs, cx, cy)
        return (u / kx, u / ky)

    def lengths_m(self, crs_geoms: np.ndarray) -> np.ndarray:
        """Lengths in metres of lines given in CRS coordinates (geodesic for geographic CRSs)."""
        geoms = np.asarray(crs_geoms, dtype=object)
        if self._geod is None:
            ux, uy = self._unit
            if ux == uy:
                return shapely.length(geoms) * ux
            return shapely.length(shapely.transform(geoms, lambda xy: xy * (ux, uy)))
        return np.array([self._geod.geometry_length(g) for g in geoms], dtype=float)  # type: ignore[attr-defined]

    def areas_m2(self, crs_geoms: np.ndarray) -> np.ndarray:
        """Areas in square metres of polygons in CRS coordinates (geodesic for geographic CRSs)."""
        geoms = np.asarray(crs_geoms, dtype=object)
        if self._geod is None:
            return shapely.area(geoms) * self._unit[0] * self._unit[1]
        return np.array(
            [abs(self._geod.geometry_area_perimeter(g)[0]) for g in geoms],  # type: ignore[attr-defined]
            dtype=float,
        )
