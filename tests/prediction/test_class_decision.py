"""The class decision of `roadseg predict`: road from the summed road probability, then its class.

A model whose output is the same split probability everywhere ([0.36, 0.33, 0.31]:
background is the likeliest single class, but road has 0.64) must give road, of the
likelier road class; with the model's threshold raised above 0.64, background.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from georasters import make_raster
from predict_helpers import tiny_meta
from roadseg.models import build_model, load_model, save_model
from roadseg.prediction import predict


def _constant_model(path, probs, threshold=0.5):
    """A real model file whose softmax is ``probs`` at every pixel (last layer zeroed)."""
    meta = tiny_meta().replace(road_threshold=threshold)
    net = build_model(meta)
    head = net.segmentation_head[0] if hasattr(net, "segmentation_head") else None
    if head is None:
        head = next(m for m in reversed(list(net.modules())) if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.log(torch.tensor(probs)))
    save_model(path, net, meta)
    return path


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.5, 1), (0.7, 0)],
    ids=["split-road-probability-is-road", "above-the-model-threshold-is-background"],
)
def test_split_road_probability_becomes_road(tmp_path, threshold, expected):
    model = _constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31], threshold)
    net, meta = load_model(model)
    assert meta.road_threshold == pytest.approx(threshold)
    with torch.no_grad():
        p = net.predict_proba(torch.rand(1, 3, 64, 64))[0, :, 32, 32]
    assert p.argmax().item() == 0 and float(p[1:].sum()) == pytest.approx(0.64, abs=1e-4)
    img = make_raster(
        tmp_path / "img.tif", (np.random.default_rng(0).random((3, 96, 96)) * 255).astype("uint8")
    )
    out = tmp_path / "roads.tif"
    predict(img, model=model, out=out)
    with rasterio.open(out) as ds:
        classes = ds.read(1)
        assert ds.tags()["ROADSEG_ROAD_THRESHOLD"] == f"{threshold:g}"
    assert set(np.unique(classes).tolist()) == {expected}
