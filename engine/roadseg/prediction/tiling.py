"""Pure tiling: sliding-window layouts, overlap, blending weights and the strip plan.

Nothing here touches files: layouts are computed from a grid's shape, weights are
numpy arrays. The sliding window covers an axis of ``length`` pixels with tiles of
``tile`` pixels placed every ``tile - overlap`` pixels; the last tile is aligned
with the end of the axis so no tile hangs over the border (unless the axis is
shorter than one tile: the single tile is then padded and cropped).

Blending: each tile's weight is separable, ``wy[row] * wx[col]``. Along an axis a
tile ramps up with ``sin²`` over the pixels it shares with the previous tile and
down with ``cos²`` over those it shares with the next one; where two tiles
overlap their ramps sum to exactly 1 (``sin² + cos² = 1``), so the blended
probability is a smooth, seam-free partition of unity. Sides on the raster
border have no ramp: border pixels keep full weight. A small floor keeps every
weight positive (three-way overlaps, divisions).

Strips: tiles are processed one row of tiles at a time. After tile row ``k``,
every pixel above the next row's first pixel is final, so the accumulator only
ever holds the ``tile`` rows of the current row of tiles (:func:`plan_strips`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Minimum blending weight (keeps weights and their sums positive).
WEIGHT_FLOOR = 1e-3


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``value``.

    >>> round_up(100, 32), round_up(128, 32)
    (128, 128)
    """
    return int(math.ceil(value / multiple) * multiple)


def fit_tile(length: int, tile: int, multiple: int = 32) -> int:
    """Tile side for an axis: ``tile``, or less for an axis shorter than a tile.

    A short axis gets the smallest multiple of ``multiple`` covering it (less
    padding, less compute).

    >>> fit_tile(1000, 512), fit_tile(100, 512), fit_tile(512, 512)
    (512, 128, 512)
    """
    return min(tile, round_up(max(1, length), multiple))


def axis_starts(length: int, tile: int, overlap: int) -> tuple[int, ...]:
    """First pixel of every tile along an axis (stride ``tile - overlap``).

    The last tile ends at the axis end; an axis no longer than a tile has one tile.

    >>> axis_starts(1000, 256, 64)
    (0, 192, 384, 576, 744)
    >>> axis_starts(200, 256, 64)
    (0,)
    """
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got {overlap} for tile {tile}")
    if length <= tile:
        return (0,)
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return tuple(starts)


def _rise(n: int, ramp: int) -> np.ndarray:
    """``sin²`` ramp from ~0 to 1 over the first ``ramp`` of ``n`` pixels, then 1."""
    w = np.ones(n, dtype=np.float64)
    if ramp > 0:
        t = (np.arange(ramp) + 0.5) / ramp
        w[:ramp] = np.sin(0.5 * np.pi * t) ** 2
    return w


def axis_weights(
    starts: tuple[int, ...],
    tile: int,
    floor: float = WEIGHT_FLOOR,
    first: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """Blending weights (n_tiles, tile) along one axis for tiles at ``starts``.

    Each tile ramps over exactly the pixels it shares with its neighbours, so two
    overlapping tiles sum to 1; the first and last tiles are flat on the border.
    ``first``/``stop`` give only the rows of tiles ``first..stop-1`` (the same values:
    a tile's weights depend only on its neighbours' starts).

    >>> w = axis_weights(axis_starts(1000, 256, 64), 256)
    >>> total = np.zeros(1000)
    >>> for s, wi in zip(axis_starts(1000, 256, 64), w):
    ...     total[s:s + 256] += wi
    >>> bool(np.allclose(total, 1.0, atol=2e-3))
    True
    """
    n = len(starts)
    stop = n if stop is None else stop
    out = np.empty((max(0, stop - first), tile), dtype=np.float32)
    for i in range(first, stop):
        s = starts[i]
        left = min(tile, starts[i - 1] + tile - s) if i > 0 else 0
        right = min(tile, s + tile - starts[i + 1]) if i + 1 < n else 0
        w = _rise(tile, max(0, left)) * _rise(tile, max(0, right))[::-1]
        out[i - first] = np.maximum(w, floor)
    return out


@dataclass(frozen=True, slots=True)
class TileLayout:
    """A sliding-window layout over a ``height`` × ``width`` grid.

    Attributes:
        height: Grid rows.
        width: Grid columns.
        tile_h: Tile rows (all tiles have the same size).
        tile_w: Tile columns.
        ys: First row of each row of tiles.
        xs: First column of each column of tiles.

    """

    height: int
    width: int
    tile_h: int
    tile_w: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]

    @classmethod
    def build(
        cls, height: int, width: int, tile: int, overlap: int, multiple: int = 32
    ) -> TileLayout:
        """Lay tiles of ``tile`` pixels (a multiple of ``multiple``) with ``overlap``.

        >>> lay = TileLayout.build(1000, 300, 256, 64)
        >>> lay.ys, lay.xs, lay.tile_w, lay.n_tiles
        ((0, 192, 384, 576, 744), (0, 44), 256, 10)
        """
        if tile <= 0 or tile % multiple:
            raise ValueError(f"tile {tile} is not a multiple of {multiple}")
        th = fit_tile(height, tile, multiple)
        tw = fit_tile(width, tile, multiple)
        return cls(
            height,
            width,
            th,
            tw,
            axis_starts(height, th, min(overlap, th - 1) if height > th else 0),
            axis_starts(width, tw, min(overlap, tw - 1) if width > tw else 0),
        )

    @property
    def n_tiles(self) -> int:
        """Number of tiles."""
        return len(self.ys) * len(self.xs)

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-row-of-tiles and per-column-of-tiles 1-D weights (wy, wx)."""
        return axis_weights(self.ys, self.tile_h), axis_weights(self.xs, self.tile_w)


@dataclass(frozen=True, slots=True)
class StripStep:
    """One row of tiles in the strip plan.

    Attributes:
        index: Row of tiles.
        rows: (first, end) grid rows the tiles cover, clipped to the grid.
        acc_rows: (first, end) grid rows the accumulator holds while this row runs.
        final_rows: (first, end) grid rows that are final once this row is done.

    """

    index: int
    rows: tuple[int, int]
    acc_rows: tuple[int, int]
    final_rows: tuple[int, int]

    @property
    def acc_height(self) -> int:
        """Rows the accumulator needs for this step."""
        return self.acc_rows[1] - self.acc_rows[0]


def plan_strips(layout: TileLayout) -> Iterator[StripStep]:
    """Rows of tiles in order, with the rows to accumulate and to finalise.

    The accumulator never holds more than ``tile_h`` rows, whatever the height:

    >>> steps = list(plan_strips(TileLayout.build(100_000, 64, 256, 64)))
    >>> max(s.acc_height for s in steps), steps[0].final_rows, steps[-1].final_rows[1]
    (256, (0, 192), 100000)
    """
    ys = layout.ys
    done = 0
    for k, y in enumerate(ys):
        end = min(layout.height, y + layout.tile_h)
        final_end = ys[k + 1] if k + 1 < len(ys) else layout.height
        yield StripStep(k, (y, end), (y, end), (done, final_end))
        done = final_end
