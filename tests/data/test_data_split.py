"""Spatial split: blocks, validation grid, training draws never cross into validation blocks."""

from __future__ import annotations

import numpy as np
import pytest
from roadseg.data.plan import WindowPlan, split_scene
from roadseg.data.split import Rect, block_grid, val_blocks
from roadseg.errors import ConfigError


def _overlap(a: Rect, b: Rect) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("pattern", ["checkerboard", "stripes", "random"])
@pytest.mark.parametrize("frac", [0.2, 0.25, 0.5])
def test_val_fraction_close_to_requested(pattern, frac):
    v = val_blocks(20, 20, frac, pattern)
    assert abs(v.mean() - frac) <= 0.06
    assert v.any() and not v.all()


def test_bad_split_options():
    with pytest.raises(ConfigError, match="val_fraction"):
        val_blocks(2, 2, 1.0)
    with pytest.raises(ConfigError, match="checkerboard, stripes, random"):
        val_blocks(2, 2, 0.2, "spiral")


def test_blocks_cover_grid_without_overlap():
    rects = block_grid(300, 200, 64)
    cover = np.zeros((200, 300), dtype=int)
    for r in rects:
        cover[r.y0 : r.y1, r.x0 : r.x1] += 1
    assert (cover == 1).all()


@pytest.mark.parametrize("pattern", ["checkerboard", "stripes", "random"])
def test_windows_never_straddle_train_and_val(pattern):
    w, h, tile = 700, 500, 64
    blocks = split_scene(w, h, tile, "split", 0.3, pattern, scene_index=1, seed=3, block=128)
    assert blocks.block == 128 and blocks.train and blocks.val
    # train and val blocks are disjoint
    assert not any(_overlap(a, b) for a in blocks.train for b in blocks.val)
    # road points everywhere, including validation blocks
    rng = np.random.default_rng(0)
    pts = rng.uniform([0, 0], [w, h], (500, 2))
    plan = WindowPlan([blocks], [pts], tile, road_bias=0.5)
    raster = Rect(0, 0, w, h)
    for _ in range(2000):
        _, x, y = plan.draw(rng)
        win = Rect(x, y, x + tile, y + tile)
        assert not any(_overlap(win, b) for b in blocks.val), (x, y)
        assert _overlap(win, raster)
    for _, x, y in plan.val_windows():
        win = Rect(x, y, x + tile, y + tile)
        assert not any(_overlap(win, b) for b in blocks.train), (x, y)
    # validation windows tile the validation blocks exactly (no pixel twice, none missed)
    cover = np.zeros((h + tile, w + tile), dtype=int)
    for _, x, y in plan.val_windows():
        cover[y : y + tile, x : x + tile] += 1
    inside = cover[:h, :w]
    val_mask = np.zeros((h, w), dtype=bool)
    for b in blocks.val:
        val_mask[b.y0 : b.y1, b.x0 : b.x1] = True
    assert (inside[val_mask] == 1).all() and (inside[~val_mask] == 0).all()


def test_small_images_split_by_scene():
    # many one-block scenes (a DeepGlobe-like folder): about val_fraction of them go to validation
    blocks = [split_scene(60, 64, 64, "split", 0.25, "checkerboard", i, 0) for i in range(40)]
    n_val = sum(1 for b in blocks if b.val)
    assert n_val == 10


def test_road_bias_draws_near_roads():
    tile, w, h = 32, 1024, 1024
    blocks = split_scene(w, h, tile, "train", 0.0, "checkerboard", 0, 0, block=256)
    pts = np.array([[500.0 + i, 500.0] for i in range(20)])  # one short road
    rng = np.random.default_rng(1)

    def hits(bias: float) -> float:
        plan = WindowPlan([blocks], [pts], tile, road_bias=bias)
        n = 0
        for _ in range(400):
            _, x, y = plan.draw(rng)
            n += bool(
                np.any(
                    (pts[:, 0] >= x)
                    & (pts[:, 0] < x + tile)
                    & (pts[:, 1] >= y)
                    & (pts[:, 1] < y + tile)
                )
            )
        return n / 400

    assert hits(0.0) < 0.05
    assert 0.75 < hits(0.8) < 0.85 + 0.05
    assert hits(1.0) == 1.0
