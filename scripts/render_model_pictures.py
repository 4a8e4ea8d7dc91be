#!/usr/bin/env python3
"""Render the README's default-model pictures: the model on one held-out image per source.

For each source of the default model's recipe (``scripts/train_default_model.py``) the
first held-out image is mapped with ``roadseg.predict`` (the model's own road decision),
its labels are read onto the image grid exactly as ``bench/bench_default_model.py`` reads
them, and a crop is drawn with the errors coloured over the imagery:

* green: road in the labels and in the prediction;
* magenta: predicted road the labels do not have;
* cyan: labelled road the prediction missed;
* grey wash: no-data / ignored pixels.

The panel's caption carries the road IoU of the crop. The panels go, as a 2 × 2 sheet, to
``docs/images/default_model_sheet.jpg``.

    .venv/bin/python scripts/render_model_pictures.py [--model FILE] [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

PANEL = 512  # output pixels per panel side
CROP_M = 300.0  # ground metres shown per panel side
TP, FP, FN = (40, 200, 60), (230, 40, 200), (30, 210, 230)


def overlay(rgb: np.ndarray, pred: np.ndarray, road: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Imagery with agreement/error colours blended in (pure; arrays of one shape).

    >>> img = np.zeros((1, 3, 3), np.uint8)
    >>> p = np.array([[1, 1, 0]], bool); r = np.array([[1, 0, 1]], bool)
    >>> overlay(img, p, r, np.ones((1, 3), bool))[0].tolist()
    [[28, 140, 42], [161, 28, 140], [21, 147, 161]]
    """
    out = rgb.astype(np.float32)
    for mask, colour in ((pred & road, TP), (pred & ~road, FP), (~pred & road, FN)):
        m = mask & valid
        out[m] = 0.3 * out[m] + 0.7 * np.asarray(colour, np.float32)
    out[~valid] = 0.5 * out[~valid] + 0.5 * 128.0
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def crop_box(road: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left of the ``side``² window holding the most labelled road (pure, deterministic).

    >>> r = np.zeros((10, 10), bool); r[7:9, 7:9] = True
    >>> crop_box(r, 4)
    (5, 5)
    """
    h, w = road.shape
    side = min(side, h, w)
    step = max(1, side // 4)
    best, at = -1, (0, 0)
    for y in range(0, h - side + 1, step):
        for x in range(0, w - side + 1, step):
            n = int(road[y : y + side, x : x + side].sum())
            if n > best:
                best, at = n, (y, x)
    return at


def panel(name: str, src: object, pair: object, model: object, work: Path) -> tuple[object, float]:
    """(PIL image, crop road IoU) of one held-out image."""
    import rasterio
    from bench_default_model import truth_on_image
    from PIL import Image, ImageDraw
    from roadseg.prediction import predict

    truth, raster = truth_on_image(src, pair, ())
    out = work / f"{name}.tif"
    predict(pair.image, model=model, out=out, gsd=None if raster.georeferenced else src.image_gsd)  # type: ignore[attr-defined]
    with rasterio.open(out) as ds:
        cls = ds.read(1)
    raw, _ = raster.read_raw(raster.grid)
    rgb = raw[:3].transpose(1, 2, 0)
    gsd = float(np.sqrt(np.prod(raster.gsd_m())))
    raster.close()
    valid = truth != 255
    road = (truth > 0) & valid
    pred = (cls > 0) & (cls != 255)
    side = int(round(CROP_M / gsd))
    y, x = crop_box(road, side)
    sl = np.s_[y : y + side, x : x + side]
    p, r, v = pred[sl], road[sl], valid[sl]
    union = int(((p | r) & v).sum())
    iou = int((p & r & v).sum()) / union if union else float("nan")
    img = Image.fromarray(overlay(np.asarray(rgb[sl], np.uint8), p, r, v))
    img = img.resize((PANEL, PANEL), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    caption = f"{name} ({pair.image.name}, {gsd:.2g} m): road IoU {iou:.2f}"  # type: ignore[attr-defined]
    draw.rectangle((0, 0, PANEL, 18), fill=(0, 0, 0))
    draw.text((4, 3), caption, fill=(255, 255, 255))
    return img, iou


def main(argv: list[str] | None = None) -> int:
    from bench_default_model import holdout_pairs
    from PIL import Image
    from roadseg.models import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", default=str(ROOT / "docs" / "images"))
    ap.add_argument("--build", default=str(ROOT / "build" / "bench_default_model"))
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model)
    held = holdout_pairs(Path(args.build), Path(args.real))
    panels = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (src, pairs) in held.items():
            img, iou = panel(name, src, pairs[0], model, Path(tmp))
            panels.append(img)
            print(f"{name} ({pairs[0].image.name}): crop road IoU {iou:.3f}")
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * PANEL, rows * PANEL), (255, 255, 255))
    for i, img in enumerate(panels):
        sheet.paste(img, ((i % cols) * PANEL, (i // cols) * PANEL))  # type: ignore[arg-type]
    sheet.save(out / "default_model_sheet.jpg", quality=88, optimize=True)
    print(out / "default_model_sheet.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
