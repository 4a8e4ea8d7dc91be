"""Spatial train/validation split: rasters cut into square blocks, some blocks for validation.

Pure (arrays and integers in, no files). A block is a square of ``block`` working
pixels; the block grid starts at the raster's top-left corner. Validation blocks
are chosen by a pattern with about ``val_fraction`` of the blocks:

* ``checkerboard``: diagonal pattern ``(row + 2·col) % k == offset`` with
  ``k = round(1 / val_fraction)`` (a true checkerboard for 0.5);
* ``stripes``: every k-th row of blocks;
* ``random``: exactly ``round(val_fraction · n)`` blocks drawn with the seed.

The offset differs per scene, so a dataset of many small images (one block
each) still sends about ``val_fraction`` of them to validation. Block sides are
multiples of the tile, so validation windows tile a block exactly and no window
ever straddles a train and a validation block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from roadseg.errors import ConfigError

SplitPattern = Literal["checkerboard", "stripes", "random"]
PATTERNS: tuple[str, ...] = ("checkerboard", "stripes", "random")


@dataclass(frozen=True, slots=True)
class Rect:
    """A pixel rectangle ``[x0, x1) × [y0, y1)`` in working-grid pixels."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """Columns."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Rows."""
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        """Pixels."""
        return max(0, self.width) * max(0, self.height)

    def contains(self, x: float, y: float) -> bool:
        """True when the point lies inside.

        >>> Rect(0, 0, 4, 4).contains(3.5, 0), Rect(0, 0, 4, 4).contains(4, 0)
        (True, False)
        """
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1


def auto_block(tile: int, width: int, height: int) -> int:
    """A block side for a scene: a multiple of ``tile``, about a third of the short side, ≤ 4 tiles.

    >>> auto_block(64, 128, 128), auto_block(256, 1300, 1300), auto_block(256, 20000, 9000)
    (64, 256, 1024)
    """
    m = min(4, max(1, min(width, height) // (3 * tile)))
    return tile * m


def block_grid(width: int, height: int, block: int) -> list[Rect]:
    """Blocks covering a ``width × height`` grid, row-major, clipped to it.

    >>> [(r.x0, r.y0, r.x1, r.y1) for r in block_grid(5, 3, 4)]
    [(0, 0, 4, 3), (4, 0, 5, 3)]
    """
    out = []
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            out.append(Rect(x0, y0, min(x0 + block, width), min(y0 + block, height)))
    return out


def val_blocks(
    rows: int,
    cols: int,
    val_fraction: float,
    pattern: SplitPattern = "checkerboard",
    scene_index: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """Which blocks of a ``rows × cols`` block grid are for validation (bool, row-major).

    >>> val_blocks(2, 2, 0.5).astype(int).tolist()
    [[1, 0], [0, 1]]
    >>> val_blocks(3, 2, 0.34, "stripes").astype(int).tolist()
    [[1, 1], [0, 0], [0, 0]]
    >>> int(val_blocks(10, 10, 0.2, "random").sum())
    20
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    if pattern not in PATTERNS:
        raise ConfigError(f"unknown split pattern {pattern!r}; valid: {', '.join(PATTERNS)}")
    if val_fraction == 0.0:
        return np.zeros((rows, cols), dtype=bool)
    r, c = np.mgrid[0:rows, 0:cols]
    k = max(2, int(round(1.0 / val_fraction)))
    off = scene_index % k
    if pattern == "checkerboard":
        step = 1 if k == 2 else 2
        return ((r + step * c) % k) == off
    if pattern == "stripes":
        return (r % k) == off
    n = rows * cols
    want = min(n, max(1, int(round(val_fraction * n))))
    rng = np.random.default_rng([seed, scene_index, 7])
    flat = np.zeros(n, dtype=bool)
    flat[rng.choice(n, size=want, replace=False)] = True
    return flat.reshape(rows, cols)


def grid_windows(rect: Rect, tile: int) -> list[tuple[int, int]]:
    """Top-left corners of ``tile``-sized windows tiling ``rect``; the last ones may overhang.

    Nothing is dropped at the edge: a partial last window reaches past the
    rectangle (its padding is ignored in the loss and metrics).

    >>> grid_windows(Rect(0, 0, 100, 64), 64)
    [(0, 0), (64, 0)]
    """
    xs = range(rect.x0, rect.x1, tile)
    ys = range(rect.y0, rect.y1, tile)
    return [(x, y) for y in ys for x in xs]


def window_span(lo: int, hi: int, tile: int) -> tuple[int, int]:
    """Range ``[a, b]`` of window starts keeping a window inside ``[lo, hi)`` when it fits.

    When the span is shorter than the tile (a clipped block at the raster edge)
    the window starts at ``lo`` and overhangs the raster edge.

    >>> window_span(0, 256, 64), window_span(192, 230, 64)
    ((0, 192), (192, 192))
    """
    return lo, max(lo, hi - tile)


def window_around(p: float, lo: int, hi: int, tile: int, u: float) -> int:
    """Start of a window containing coordinate ``p``, inside ``[lo, hi)``; ``u`` in [0, 1) picks.

    >>> window_around(100.5, 0, 256, 64, 0.0), window_around(100.5, 0, 256, 64, 0.999)
    (37, 100)
    >>> window_around(10, 0, 256, 64, 0.5)
    5
    """
    a, b = window_span(lo, hi, tile)
    pi = int(math.floor(p))
    lo_s = max(a, pi - tile + 1)
    hi_s = max(lo_s, min(b, pi))
    return lo_s + int(u * (hi_s - lo_s + 1))
