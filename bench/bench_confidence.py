"""Benchmark: does `predict`'s label-free confidence track the road IoU that labels give?

Each held-out image of the default model's recipe (synthetic scenes, Massachusetts, Dubai,
SpaceNet Las Vegas: as ``bench/bench_default_model.py`` scores them) is predicted with a
model; the result's ``confidence`` (:mod:`roadseg.prediction.confidence`: the share of
road-like pixels, road probability ≥ 0.25, still below 0.75) is set against the image's
road IoU over the same pixels (valid in the truth and in the prediction). Prints one row per
image, per source the pooled figures, the Spearman correlation over the images with
labelled road (all, and within each source with more than three), and the mean road IoU of
the images in each rating (good / fair / poor).

    python bench/bench_confidence.py                      # the embedded model, every source
    python bench/bench_confidence.py --sources dubai --json conf.json
    python bench/bench_confidence.py --model "default?road_threshold=0.4"

Real sources are read from ``../shared/data/real`` (skipped when absent: then only the
synthetic scenes, which the script makes, are scored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

#: Images with fewer labelled road pixels than this are left out of the correlations.
MIN_TRUTH_PX = 1000


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (ties averaged).

    >>> round(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 3), round(spearman([1, 2, 3], [3, 2, 1]), 3)
    (1.0, -1.0)
    """
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def score_image(
    name: str, i: int, src: object, pair: object, model: object, opts: dict, work: Path
) -> dict:
    """Predict one held-out image; its confidence counts and road IoU against its truth."""
    import rasterio
    from bench_default_model import truth_on_image
    from roadseg.prediction import predict

    truth, raster = truth_on_image(src, pair, model[1].classes)  # type: ignore[index]
    out = work / f"{name}_{i}.tif"
    try:
        r = predict(
            pair.image,  # type: ignore[attr-defined]
            model=model,
            out=out,
            gsd=src.image_gsd if not raster.georeferenced else None,  # type: ignore[attr-defined]
            overwrite=True,
            **opts,
        )
    finally:
        raster.close()
    with rasterio.open(out) as ds:
        cls = ds.read(1)
    valid = (truth != 255) & (cls != 255)
    pred = (cls > 0) & valid
    road = (truth > 0) & valid
    tp, fp, fn = int((pred & road).sum()), int((pred & ~road).sum()), int((~pred & road).sum())
    c = r.items[0].confidence
    assert c is not None
    return {
        "source": name,
        "image": Path(str(pair.image)).name,  # type: ignore[attr-defined]
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "road_iou": tp / (tp + fp + fn) if tp + fp + fn else float("nan"),
        "truth_px": tp + fn,
        "confidence": c.as_dict(),
        "counts": [c.pixels, c.road_like, c.unsure],
    }


def summarise(rows: list[dict]) -> list[str]:
    """The per-source, correlation and per-rating lines."""
    lines = []
    sources = sorted({r["source"] for r in rows})
    for s in sources:
        rs = [r for r in rows if r["source"] == s]
        tp, fp, fn = (sum(r[k] for r in rs) for k in ("tp", "fp", "fn"))
        like = sum(r["counts"][1] for r in rs)
        unsure = sum(r["counts"][2] for r in rs)
        share = unsure / like if like else float("nan")
        lines.append(
            f"{s:<14} {len(rs):>2} images  pooled road IoU {tp / max(1, tp + fp + fn):.3f}  "
            f"unsure share {share:.3f}"
        )
    scored = [
        r
        for r in rows
        if r["truth_px"] >= MIN_TRUTH_PX and r["confidence"]["unsure_share"] is not None
    ]
    if len(scored) > 2:
        rho = spearman(
            [r["road_iou"] for r in scored], [r["confidence"]["unsure_share"] for r in scored]
        )
        lines.append(
            f"Spearman(road IoU, unsure share) over {len(scored)} images with road: {rho:+.2f}"
        )
    for s in sources:
        rs = [r for r in scored if r["source"] == s]
        if len(rs) > 3:
            rho = spearman(
                [r["road_iou"] for r in rs], [r["confidence"]["unsure_share"] for r in rs]
            )
            lines.append(f"  within {s} ({len(rs)} images): {rho:+.2f}")
    for rating in ("good", "fair", "poor"):
        ious = [r["road_iou"] for r in scored if r["confidence"]["rating"] == rating]
        if ious:
            lines.append(
                f"rated {rating:<4}: {len(ious):>2} images, road IoU {min(ious):.2f}-{max(ious):.2f}, "
                f"mean {np.mean(ious):.2f}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench_default_model import check_options, holdout_pairs, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="as bench_default_model's --models")
    ap.add_argument("--build", default=str(ROOT / "build" / "bench_default_model"))
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    ap.add_argument("--sources", nargs="*", help="only these sources")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    check_options(args.model)
    build = Path(args.build)
    build.mkdir(parents=True, exist_ok=True)
    real = Path(args.real)
    if not (real / "massachusetts").is_dir():
        print(f"real data not found at {real}: only the synthetic hold-out is scored")
    t0 = time.perf_counter()
    held = holdout_pairs(build, real)
    if args.sources:
        held = {k: v for k, v in held.items() if k in args.sources}
    label, model, opts = resolve_model(args.model, build)
    work = build / "work" / "confidence"
    shutil.rmtree(work, ignore_errors=True)  # the bench's own scratch
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (src, pairs) in held.items():
        for i, pair in enumerate(pairs):
            r = score_image(name, i, src, pair, model, opts, work)
            rows.append(r)
            c = r["confidence"]
            u = "-" if c["unsure_share"] is None else f"{c['unsure_share']:.3f}"
            print(
                f"{name:<14} {r['image']:<24} road IoU {r['road_iou']:.3f}  truth {r['truth_px']:>7} px  "
                f"unsure {u:>5}  {c['rating']}",
                flush=True,
            )
    print()
    for line in summarise(rows):
        print(line)
    print(
        f"\nmodel {label}; {time.perf_counter() - t0:.0f} s; {platform.node()}; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"model": label, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
