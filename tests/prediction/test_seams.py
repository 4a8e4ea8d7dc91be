"""Seamless tiling: tiled + blended predictions match the whole-raster prediction.

The model is :class:`LocalNet` (29-pixel receptive field, calibrated so all three
classes occur): tile borders cut its receptive field, so seams would show without
overlap and blending. Tolerances (pixels more than 16 px from the raster border):

* classes agree on >= 98 % of all pixels (near-ties may flip) and >= 99.9 % of the pixels where the
  whole-raster prediction is confident (top-2 probability margin >= 0.1);
* mean absolute probability difference <= 0.01;
* the probability gradient across tile borders is within 10 % of the whole
  prediction's at the same places (no seam), while the same checks without overlap
  fail (a control showing the checks can fail).
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from predict_helpers import write_scene
from roadseg.prediction import predict
from roadseg.prediction.tiling import TileLayout, axis_starts

SIZE = 320
BORDER = 16


def run(path, model, out, **kw):
    predict(path, model, out, probabilities=True, precision="fp32", **kw)
    with rasterio.open(out) as ds:
        classes = ds.read(1)
    with rasterio.open(out.with_name(out.stem + "_proba.tif")) as ds:
        proba = ds.read().astype(np.float64) / 255.0
    return classes, proba


def seam_gradient(p: np.ndarray, tile: int, overlap: int) -> float:
    """Mean |probability step| across the tiles' borders (rows and columns)."""
    starts = axis_starts(p.shape[-1], tile, overlap)
    cuts = sorted(
        {s for s in starts[1:]} | {s + tile for s in starts[:-1] if s + tile < p.shape[-1]}
    )
    before = [c - 1 for c in cuts]
    return float(
        np.abs(p[:, :, cuts] - p[:, :, before]).mean()
        + np.abs(p[:, cuts, :] - p[:, before, :]).mean()
    )


@pytest.fixture(scope="module")
def whole(local_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("seams")
    src = write_scene(d / "scene.tif", SIZE, SIZE)
    classes, proba = run(src, local_model, d / "whole.tif", tile=SIZE, overlap=0)
    return src, classes, proba


def compare(whole, local_model, tmp_path, tile, overlap):
    src, c0, p0 = whole
    c, p = run(src, local_model, tmp_path / f"t{tile}_{overlap}.tif", tile=tile, overlap=overlap)
    b = slice(BORDER, -BORDER)
    # Confident decisions (see roadseg.prediction.resample.decide_u8): road vs background far
    # from the 0.5 threshold, and for road a clear margin between the road classes.
    road = p0[1:].sum(axis=0)
    rc = np.sort(p0[1:], axis=0)
    confident = ((np.abs(road - 0.5) >= 0.05) & ((road < 0.5) | (rc[-1] - rc[-2] >= 0.1)))[b, b]
    same = (c == c0)[b, b]
    return {
        "agree": same.mean(),
        "agree_confident": same[confident].mean(),
        "mean_dp": np.abs(p - p0)[:, b, b].mean(),
        "seam": seam_gradient(p, tile, overlap) / seam_gradient(p0, tile, overlap),
    }


def test_whole_prediction_uses_one_tile_and_all_classes(whole):
    assert TileLayout.build(SIZE, SIZE, SIZE, 0).n_tiles == 1
    counts = np.bincount(whole[1].ravel(), minlength=3)
    assert (counts[:3] > 0.1 * SIZE * SIZE).all(), counts  # a meaningful, mixed class map


@pytest.mark.parametrize("tile,overlap", [(128, 32), (96, 32)])
def test_tiled_with_overlap_matches_whole(whole, local_model, tmp_path, tile, overlap):
    m = compare(whole, local_model, tmp_path, tile, overlap)
    assert m["agree"] >= 0.98, m
    assert m["agree_confident"] >= 0.999, m
    assert m["mean_dp"] <= 0.01, m
    assert m["seam"] <= 1.1, m


def test_without_overlap_the_same_checks_fail(whole, local_model, tmp_path):
    m = compare(whole, local_model, tmp_path, 128, 0)
    assert m["agree_confident"] < 0.99 and m["mean_dp"] > 0.02 and m["seam"] > 1.2, m


def test_streamed_strips_equal_one_full_accumulator(local_model, tmp_path):
    """Many strips (tall raster) give exactly what blending every tile into one big array gives."""
    import torch

    net, meta = local_model
    h, w, tile, overlap = 480, 200, 64, 16
    src = write_scene(tmp_path / "tall.tif", h, w, seed=3)
    c, p = run(
        src, local_model, tmp_path / "tall_out.tif", tile=tile, overlap=overlap, batch_size=3
    )
    lay = TileLayout.build(h, w, tile, overlap)
    assert len(lay.ys) >= 9  # many strips
    with rasterio.open(src) as ds:
        img = ds.read().astype(np.float32) / 255.0
    wy, wx = lay.weights()
    acc = np.zeros((3, h, w))
    wsum = np.zeros((h, w))
    with torch.no_grad():
        for i, y in enumerate(lay.ys):
            for j, x in enumerate(lay.xs):
                t = torch.from_numpy(img[None, :, y : y + tile, x : x + tile].copy())
                pr = net.predict_proba(t)[0].numpy()
                ww = wy[i][:, None] * wx[j][None, :]
                acc[:, y : y + tile, x : x + tile] += pr * ww
                wsum[y : y + tile, x : x + tile] += ww
    ref = acc / wsum
    assert np.abs(p - ref).max() <= 1.0 / 255 + 1e-6  # uint8 quantisation only
    road = ref[1:].sum(0)
    decided = np.where(road >= 0.5, ref[1:].argmax(0) + 1, 0)
    rc = np.sort(ref[1:], axis=0)
    clear = (np.abs(road - 0.5) > 1e-4) & ((road < 0.5) | (rc[-1] - rc[-2] > 1e-4))
    assert (c == decided)[clear].all()
