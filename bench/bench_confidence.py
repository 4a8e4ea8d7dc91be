"""Benchmark: does `predict`'s label-free confidence track the road IoU that labels give?

Each held-out image of the default model's recipe (synthetic scenes, Massachusetts, Dubai,
SpaceNet Las Vegas: as ``bench/bench_default_model.py`` scores them) is predicted with a
model; the result's ``confidence`` (:mod:`roadseg.prediction.confidence`: the share of
road-like pixels, road probability ≥ 0.25, still below 0.75) is set against the image's
road IoU over the same pixels (valid in the truth and in the prediction). Prints one row per
image, per source the pooled figures, the Spearman correlation over the images with
labelled road (all, and within each source with more than three), and the mean road IoU of
the images in each rating (good / fair / poor).

``--samples N`` also rates each image with ``roadseg.check_fit`` (N windows of
``--sample-m`` metres, the check users run before a big prediction) and sets that rating and
unsure share against the whole prediction's: how often the ratings agree, how far the shares
are apart, the check's Spearman against road IoU, and its time against the prediction's
(side by side, image by image). Images smaller than twice the samples are checked whole (the
same figure by construction) and are counted apart.

    python bench/bench_confidence.py                      # the embedded model, every source
    python bench/bench_confidence.py --sources dubai --json conf.json
    python bench/bench_confidence.py --model "default?road_threshold=0.4"
    python bench/bench_confidence.py --samples 4 --sample-m 256

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
    name: str,
    i: int,
    src: object,
    pair: object,
    model: object,
    opts: dict,
    work: Path,
    sampling: tuple[int, float] | None = None,
) -> dict:
    """Predict one held-out image; its confidence counts and road IoU against its truth.

    ``sampling`` (samples, side in metres) also checks the image with ``check_fit``.
    """
    import rasterio
    from bench_default_model import truth_on_image
    from roadseg.prediction import predict
    from roadseg.prediction.fit import check_fit

    truth, raster = truth_on_image(src, pair, model[1].classes)  # type: ignore[index]
    out = work / f"{name}_{i}.tif"
    gsd = src.image_gsd if not raster.georeferenced else None  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    try:
        r = predict(
            pair.image,  # type: ignore[attr-defined]
            model=model,
            out=out,
            gsd=gsd,
            overwrite=True,
            **opts,
        )
    finally:
        raster.close()
    predict_s = time.perf_counter() - t0
    check = None
    if sampling is not None:
        t0 = time.perf_counter()
        f = check_fit(
            pair.image,  # type: ignore[attr-defined]
            model=model,  # type: ignore[arg-type]
            samples=sampling[0],
            sample_m=sampling[1],
            gsd=gsd,
            **opts,
        ).items[0]
        check = {
            "confidence": f.confidence.as_dict(),
            "whole": f.whole,
            "samples": f.samples,
            "sampled_share": f.sampled_megapixels / f.megapixels,
            "seconds": time.perf_counter() - t0,
            "predict_seconds": predict_s,
        }
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
        "check": check,
    }


def summarise_checks(rows: list[dict]) -> list[str]:
    """How the sampled check's rating and share compare with the whole prediction's."""
    rs = [r for r in rows if r["check"] is not None and not r["check"]["whole"]]
    whole = sum(1 for r in rows if r["check"] is not None and r["check"]["whole"])
    lines = [f"check_fit: {len(rs)} images sampled, {whole} small enough to be checked whole"]
    if not rs:
        return lines
    agree = sum(r["check"]["confidence"]["rating"] == r["confidence"]["rating"] for r in rs)
    pairs = [
        (r["check"]["confidence"]["unsure_share"], r["confidence"]["unsure_share"])
        for r in rs
        if r["check"]["confidence"]["unsure_share"] is not None
        and r["confidence"]["unsure_share"] is not None
    ]
    diffs = [abs(a - b) for a, b in pairs]
    lines.append(
        f"  rating agrees with the whole prediction's on {agree} of {len(rs)} images; unsure share "
        f"|sample - whole| mean {np.mean(diffs) if diffs else float('nan'):.3f}, "
        f"max {max(diffs) if diffs else float('nan'):.3f}"
    )
    lines.append(
        f"  sampled {np.mean([r['check']['sampled_share'] for r in rs]) * 100:.0f} % of each image "
        f"on average; check {sum(r['check']['seconds'] for r in rs):.1f} s against predict "
        f"{sum(r['check']['predict_seconds'] for r in rs):.1f} s over these images"
    )
    scored = [
        r
        for r in rs
        if r["truth_px"] >= MIN_TRUTH_PX and r["check"]["confidence"]["unsure_share"] is not None
    ]
    if len(scored) > 2:
        rho = spearman(
            [r["road_iou"] for r in scored],
            [r["check"]["confidence"]["unsure_share"] for r in scored],
        )
        lines.append(
            f"  Spearman(road IoU, sampled unsure share) over {len(scored)} images: {rho:+.2f}"
        )
    return lines


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
    ap.add_argument(
        "--samples", type=int, default=None, help="also rate each image with check_fit (N windows)"
    )
    ap.add_argument("--sample-m", type=float, default=256.0, help="check_fit's window side (m)")
    args = ap.parse_args(argv)
    if args.samples is not None and not 1 <= args.samples <= 64:
        ap.error(f"--samples {args.samples}: give 1 to 64 windows, e.g. --samples 4")
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
            sampling = None if args.samples is None else (args.samples, args.sample_m)
            r = score_image(name, i, src, pair, model, opts, work, sampling)
            rows.append(r)
            c = r["confidence"]
            u = "-" if c["unsure_share"] is None else f"{c['unsure_share']:.3f}"
            line = (
                f"{name:<14} {r['image']:<24} road IoU {r['road_iou']:.3f}  truth {r['truth_px']:>7} px  "
                f"unsure {u:>5}  {c['rating']}"
            )
            if r["check"] is not None:
                k = r["check"]
                ku = k["confidence"]["unsure_share"]
                line += (
                    f"  | check {'-' if ku is None else f'{ku:.3f}'} {k['confidence']['rating']}"
                    f"{' (whole)' if k['whole'] else ''} {k['seconds']:.1f} s / predict "
                    f"{k['predict_seconds']:.1f} s"
                )
            print(line, flush=True)
    print()
    for line in summarise(rows):
        print(line)
    if args.samples is not None:
        for line in summarise_checks(rows):
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
