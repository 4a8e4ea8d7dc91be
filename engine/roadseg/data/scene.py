"""A scene: one imagery raster with its labels, read window by window at the model's resolution.

A :class:`Scene` never reads a whole raster: each sample reads one tile-sized
window of imagery (resampled into the working grid at the model's ground
resolution) and rasterises the labels on the same grid. Pixels without imagery
(nodata, alpha, outside the raster) become the ignore index in the mask.
Scenes pickle without their file handles (:class:`~roadseg.geo.raster.RasterSource`
reopens), so every DataLoader worker reads through its own handles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.windows import Window

from roadseg.geo.grid import AVERAGE_ABOVE, Grid, model_grid
from roadseg.geo.labels import LabelSource
from roadseg.geo.raster import RasterSource

IGNORE_INDEX = 255


@dataclass(frozen=True, slots=True)
class Sample:
    """One training or validation window.

    Attributes:
        image: float32 (bands, tile, tile) in [0, 1]; 0 where invalid.
        mask: uint8 (tile, tile) class ids; 255 = ignore (no imagery, padding).

    """

    image: np.ndarray
    mask: np.ndarray


def _raster_sources(*objs: object) -> list[RasterSource]:
    """The RasterSources of the imagery and of raster labels (mask files)."""
    out = []
    for o in objs:
        if isinstance(o, RasterSource):
            out.append(o)
        src = getattr(o, "_src", None)
        if isinstance(src, RasterSource):
            out.append(src)
    return out


class Scene:
    """Imagery + labels on a working grid at ``gsd_m`` metres per pixel.

    Args:
        raster: The imagery.
        labels: Anything with ``rasterize(grid)`` (vector or mask labels).
        gsd_m: Model ground resolution; the raster is resampled to it (kept as is
            when within 1 %).
        name: Short name for messages and summaries.

    """

    def __init__(
        self, raster: RasterSource, labels: LabelSource, gsd_m: float, name: str = ""
    ) -> None:
        self.raster = raster
        self.labels = labels
        self.gsd_m = float(gsd_m)
        self.name = name or str(raster.path)
        gx, gy = raster.grid.gsd_m()
        self.factor = (gsd_m / gx, gsd_m / gy)
        self.grid: Grid
        self.grid, self.resampling = model_grid(raster.grid, gsd_m)

    def reopen(self) -> None:
        """Open new file handles (in a forked DataLoader worker: never share the parent's).

        A forked worker inherits the parent's open GDAL datasets; reading through
        them from several processes shares file offsets and caches. Pickling (spawned
        workers) already reopens; this does the same for forked ones.
        """
        for src in _raster_sources(self.raster, self.labels):
            src.__setstate__(src.__getstate__())

    @property
    def width(self) -> int:
        """Working-grid columns."""
        return self.grid.width

    @property
    def height(self) -> int:
        """Working-grid rows."""
        return self.grid.height

    def read(self, x: int, y: int, tile: int, size: int | None = None) -> Sample:
        """Read the window whose top-left working pixel is ``(x, y)``, as ``tile × tile`` pixels.

        ``size`` (default ``tile``) is the window's side in working pixels: another
        size is read back at ``tile`` pixels (imagery interpolated, labels drawn on
        the same grid), i.e. at a ground resolution ``size / tile`` times the
        model's. The window may overhang the raster: pixels outside are padding
        (image 0, mask ignore index).
        """
        size = int(size or tile)
        g = self.grid.window_grid(Window(int(x), int(y), size, size))
        resampling = self.resampling
        if size != tile:
            f = size / tile
            g = g.scaled(f, f)
            shrink = f * max(self.factor)
            resampling = "average" if shrink > AVERAGE_ABOVE else "bilinear"
        win = self.raster.read_grid(g, resampling)  # type: ignore[arg-type]
        mask = self.labels.rasterize(g)
        mask = np.where(win.valid, mask, IGNORE_INDEX).astype(np.uint8)
        return Sample(win.data, mask)

    def road_points(self, spacing_px: float, max_points: int, seed: int = 0) -> np.ndarray:
        """Working-pixel (x, y) locations on roads, at most ``max_points`` (float64, k×2).

        Vector labels: vertices of the road lines densified every ``spacing_px``.
        Mask labels: road pixels of a coarse (≤ 512 px) rasterisation of the mask.
        """
        lines = getattr(self.labels, "lines", None)
        if lines is not None:
            pts = self._vector_points(lines, spacing_px)
        else:
            pts = self._mask_points()
        inside = (
            (pts[:, 0] >= 0)
            & (pts[:, 0] < self.width)
            & (pts[:, 1] >= 0)
            & (pts[:, 1] < self.height)
        )
        pts = pts[inside]
        if len(pts) > max_points:
            rng = np.random.default_rng([seed, 11])
            pts = pts[np.sort(rng.choice(len(pts), max_points, replace=False))]
        return pts

    def _vector_points(self, lines: object, spacing_px: float) -> np.ndarray:
        import shapely

        geoms = np.asarray(lines.geometry.values)  # type: ignore[attr-defined]
        if geoms.size == 0:
            return np.zeros((0, 2))
        step = spacing_px * self.grid.res[0]
        coords = shapely.get_coordinates(shapely.segmentize(geoms, step))
        inv = ~self.grid.transform
        px, py = inv @ (coords[:, 0], coords[:, 1])
        return np.column_stack([px, py])

    def _mask_points(self) -> np.ndarray:
        f = max(1.0, max(self.width, self.height) / 512)
        coarse = Grid(
            self.grid.crs,
            self.grid.transform * Affine.scale(f, f),
            max(1, math.ceil(self.width / f)),
            max(1, math.ceil(self.height / f)),
            self.grid.pixel_m * f if self.grid.pixel_m is not None else None,
        )
        m = self.labels.rasterize(coarse)
        rows, cols = np.nonzero((m > 0) & (m != IGNORE_INDEX))
        return np.column_stack([(cols + 0.5) * f, (rows + 0.5) * f]).astype(np.float64)

    def class_counts(
        self, windows: list[tuple[int, int]], tile: int, num_classes: int
    ) -> np.ndarray:
        """Pixels per class over some windows (labels only: no imagery is read)."""
        counts = np.zeros(num_classes, dtype=np.int64)
        for x, y in windows:
            g = self.grid.window_grid(Window(int(x), int(y), tile, tile))
            m = self.labels.rasterize(g)
            counts += np.bincount(m[m != IGNORE_INDEX].ravel(), minlength=num_classes)[:num_classes]
        return counts
