"""Adapting the default model to a new area: fine-tune on one half of a real tile, score the other.

The tile is SpaceNet Las Vegas `img33` (plain PNG at 0.3 m, never used to train the
default model) with its soft road mask thresholded at 200. The left half trains
(`roadseg train --init-from default`, binary road labels → a new 2-class head), the
right half is scored (road / not-road IoU) before and after at most --minutes of
fine-tuning on this CPU.

    .venv/bin/python bench/bench_finetune.py [--minutes 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real" / "spacenet_vegas_img33"
GSD = 0.3


def road_iou(model: object, image: Path, truth: np.ndarray, work: Path) -> float:
    import rasterio
    from roadseg.prediction import predict

    pred = work / f"{image.stem}_pred.tif"
    predict(image, model=model, out=pred, gsd=GSD)
    with rasterio.open(pred) as ds:
        p = ds.read(1)
    road = (p > 0) & (p != 255)
    return float((road & truth).sum() / max(1, (road | truth).sum()))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--work", default=str(REPO / "build" / "finetune"))
    args = ap.parse_args()
    if not (REAL / "image.png").exists():
        print(f"SKIP: {REAL} is absent")
        return 0
    from PIL import Image

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    img = np.asarray(Image.open(REAL / "image.png").convert("RGB"))
    soft = np.asarray(Image.open(REAL / "mask_soft.png").convert("L"))
    half = img.shape[1] // 2
    Image.fromarray(img[:, :half]).save(work / "left.png")
    Image.fromarray(np.where(soft[:, :half] >= 200, 255, 0).astype(np.uint8)).save(
        work / "left_mask.png"
    )
    Image.fromarray(img[:, half:]).save(work / "right.png")
    truth = soft[:, half:] >= 200

    before = road_iou("default", work / "right.png", truth, work)

    from roadseg.training import train

    # A step (batch 4, 256², fp32, 2 threads) measured ≈ 1.5 s here: size the run to the budget.
    steps = max(8, int(args.minutes * 60 / 1.6))
    epochs = 4
    t0 = time.perf_counter()
    res = train(
        {
            "out": str(work / f"run_{int(time.time())}"),
            "data": {
                "image": [str(work / "left.png")],
                "labels": [str(work / "left_mask.png")],
                "classes": "binary",
                "mask_values": "255=road",
                "image_gsd": GSD,
                "gsd": 0.5,
                "tile": 256,
                "batch_size": 4,
                "samples_per_epoch": steps * 4 // epochs,
                "road_bias": 0.5,
                "val_fraction": 0.25,
                "max_val_windows": 16,
            },
            "model": {"init_from": "default"},
            "optim": {"lr": 5e-4, "schedule": "cosine"},
            "trainer": {"epochs": epochs, "patience": 0, "progress": "none", "precision": "32"},
        }
    )
    minutes = (time.perf_counter() - t0) / 60
    after = road_iou(res.model_path, work / "right.png", truth, work)
    print(
        json.dumps(
            {
                "tile": "spacenet_vegas_img33",
                "fine_tune_minutes": round(minutes, 2),
                "steps": res.steps,
                "road_iou_before": round(before, 4),
                "road_iou_after": round(after, 4),
            }
        )
    )
    print(
        f"right-half road IoU: {before:.3f} with the default model → {after:.3f} after "
        f"{minutes:.1f} min of fine-tuning on the left half ({res.steps} steps)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
