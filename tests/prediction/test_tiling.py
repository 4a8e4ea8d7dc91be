"""Pure tiling: layouts cover the grid, weights blend to one, strips stay bounded; resampling."""

from __future__ import annotations

import numpy as np
import pytest
from roadseg.prediction.resample import RowResampler, axis_taps, resample_columns
from roadseg.prediction.tiling import (
    WEIGHT_FLOOR,
    TileLayout,
    axis_starts,
    axis_weights,
    fit_tile,
    plan_strips,
)


@pytest.mark.parametrize(
    "length,tile,overlap",
    [
        (1000, 256, 64),
        (256, 256, 64),
        (257, 256, 64),
        (100, 128, 32),
        (5000, 512, 0),
        (700, 96, 48),
    ],
)
def test_starts_cover_the_axis_with_the_stride(length, tile, overlap):
    starts = axis_starts(length, tile, overlap)
    covered = np.zeros(max(length, tile), bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered[:length].all()
    assert starts[0] == 0
    if length > tile:
        assert starts[-1] + tile == length  # the last tile ends on the border, none hangs over
        gaps = np.diff(starts)
        assert gaps[:-1].tolist() == [tile - overlap] * (len(starts) - 2)
        assert 0 < gaps[-1] <= tile - overlap


@pytest.mark.parametrize(
    "length,tile,overlap", [(1000, 256, 64), (1000, 256, 128), (700, 96, 24), (300, 256, 64)]
)
def test_weights_sum_to_one_and_borders_keep_full_weight(length, tile, overlap):
    starts = axis_starts(length, tile, overlap)
    w = axis_weights(starts, tile)
    total = np.zeros(max(length, tile))
    for s, wi in zip(starts, w, strict=True):
        total[s : s + tile] += wi
    assert np.allclose(total[:length], 1.0, atol=2 * WEIGHT_FLOOR)
    assert w[0, 0] == pytest.approx(1.0) and w[-1, -1] == pytest.approx(1.0)
    assert (w >= WEIGHT_FLOOR).all()
    # Smooth: no jump bigger than a ramp step anywhere in a tile.
    assert np.abs(np.diff(w, axis=1)).max() < 4.0 / max(1, overlap)


def test_single_tile_is_flat_and_fit_tile_shrinks_short_axes():
    assert axis_weights((0,), 128).min() == pytest.approx(1.0)
    assert fit_tile(70, 256) == 96 and fit_tile(256, 256) == 256 and fit_tile(9999, 256) == 256
    lay = TileLayout.build(70, 1000, 256, 64)
    assert (lay.tile_h, lay.tile_w, lay.ys) == (96, 256, (0,))


def test_tile_must_be_a_multiple_of_the_stride():
    with pytest.raises(ValueError, match="multiple of 32"):
        TileLayout.build(100, 100, 100, 25)


def test_strip_plan_accumulator_is_bounded_by_the_tile_not_the_height():
    for height in (300, 3_000, 300_000):
        lay = TileLayout.build(height, 64, 256, 64)
        steps = list(plan_strips(lay))
        assert max(s.acc_height for s in steps) <= lay.tile_h
        # Final rows tile the whole height exactly once, in order.
        finals = [s.final_rows for s in steps]
        assert finals[0][0] == 0 and finals[-1][1] == height
        assert all(a[1] == b[0] for a, b in zip(finals, finals[1:], strict=False))
        # Each step only finalises rows it holds, and rows below it are untouched by later steps.
        for s, nxt in zip(steps, steps[1:], strict=False):
            assert s.acc_rows[0] <= s.final_rows[0] and s.final_rows[1] <= s.acc_rows[1]
            assert nxt.rows[0] >= s.final_rows[1]


def test_taps_identity_and_linear_upsampling():
    t = axis_taps(10, 10, 1.0)
    x = np.random.default_rng(0).random((2, 3, 10)).astype(np.float32)
    assert resample_columns(x, t) is x  # exact identity, no copy
    ramp = np.arange(8, dtype=np.float32)[None, None, :]
    up = resample_columns(ramp, axis_taps(16, 8, 2.0))[0, 0]
    # Interior samples of a linear ramp stay on the line (bilinear is exact for linear data).
    assert np.allclose(up[1:-1], (np.arange(16)[1:-1] + 0.5) / 2 - 0.5, atol=1e-5)


def test_taps_downsampling_averages_the_footprint():
    line = np.zeros((1, 1, 40), np.float32)
    line[..., 21] = 1.0  # a one-pixel road
    down = resample_columns(line, axis_taps(10, 40, 0.25))[0, 0]
    # Area kept (each output pixel is 4 source pixels): not dropped, not duplicated.
    assert down.sum() * 4 == pytest.approx(1.0, abs=1e-5)
    assert 0 < down.max() < 0.5  # spread over its footprint


@pytest.mark.parametrize(
    "n_out,n_src,scale,chunks",
    [(50, 25, 2.0, [7, 1, 10, 7]), (25, 50, 0.5, [3, 20, 27]), (30, 30, 1.0, [30])],
)
def test_row_resampler_streaming_equals_whole(n_out, n_src, scale, chunks):
    rng = np.random.default_rng(1)
    src = rng.random((2, n_src, 5)).astype(np.float32)
    taps = axis_taps(n_out, n_src, scale)
    whole = resample_columns(np.swapaxes(src, 1, 2), taps)  # rows as last axis
    whole = np.swapaxes(whole, 1, 2)
    rr = RowResampler(taps)
    got, start, peak = [], 0, 0
    for i, n in enumerate(chunks):
        first, out = rr.push(src[:, start : start + n], last=i == len(chunks) - 1)
        start += n
        assert first == sum(g.shape[1] for g in got)
        got.append(out)
        peak = max(peak, rr.buffered_rows)
    assert np.allclose(np.concatenate(got, axis=1), whole, atol=1e-6)
    assert peak <= max(chunks) + 4  # only the rows still needed are kept
