"""Write a small real roadseg model file for the plugin's end-to-end tests.

Run with the engine's Python (the QGIS test process never imports torch):

    .venv/bin/python tests/qgis/make_test_model.py OUT.safetensors RASTER.tif

A Unet-resnet18 with random weights (seeded) whose output biases are calibrated
on RASTER so that each class wins on a fair share of it: the engine's predict and
vectorise steps then produce polygons and centrelines for every class, which is
what the plugin's tests need (they test the plumbing, not the model's skill).
"""

from __future__ import annotations

import sys


def main(out: str, raster: str) -> None:
    import numpy as np
    import rasterio
    import torch
    from roadseg.models import ModelMeta, build_model, save_model

    torch.manual_seed(0)
    meta = ModelMeta(
        "Unet",
        "resnet18",
        3,
        ("background", "major", "minor"),
        ((0, 0, 0), (230, 85, 13), (253, 174, 107)),
        (0.0, 8.0, 5.0),
        0.5,
        tile_size=64,
    )
    model = build_model(meta).eval()
    with rasterio.open(raster) as ds:
        img = ds.read(out_shape=(3, 64, 64)).astype(np.float32) / 255.0
    head = model.net.segmentation_head[0]
    with torch.no_grad():
        logits = model(torch.from_numpy(img[None]))[0]
        med = logits.flatten(1).median(dim=1).values
        head.bias.sub_(med)
        head.bias[0] += 0.02 * float(logits.std())  # background a little more often
    save_model(out, model, meta)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
