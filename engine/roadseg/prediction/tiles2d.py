"""Pure 2-D tiling: the tiles and working pixels a rectangle of the output needs.

Prediction memory is bounded by the tile in both directions: the output grid is
cut into *regions* (rectangles of output pixels: column panels of a raster, or the
blocks of a blocked run), and each region is streamed on its own through the tiles
of the **whole raster's** layout that touch it, with the whole raster's blending
weights, weight sums and resampling taps. Every output pixel therefore gets exactly
the sums it would get if the raster were processed at once, in the same order:
the result does not depend on how the output is cut. The price is that tiles
straddling a region border are run once for each region they touch.

A region needs:

* the output → working-grid resampling taps of its rows and columns
  (:func:`~roadseg.prediction.resample.axis_taps` over the whole axes, restricted);
* the working pixels those taps read (:attr:`RegionPlan.work_rows`/``work_cols``);
* every tile of the layout that touches those pixels (``tile_rows``/``tile_cols``):
  all the tiles blended into them, and no other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roadseg.prediction.resample import AxisTaps, TapRows, axis_taps
from roadseg.prediction.tiling import TileLayout

#: Output columns predicted at a time: the accumulator and every row buffer are this wide
#: (plus the tiles' overhang), whatever the raster's width. A multiple of the 256-pixel TIFF
#: blocks, so each panel writes whole blocks.
PANEL_COLUMNS = 4096


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of pixels ``[start, stop)`` along one axis.

    >>> Span(3, 10).size, Span(3, 10).range
    (7, range(3, 10))
    """

    start: int
    stop: int

    def __post_init__(self) -> None:
        if self.stop < self.start:
            raise ValueError(f"empty span [{self.start}, {self.stop})")

    @property
    def size(self) -> int:
        """Pixels in the span."""
        return self.stop - self.start

    @property
    def range(self) -> range:
        """The pixel indexes."""
        return range(self.start, self.stop)


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of the output grid.

    Attributes:
        rows: Output rows.
        cols: Output columns.

    """

    rows: Span
    cols: Span

    @classmethod
    def of(cls, row0: int, col0: int, height: int, width: int) -> Region:
        """The region of ``height`` × ``width`` pixels from ``(row0, col0)``.

        >>> Region.of(0, 256, 100, 50).cols
        Span(start=256, stop=306)
        """
        return cls(Span(row0, row0 + height), Span(col0, col0 + width))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return (self.rows.size, self.cols.size)

    def panels(self, width: int = PANEL_COLUMNS) -> list[Region]:
        """Cut into panels at most ``width`` columns wide (all rows), left to right.

        >>> [p.cols for p in Region.of(0, 0, 10, 9000).panels(4096)]
        [Span(start=0, stop=4096), Span(start=4096, stop=8192), Span(start=8192, stop=9000)]
        """
        c = self.cols
        return [
            Region(self.rows, Span(x, min(c.stop, x + width)))
            for x in range(c.start, c.stop, width)
        ]


def tiles_touching(starts: tuple[int, ...], tile: int, length: int, span: Span) -> range:
    """Indexes of the tiles (at ``starts``, clipped to ``length``) that overlap ``span``.

    >>> tiles_touching((0, 192, 384, 576, 744), 256, 1000, Span(250, 260))
    range(0, 2)
    >>> tiles_touching((0, 192, 384, 576, 744), 256, 1000, Span(0, 1000))
    range(0, 5)
    """
    first = next(i for i, s in enumerate(starts) if min(s + tile, length) > span.start)
    stop = first
    while stop < len(starts) and starts[stop] < span.stop:
        stop += 1
    return range(first, stop)


def weight_sums_over(
    starts: tuple[int, ...], weights: np.ndarray, first: int, length: int, span: Span
) -> np.ndarray:
    """Sum of the blending weights of tiles ``first..`` over ``span`` (float64).

    ``weights[k]`` are the weights of tile ``first + k`` (see
    :func:`~roadseg.prediction.tiling.axis_weights`), which must include every tile
    touching ``span``. Tiles are added in order, so every value equals the sum over
    the whole axis.

    >>> from roadseg.prediction.tiling import axis_starts, axis_weights
    >>> s = axis_starts(500, 128, 32)
    >>> part = weight_sums_over(s, axis_weights(s, 128, first=1, stop=4), 1, 500, Span(130, 300))
    >>> bool(np.allclose(part, 1, atol=0.01)), part.shape
    (True, (170,))
    """
    total = np.zeros(span.size, dtype=np.float64)
    for k, w in enumerate(weights):
        s = starts[first + k]
        a, b = max(s, span.start), min(s + len(w), length, span.stop)
        if b > a:
            total[a - span.start : b - span.start] += w[a - s : b - s]
    return total


def source_span(taps: AxisTaps) -> Span:
    """The source pixels that taps read with a non-zero weight.

    >>> source_span(axis_taps(4, 8, 0.5, first=1, stop=3))
    Span(start=1, stop=7)
    """
    return Span(int(taps.lo.min()), int(taps.hi.max()) + 1)


@dataclass(frozen=True)
class RegionPlan:
    """What streaming one region of the output needs (see the module docstring).

    Attributes:
        region: The output pixels.
        row_taps: Resampling taps of the region's rows (made on demand; source indexes
            relative to ``work_rows.start``).
        col_taps: The same for its columns (relative to ``work_cols.start``).
        work_rows: Working rows the region's rows read.
        work_cols: Working columns its columns read.
        tile_rows: Rows of tiles of the layout touching ``work_rows``.
        tile_cols: Columns of tiles touching ``work_cols``.
        rows_identity: Output rows are working rows (no vertical resampling).

    """

    region: Region
    row_taps: TapRows
    col_taps: TapRows
    work_rows: Span
    work_cols: Span
    tile_rows: range
    tile_cols: range
    rows_identity: bool

    @property
    def n_tiles(self) -> int:
        """Tiles run for this region (tiles on its borders are shared with neighbours)."""
        return len(self.tile_rows) * len(self.tile_cols)


def _reads(n_out: int, n_src: int, scale: float, span: Span) -> Span:
    """Source pixels read by output pixels ``span`` (bounds grow with the output index)."""
    a = axis_taps(n_out, n_src, scale, span.start, span.start + 1)
    b = axis_taps(n_out, n_src, scale, span.stop - 1, span.stop)
    return Span(int(a.lo[0]), int(b.hi[0]) + 1)


def plan_region(
    layout: TileLayout,
    out_shape: tuple[int, int],
    scale: tuple[float, float],
    region: Region,
) -> RegionPlan:
    """Plan one region of an output grid of ``out_shape`` over the working ``layout``.

    ``scale`` is the working pixel size in output pixels (rows, columns). Nothing here
    grows with the region: taps are made when rows are finished.

    >>> lay = TileLayout.build(1000, 1000, 256, 64)
    >>> p = plan_region(lay, (1000, 1000), (1.0, 1.0), Region.of(0, 500, 1000, 100))
    >>> p.work_cols, p.tile_rows, p.tile_cols, p.rows_identity
    (Span(start=500, stop=600), range(0, 5), range(2, 4), True)
    """
    h, w = out_shape
    r, c = region.rows, region.cols
    if r.start < 0 or c.start < 0 or r.stop > h or c.stop > w or not (r.size and c.size):
        raise ValueError(f"region {region} is not inside the {h}x{w} output grid")
    work_rows = _reads(h, layout.height, scale[0], r)
    work_cols = _reads(w, layout.width, scale[1], c)
    return RegionPlan(
        region=region,
        row_taps=TapRows(h, layout.height, scale[0], r.start, r.stop, work_rows.start),
        col_taps=TapRows(w, layout.width, scale[1], c.start, c.stop, work_cols.start),
        work_rows=work_rows,
        work_cols=work_cols,
        tile_rows=tiles_touching(layout.ys, layout.tile_h, layout.height, work_rows),
        tile_cols=tiles_touching(layout.xs, layout.tile_w, layout.width, work_cols),
        # Taps are the identity exactly when the grids coincide (any other scale shifts row 0).
        rows_identity=h == layout.height and scale[0] == 1.0,
    )
