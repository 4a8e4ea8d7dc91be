"""Where training and validation windows come from: blocks per scene, road points, draws.

A :class:`WindowPlan` holds, for every scene, its train and validation blocks
(see :mod:`roadseg.data.split`) and the road locations inside train blocks. It
draws random training windows — with probability ``road_bias`` around a random
road location, else uniformly in a random train block (blocks weighted by
area) — and lists the validation windows on a grid over the validation blocks.
Draws depend only on the random generator given, so a window is a pure
function of its sample key (see :mod:`roadseg.data.sampler`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from roadseg.data.split import (
    Rect,
    SplitPattern,
    auto_block,
    block_grid,
    grid_windows,
    val_blocks,
    window_around,
    window_span,
)
from roadseg.errors import DataError

#: A window: (scene index, x, y) of its top-left working pixel.
WindowRef = tuple[int, int, int]


@dataclass(frozen=True)
class SceneBlocks:
    """Blocks of one scene split into train and validation."""

    train: tuple[Rect, ...]
    val: tuple[Rect, ...]
    block: int


def split_scene(
    width: int,
    height: int,
    tile: int,
    role: str,
    val_fraction: float,
    pattern: SplitPattern,
    scene_index: int,
    seed: int,
    block: int | None = None,
) -> SceneBlocks:
    """Split one scene's working grid into train/validation blocks.

    ``role`` is ``"train"`` (all blocks train), ``"val"`` (all validation) or
    ``"split"`` (by pattern). ``block`` (working pixels) is rounded up to a
    multiple of ``tile``; None picks :func:`~roadseg.data.split.auto_block`.

    >>> b = split_scene(128, 128, 64, "split", 0.25, "checkerboard", 0, 0)
    >>> len(b.train), len(b.val), b.block
    (3, 1, 64)
    """
    size = auto_block(tile, width, height) if not block else tile * max(1, -(-int(block) // tile))
    rects = block_grid(width, height, size)
    if role == "train":
        return SceneBlocks(tuple(rects), (), size)
    if role == "val":
        return SceneBlocks((), tuple(rects), size)
    rows, cols = -(-height // size), -(-width // size)
    is_val = val_blocks(rows, cols, val_fraction, pattern, scene_index, seed).ravel()
    return SceneBlocks(
        tuple(r for r, v in zip(rects, is_val, strict=True) if not v),
        tuple(r for r, v in zip(rects, is_val, strict=True) if v),
        size,
    )


class WindowPlan:
    """Training draws and validation windows over several scenes.

    Args:
        blocks: Per scene, its split blocks.
        road_points: Per scene, working-pixel road locations (k×2).
        tile: Window side in working pixels.
        road_bias: Probability of a window around a road location.

    """

    def __init__(
        self,
        blocks: Sequence[SceneBlocks],
        road_points: Sequence[np.ndarray],
        tile: int,
        road_bias: float = 0.5,
    ) -> None:
        if not 0.0 <= road_bias <= 1.0:
            raise DataError(f"data.road_bias must be in [0, 1], got {road_bias}")
        self.tile = int(tile)
        self.road_bias = float(road_bias)
        self.blocks = list(blocks)
        tb = [(s, r) for s, b in enumerate(self.blocks) for r in b.train]
        self._train = tb
        areas = np.array([r.area for _, r in tb], dtype=np.float64)
        self._cum_area = np.cumsum(areas) / areas.sum() if len(tb) else np.zeros(0)
        # Road points inside train blocks, each with its block.
        pts, owners = [], []
        for i, (s, r) in enumerate(tb):
            p = road_points[s] if s < len(road_points) else np.zeros((0, 2))
            if len(p):
                keep = (p[:, 0] >= r.x0) & (p[:, 0] < r.x1) & (p[:, 1] >= r.y0) & (p[:, 1] < r.y1)
                if keep.any():
                    pts.append(p[keep])
                    owners.append(np.full(int(keep.sum()), i))
        self._road_xy = np.concatenate(pts) if pts else np.zeros((0, 2))
        self._road_block = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)

    @property
    def num_train_blocks(self) -> int:
        """Train blocks over all scenes."""
        return len(self._train)

    @property
    def num_road_points(self) -> int:
        """Road locations available for biased draws."""
        return len(self._road_xy)

    def draw(self, rng: np.random.Generator, size: int | None = None) -> WindowRef:
        """Draw one training window of ``size`` working pixels (default: the tile)."""
        if not self._train:
            raise DataError(
                "no training blocks: every block went to validation; lower data.val_fraction"
            )
        t = int(size) if size else self.tile
        if self.num_road_points and rng.random() < self.road_bias:
            k = int(rng.integers(self.num_road_points))
            s, r = self._train[int(self._road_block[k])]
            px, py = self._road_xy[k]
            return (
                s,
                window_around(px, r.x0, r.x1, t, rng.random()),
                window_around(py, r.y0, r.y1, t, rng.random()),
            )
        i = int(np.searchsorted(self._cum_area, rng.random(), side="right"))
        s, r = self._train[min(i, len(self._train) - 1)]
        ax, bx = window_span(r.x0, r.x1, t)
        ay, by = window_span(r.y0, r.y1, t)
        return s, int(rng.integers(ax, bx + 1)), int(rng.integers(ay, by + 1))

    def val_windows(self, limit: int | None = None) -> list[WindowRef]:
        """Validation windows tiling every validation block (evenly thinned to ``limit``)."""
        out = [
            (s, x, y)
            for s, b in enumerate(self.blocks)
            for r in b.val
            for x, y in grid_windows(r, self.tile)
        ]
        if limit and len(out) > limit:
            idx = np.linspace(0, len(out) - 1, limit).round().astype(int)
            out = [out[i] for i in idx]
        return out
