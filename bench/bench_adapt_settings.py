"""Which of adapt's own settings matter: the same pairs at a fixed step count, one change each.

``roadseg.adapt`` picks its settings (batch, learning rate, freezing, sampling, scale jitter)
by the rules in ``roadseg.adaptation.plan``. This bench runs the ``-unseen`` pairs of
``bench_adapt.py`` (images no training of the default model has seen) with those settings
(``base``) and with one of them changed, at a fixed number of optimiser steps (``steps=N``:
the same weights for the same seed on any load, so the arms compare the settings, not the
machine's mood that minute), one torch thread each, for each seed; every model the run
writes is scored as ``bench_adapt.py`` scores (pooled road IoU of ``roadseg.predict`` on the
pair's scoring images). Freezing also makes steps faster, which a fixed step count does not
credit: read the ``train min`` column beside it.

    .venv/bin/python bench/bench_adapt_settings.py [--pairs dubai-unseen massachusetts-unseen]
        [--variants base nofreeze lr2 jitter] [--seeds 0] [--steps 200]
        [--adapt-images N ...] [--blend A ...] [--json OUT]

``--pairs dubai`` adds ``bench_adapt.py``'s Dubai pair (Tiles 1–4, which the default model
was trained on, adapt; Tiles 5–6 score); ``--variants lr03`` is a peak learning rate of 3e-4.

Each run takes the steps plus the scoring: ~15 min per pair and variant on 2 CPU cores
(two runs side by side, 1 thread each). Variants change a field of
:class:`roadseg.adaptation.plan.AdaptSettings` on top of what the rules chose; the change is
applied by wrapping ``choose_settings`` for this process only.

``--blend 1 0.75 0.5`` scores, besides the written model, the trained network itself (``1``)
and its weights moved back towards the starting model's (WiSE-FT: ``start + a·(trained −
start)`` for every floating-point tensor, batch-norm statistics included), each with its road
threshold re-chosen on the run's hold-out as adapt chooses it: does a blend carry better to
the scoring images than the fully adapted network?

``--adapt-images 1 2 5`` asks how much labelled ground matters instead: each pair is run
adapting on only its first N images (``massachusetts-unseen-1``: one of the five tiles), scored
on the same images as the whole pair; a count at or above the pair's image count is the whole pair.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_adapt as ba  # noqa: E402  (puts engine/ and scripts/ on the path)

#: One change to the chosen settings per variant (fields of AdaptSettings).
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "nofreeze": {"freeze_share": 0.0},
    "lr2": {"lr": 0.002},
    "jitter": {"scale_jitter": 0.2},
    "lr03": {"lr": 0.0003},
}


def dubai_seen(real: Path, work: Path, adapt_count: int | None = None) -> ba.Pair | None:
    """``bench_adapt.py``'s Dubai pair: Tiles 1–4 (trained on) adapt, Tiles 5–6 score.

    ``adapt_count`` adapts on only the first N images (``dubai-N``), as the other pairs do.
    """
    pair = ba.dubai(real, work, adapt_count=adapt_count)
    if pair is not None and pair.extra["adapt_images"] < pair.extra["adapt_images_all"]:
        pair.name = f"dubai-{pair.extra['adapt_images']}"
    return pair


PAIRS = {
    "dubai-unseen": ba.dubai_unseen,
    "massachusetts-unseen": ba.massachusetts_unseen,
    "dubai": dubai_seen,
}


def with_variant(changes: dict[str, Any]) -> None:
    """Make this process's adapt runs apply ``changes`` to the settings the rules choose."""
    import roadseg.adaptation.job as job
    from roadseg.adaptation.plan import choose_settings as rules

    def choose(*args: Any, **kwargs: Any) -> Any:
        return rules(*args, **kwargs).replace(**changes)

    job.choose_settings = choose


def blended(
    pair: ba.Pair, run_dir: Path, shares: list[float], work: Path, limit: int | None
) -> dict[str, dict[str, float]]:
    """Score the trained network of ``run_dir`` blended with the start at each share.

    The blend's road threshold is the best on the run's hold-out blocks (``val_*``), as
    adapt's validation picks the trained model's.
    """
    from roadseg.adaptation.score import holdout_scenes, holdout_score
    from roadseg.models import load_model, resolve_model_path, save_model

    start, _ = load_model(resolve_model_path(pair.adapt_kwargs.get("model", "default")))
    net, meta = load_model(run_dir / "run" / "model.safetensors")
    s0 = {k: v.detach().float().clone() for k, v in start.state_dict().items()}
    s1 = {k: v.detach().clone() for k, v in net.state_dict().items()}
    val = sorted((v, v.with_suffix(".tif")) for v in run_dir.glob("val_*.vrt"))
    scenes = holdout_scenes(val, meta, pair.adapt_kwargs.get("gsd"))
    tile = min(int(meta.tile_size), 256)  # adapt's window on a CPU (roadseg.adaptation.plan)
    out: dict[str, dict[str, float]] = {}
    for a in shares:
        net.load_state_dict(
            {
                k: (s0[k] + a * (v.float() - s0[k])).to(v.dtype) if v.is_floating_point() else v
                for k, v in s1.items()
            }
        )
        best = holdout_score(net, meta, scenes, tile)
        m = meta.replace(road_threshold=best.best_threshold)
        path = work / f"blend_{a:g}.safetensors"
        save_model(path, net, m)
        out[f"{a:g}"] = {
            "threshold": best.best_threshold,
            "holdout": holdout_score(net, m, scenes, tile).iou,
            "score": ba.score(pair, path, work / f"score_blend_{a:g}", limit),
        }
    return out


def run_one(
    pair: ba.Pair,
    variant: str,
    seed: int,
    steps: int,
    work: Path,
    limit: int | None,
    blend: list[float] | None = None,
) -> dict[str, Any]:
    """Adapt ``pair`` with ``variant`` for ``steps`` steps; score the written model (and blends)."""
    from roadseg.adaptation.api import adapt

    with_variant(VARIANTS[variant])
    t = time.perf_counter()
    a = adapt(
        out=work / "model.safetensors",
        overwrite=True,
        steps=steps,
        seed=seed,
        threads=1,
        min_gain=0.0,
        work_dir=work / "adapt" if blend else None,
        **pair.adapt_kwargs,
    )
    train_min = (time.perf_counter() - t) / 60
    extra = {"blend": blended(pair, work / "adapt", blend, work, limit)} if blend else {}
    return {
        **extra,
        "pair": pair.name,
        "adapt_images": pair.extra.get("adapt_images"),
        "variant": variant,
        "seed": seed,
        "steps": a.steps,
        "kept": a.kept,
        "holdout_before": a.before,
        "holdout_after": a.after,
        "score": ba.score(pair, a.model_path, work / "score", limit),
        "train_min": round(train_min, 2),
    }


def table(before: dict[str, float], rows: list[dict[str, Any]]) -> str:
    """Markdown: per pair, variant and seed, the score and its change from ``base``."""
    base = {(r["pair"], r["seed"]): r["score"] for r in rows if r["variant"] == "base"}
    out = [
        "| pair | adapt images | variant | seed | default | adapted | gain | vs base | hold-out "
        "| train min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = base.get((r["pair"], r["seed"]))
        vs = "–" if b is None or r["variant"] == "base" else f"{r['score'] - b:+.3f}"
        out.append(
            f"| {r['pair']} | {r['adapt_images']} | {r['variant']} | {r['seed']} | "
            f"{before[r['pair']]:.3f} | "
            f"{r['score']:.3f} | {r['score'] - before[r['pair']]:+.3f} | {vs} | "
            f"{r['holdout_before']:.3f} → {r['holdout_after']:.3f}"
            f"{' (start kept)' if r['kept'] == 'starting' else ''} | {r['train_min']:.1f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    ap.add_argument(
        "--variants", nargs="+", default=["base", "nofreeze", "lr2", "jitter"], choices=VARIANTS
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument(
        "--adapt-images",
        nargs="+",
        type=int,
        default=[0],
        help="adapt on only the first N images of each pair (0: all of them)",
    )
    ap.add_argument(
        "--blend",
        nargs="+",
        type=float,
        default=None,
        help="also score the trained network blended with the start at these shares (1: as trained)",
    )
    ap.add_argument("--real", default=str(ba.REAL))
    ap.add_argument("--work", default=str(ba.ROOT / "build" / "bench_adapt_settings"))
    ap.add_argument("--score-limit", type=int, default=None, help="score only N images (dev)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    if args.blend is not None and any(not 0 <= a <= 1 for a in args.blend):
        ap.error(
            f"--blend {args.blend}: shares are from 0 (the start) to 1 (as trained), e.g. 1 0.5"
        )
    if args.steps < 1:
        ap.error(f"--steps {args.steps}: give at least 1 optimiser step, e.g. --steps 200")
    if args.score_limit is not None and args.score_limit < 1:
        ap.error(f"--score-limit {args.score_limit}: give at least 1 image, e.g. --score-limit 2")
    if any(n < 0 for n in args.adapt_images):
        ap.error(f"--adapt-images {args.adapt_images}: counts are >= 1 (0: all), e.g. 1 2 5")

    real = Path(args.real)
    work = Path(args.work) / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    print(f"uptime: {ba.uptime()}")
    before: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    arms = [(name, count) for name in args.pairs for count in args.adapt_images]
    for base_name, count in arms:
        pair = PAIRS[base_name](real, work, count or None)
        if pair is None:
            print(f"{base_name}: data not found under {real}, skipped")
            continue
        name = pair.name
        before[name] = ba.default_score(
            pair, Path(args.work) / "default_scores.json", work / name / "before", args.score_limit
        )
        print(
            f"{name}: default model road IoU {before[name]:.3f} "
            f"(adapting on {pair.extra.get('adapt_images')} images)",
            flush=True,
        )
        for seed in args.seeds:
            for variant in args.variants:
                r = run_one(
                    pair,
                    variant,
                    seed,
                    args.steps,
                    work / name / f"{variant}_{seed}",
                    args.score_limit,
                    args.blend,
                )
                rows.append(r)
                print(
                    f"{name} {variant} seed {seed}: {r['score']:.3f} ({r['steps']} steps, "
                    f"{r['train_min']:.1f} min, hold-out {r['holdout_before']:.3f} -> "
                    f"{r['holdout_after']:.3f}, kept {r['kept']})",
                    flush=True,
                )
                for share, b in r.get("blend", {}).items():
                    print(
                        f"  blend {share}: {b['score']:.3f} (threshold {b['threshold']:.2f}, "
                        f"hold-out {b['holdout']:.3f})",
                        flush=True,
                    )
    print()
    print(table(before, rows))
    print(f"uptime: {ba.uptime()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"before": before, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
