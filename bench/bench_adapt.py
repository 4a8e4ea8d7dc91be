"""Adapting the embedded model to a region: ``roadseg adapt`` against the plain fine-tuning recipe.

For each pair of real data in ``../shared/data/real`` (adapt on some images, score on
others of the same region that neither run sees):

| pair | adapt on | score on |
|---|---|---|
| massachusetts | 10 tiles (every 5th of those the default model's script does not hold out) | the 10 tiles it holds out (``massachusetts_holdout()``) |
| dubai | Tiles 1–4 (36 images, 1.5 m) | Tiles 5–6 (18 images) |
| vegas | SpaceNet img0, logo banner cut, SpaceNet road centrelines | img33 (plain PNG, 0.3 m, soft mask ≥ 200) |
| massachusetts-unseen | 5 of the default model's 10 held-out tiles | the other 5 |
| dubai-unseen | Tile 5 (held out by the default model) | Tile 6 (held out too) |

The first three pairs adapt on images the current default model was trained on (it was
trained on every source here), so they understate what adapting gives on new ground; the
``-unseen`` pairs use only images no training of the default model has seen.

the embedded default model is scored first (``before``), then, for each budget
(``--minutes``, default 2 5 10), side by side in one run:

* ``adapt``: ``roadseg.adapt(..., minutes=M)`` with default settings;
* ``recipe``: ``roadseg.train`` with ``init_from: default`` on the same data and the train
  defaults (the recipe of the issue: batch 8, lr 1e-3 cosine, 8 epochs, a spatial
  validation split), its epoch size sized so its training takes about M minutes at the
  step rate the adapt run measured (its wall time is printed too).

Scores are pooled road IoU of ``roadseg.predict`` (the model's own road decision) on the
scoring images, ignored pixels left out. The model used is whatever is embedded as
``default`` when the script runs (its sha256 is printed).

    .venv/bin/python bench/bench_adapt.py [--pairs massachusetts dubai vegas] [--minutes 2 5 10]
        [--score-limit N] [--no-recipe] [--json build/bench_adapt.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT / "scripts"))

REAL = ROOT.parent / "shared" / "data" / "real"
MASS_VALUES = "0=background,1=road,255=ignore"
DUBAI_COLORS = "110,193,228=road; 155,155,155=ignore"
DUBAI_GSD = 1.5
VEGAS_BANNER_ROWS = 100


@dataclass
class Pair:
    """One region: what adapts (a dataset folder or rasters + labels) and what is scored."""

    name: str
    adapt_kwargs: dict[str, Any]
    recipe_data: dict[str, Any]
    score_images: list[Path]
    truth: Any  # Path -> (road bool array, valid bool array)
    score_gsd: float | None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _link_subset(pairs: list[tuple[Path, Path]], root: Path, rel: Path) -> Path:
    """A folder of symlinks (images/ + masks/ under the same relative layout) to a subset."""
    for img, mask in pairs:
        for src, kind in ((img, "images"), (mask, "masks")):
            sub = src.parent.parent.relative_to(rel) if src.parent.parent != rel else Path(".")
            d = root / sub / kind
            d.mkdir(parents=True, exist_ok=True)
            link = d / src.name
            if not link.exists():
                link.symlink_to(src)
    return root


def _mass_pair(
    name: str, mass: Path, adapt_names: list[str], score_names: list[str], work: Path
) -> Pair:
    """Adapt on ``adapt_names``, score on ``score_names`` (Massachusetts tiles, 1 m masks)."""
    pairs = [(mass / "images" / n, mass / "masks" / (Path(n).stem + ".png")) for n in adapt_names]
    folder = _link_subset(pairs, work / f"{name.replace('-', '_')}_adapt", mass)

    def truth(img: Path) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        m = np.asarray(Image.open(mass / "masks" / (img.stem + ".png")))
        return m == 1, m != 255

    return Pair(
        name,
        {"dataset": folder, "gsd": 1.0, "mask_values": MASS_VALUES},
        {"dataset": str(folder), "image_gsd": 1.0, "mask_values": MASS_VALUES},
        [mass / "images" / n for n in score_names],
        truth,
        1.0,
        extra={"adapt_tiles": adapt_names, "adapt_images": len(adapt_names)},
    )


def massachusetts(real: Path, work: Path) -> Pair | None:
    """10 adapt tiles, the default model's 10 held-out tiles to score."""
    mass = real / "massachusetts"
    if not (mass / "images").is_dir():
        return None
    from train_default_model import massachusetts_holdout

    held = set(massachusetts_holdout(real))
    names = sorted(p.name for p in (mass / "images").glob("*.jpg"))
    others = [n for n in names if n not in held]
    return _mass_pair("massachusetts", mass, others[::5][:10], sorted(held), work)


def dubai(
    real: Path,
    work: Path,
    adapt_tiles: tuple[str, ...] = ("Tile 1", "Tile 2", "Tile 3", "Tile 4"),
    score_tiles: tuple[str, ...] = ("Tile 5", "Tile 6"),
    adapt_count: int | None = None,
) -> Pair | None:
    """Tiles 1–4 adapt, Tiles 5–6 score (other tiles with ``adapt_tiles``/``score_tiles``).

    ``adapt_count`` keeps only the first N adapt images (sorted by path).
    """
    d = real / "dubai_hitl"
    if not d.is_dir():
        return None
    from roadseg.data.layouts import find_pairs

    _, found = find_pairs(d)
    all_adapt = sorted(
        (p.image, p.mask) for p in found if p.image.parent.parent.name in adapt_tiles
    )
    adapt_pairs = all_adapt[:adapt_count]
    score = [p for p in found if p.image.parent.parent.name in score_tiles]
    sub = f"dubai_adapt_{len(adapt_tiles)}_{len(adapt_pairs)}"
    folder = _link_subset(adapt_pairs, work / sub, d)
    masks = {p.image: p.mask for p in score}

    def truth(img: Path) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        m = np.asarray(Image.open(masks[img]).convert("RGB")).astype(np.int32)
        code = (m[..., 0] << 16) | (m[..., 1] << 8) | m[..., 2]
        road = code == ((110 << 16) | (193 << 8) | 228)
        unl = code == ((155 << 16) | (155 << 8) | 155)
        return road, ~unl

    return Pair(
        "dubai",
        {"dataset": folder, "gsd": DUBAI_GSD, "mask_colors": DUBAI_COLORS},
        {"dataset": str(folder), "image_gsd": DUBAI_GSD, "mask_colors": DUBAI_COLORS},
        [p.image for p in score],
        truth,
        DUBAI_GSD,
        extra={"adapt_images": len(adapt_pairs), "adapt_images_all": len(all_adapt)},
    )


def massachusetts_unseen(real: Path, work: Path, adapt_count: int | None = None) -> Pair | None:
    """The default model's 10 held-out tiles, none of them trained on: 5 adapt, 5 score.

    ``adapt_count`` adapts on only the first N of the 5 (the scoring tiles stay the same),
    and the pair is named ``massachusetts-unseen-N``.
    """
    mass = real / "massachusetts"
    if not (mass / "images").is_dir():
        return None
    from train_default_model import massachusetts_holdout

    held = sorted(massachusetts_holdout(real))
    adapt_names = held[::2][:adapt_count]
    partial = len(adapt_names) < len(held[::2])
    name = "massachusetts-unseen" + (f"-{len(adapt_names)}" if partial else "")
    return _mass_pair(name, mass, adapt_names, held[1::2], work)


def dubai_unseen(real: Path, work: Path, adapt_count: int | None = None) -> Pair | None:
    """The default model's Dubai hold-out, never trained on: Tile 5 adapts, Tile 6 scores.

    ``adapt_count`` adapts on only the first N of Tile 5's images (``dubai-unseen-N``).
    """
    base = dubai(
        real, work, adapt_tiles=("Tile 5",), score_tiles=("Tile 6",), adapt_count=adapt_count
    )
    if base is None:
        return None
    n = base.extra["adapt_images"]
    base.name = "dubai-unseen" + (f"-{n}" if n < base.extra["adapt_images_all"] else "")
    return base


def vegas(real: Path, work: Path) -> Pair | None:
    """img0 (banner cut) with its SpaceNet centrelines adapts; img33 (0.3 m) is scored."""
    t0 = real / "spacenet_vegas_img0"
    t33 = real / "spacenet_vegas_img33"
    if not (t0 / "image.tif").exists() or not (t33 / "image.png").exists():
        return None
    import rasterio
    from rasterio.windows import Window

    crop = work / "vegas_img0_nobanner.tif"
    if not crop.exists():
        with rasterio.open(t0 / "image.tif") as ds:
            win = Window(0, 0, ds.width, ds.height - VEGAS_BANNER_ROWS)
            prof = ds.profile | {
                "height": int(win.height),
                "transform": ds.window_transform(win),
                "count": 3,
                "photometric": "RGB",
            }
            with rasterio.open(crop, "w", **prof) as dst:
                dst.write(ds.read([1, 2, 3], window=win))

    def truth(img: Path) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        m = np.asarray(Image.open(t33 / "mask_soft.png").convert("L"))
        return m >= 200, np.ones(m.shape, dtype=bool)

    labels = t0 / "roads.geojson"
    return Pair(
        "vegas",
        {"rasters": [crop], "labels": [labels]},
        {"image": [str(crop)], "labels": [str(labels)]},
        [t33 / "image.png"],
        truth,
        0.3,
        notes="img33 was in the training data of the default model built by "
        "scripts/train_default_model.py (source vegas_img33)",
    )


def score(pair: Pair, model: Any, work: Path, limit: int | None) -> float:
    """Pooled road IoU of ``model`` on the pair's scoring images (roadseg.predict)."""
    import rasterio
    from roadseg.prediction.api import predict

    work.mkdir(parents=True, exist_ok=True)
    inter = union = 0
    images = pair.score_images[:limit] if limit else pair.score_images
    for i, img in enumerate(images):
        out = work / f"{i}.tif"
        predict(img, model=model, out=out, gsd=pair.score_gsd, threads=_threads())
        with rasterio.open(out) as ds:
            cls = ds.read(1)
        road, valid = pair.truth(img)
        pred = (cls > 0) & (cls != 255) & valid
        road = road & valid
        inter += int((pred & road).sum())
        union += int((pred | road).sum())
    return inter / union if union else float("nan")


def default_score(pair: Pair, cache: Path, work: Path, limit: int | None) -> float:
    """The embedded default model's :func:`score` on ``pair``, kept in ``cache`` (JSON).

    The key is the scoring images, ``limit`` and the model file's sha256 (an image's truth
    is fixed by its path), so a new default model or other images are scored afresh while
    pairs that score the same images (``massachusetts-unseen`` and its ``-N`` subsets) and
    runs of both adapt benches in the same ``--work`` folder share it (a Massachusetts
    scoring is ~5 min on 2 cores).
    """
    from roadseg.models import resolve_model_path

    key = "|".join(
        [sha256(resolve_model_path("default")), str(limit)] + [str(p) for p in pair.score_images]
    )
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in known:
        known[key] = score(pair, "default", work, limit)
        # re-read: a bench running beside this one may have added its pair meanwhile
        merged = (json.loads(cache.read_text()) if cache.exists() else {}) | {key: known[key]}
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(merged, indent=1))
        tmp.replace(cache)
    return float(known[key])


def _threads() -> int:
    import torch

    return max(1, min(torch.get_num_threads(), int(os.environ.get("BENCH_THREADS", "1"))))


def recipe(pair: Pair, minutes: float, seconds_per_step: float, out: Path) -> dict[str, Any]:
    """The plain recipe: train --init-from default, 8 epochs sized to ``minutes``."""
    from roadseg.training.api import train

    batch = 8
    # A step of 8 windows costs about twice one of the adapt run's 4 (measured in the same
    # run); its 8 validations of 64 windows cost ~64 forward passes each (a forward ≈ a
    # third of a window's training step); ~15 s to start.
    fwd = seconds_per_step / (3 * 4)
    left = minutes * 60 - 8 * 64 * fwd - 15
    steps = max(8, int(left / (2 * seconds_per_step)))
    spe = max(batch, (steps // 8) * batch)
    t = time.perf_counter()
    res = train(
        {
            "out": str(out),
            "data": {**pair.recipe_data, "samples_per_epoch": spe, "max_val_windows": 64},
            "model": {"init_from": "default"},
            "trainer": {"epochs": 8, "progress": "none"},
        }
    )
    return {"model": res.model_path, "steps": res.steps, "minutes": (time.perf_counter() - t) / 60}


def picture(pair: Pair, work: Path, minutes: float, out: Path) -> Path:
    """Before/after on the scoring image with the most road: correct, missed and false road."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from PIL import Image

    roads = [int(pair.truth(p)[0].sum()) for p in pair.score_images]
    i = int(np.argmax(roads))
    img = np.asarray(Image.open(pair.score_images[i]).convert("RGB")).astype(np.float32) / 255
    road, valid = pair.truth(pair.score_images[i])
    before = work / pair.name / "before" / f"{i}.tif"
    if not before.exists():  # the default's score came from the cache: map this image now
        from roadseg.prediction.api import predict

        before.parent.mkdir(parents=True, exist_ok=True)
        predict(pair.score_images[i], model="default", out=before, gsd=pair.score_gsd,
                threads=_threads())  # fmt: skip
    panels = [("default model", before)]
    panels.append(
        (f"adapted, {minutes:g} min", work / pair.name / f"adapt_{minutes:g}" / f"{i}.tif")
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 6.4))
    for ax, (title, path) in zip(np.atleast_1d(axes), panels, strict=True):
        with rasterio.open(path) as ds:
            cls = ds.read(1)
        pred = (cls > 0) & (cls != 255) & valid
        t = road & valid
        over = img * 0.55
        over[pred & t] = (0.1, 0.9, 0.2)
        over[~pred & t] = (0.2, 0.5, 1.0)
        over[pred & ~t] = (1.0, 0.25, 0.1)
        iou = (pred & t).sum() / max(1, (pred | t).sum())
        ax.imshow(over)
        ax.set_title(f"{title}: road IoU {iou:.2f}")
        ax.axis("off")
    fig.suptitle(
        f"{pair.name}, {pair.score_images[i].parent.parent.name}/{pair.score_images[i].name}: "
        "green = road found, blue = road missed, red = false road"
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def uptime() -> str:
    """The machine's load as ``uptime`` prints it (benchmarks quote it beside their figures)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def sha256(path: Path) -> str:
    from roadseg.prediction.manifest import file_sha256

    return file_sha256(path)[:12]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=["massachusetts", "dubai", "vegas"])
    ap.add_argument("--minutes", nargs="+", type=float, default=[2.0, 5.0, 10.0])
    ap.add_argument("--real", default=str(REAL))
    ap.add_argument("--work", default=str(ROOT / "build" / "bench_adapt"))
    ap.add_argument("--score-limit", type=int, default=None, help="score only N images (dev)")
    ap.add_argument("--no-recipe", action="store_true", help="skip the plain-recipe arm")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--picture", help="PNG of before/after on the first pair's best-roaded image")
    args = ap.parse_args(argv)
    if args.score_limit is not None and args.score_limit < 1:
        ap.error(f"--score-limit {args.score_limit}: give at least 1 image, e.g. --score-limit 2")

    from roadseg.adaptation.api import adapt
    from roadseg.models import resolve_model_path

    real = Path(args.real)
    work = Path(args.work) / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    builders = {
        "massachusetts": massachusetts,
        "dubai": dubai,
        "vegas": vegas,
        "massachusetts-unseen": massachusetts_unseen,
        "dubai-unseen": dubai_unseen,
    }
    default = resolve_model_path("default")
    print(f"default model {default.name} sha256 {sha256(default)}; work {work}", flush=True)
    print(f"uptime: {uptime()}")
    results: dict[str, Any] = {}
    for name in args.pairs:
        pair = builders[name](real, work)
        if pair is None:
            print(f"{name}: data not found under {real}, skipped")
            continue
        r: dict[str, Any] = {"notes": pair.notes, **pair.extra, "runs": []}
        r["before"] = default_score(
            pair, Path(args.work) / "default_scores.json", work / name / "before", args.score_limit
        )
        print(f"{name}: default model road IoU {r['before']:.3f}", flush=True)
        for m in args.minutes:
            t = time.perf_counter()
            a = adapt(
                out=work / name / f"adapt_{m:g}.safetensors",
                overwrite=True,
                minutes=m,
                **pair.adapt_kwargs,
            )
            wall = (time.perf_counter() - t) / 60
            iou = score(pair, a.model_path, work / name / f"adapt_{m:g}", args.score_limit)
            run = {
                "minutes": m,
                "adapt_iou": iou,
                "adapt_wall_min": wall,
                "adapt_steps": a.steps,
                "adapt_kept": a.kept,
                "holdout_before": a.before,
                "holdout_after": a.after,
                "holdout_share": a.holdout.get("labelled_share"),
                "seconds_per_step": a.settings.get("seconds_per_step"),
            }
            print(
                f"{name} {m:g} min: adapt {iou:.3f} ({wall:.1f} min wall, {a.steps} steps, "
                f"hold-out {a.before:.3f} -> {a.after:.3f}, kept {a.kept})",
                flush=True,
            )
            if not args.no_recipe:
                sps = a.settings.get("seconds_per_step") or 2.0
                rc = recipe(pair, m, sps, work / name / f"recipe_{m:g}")
                riou = score(
                    pair, rc["model"], work / name / f"recipe_{m:g}_pred", args.score_limit
                )
                run.update(recipe_iou=riou, recipe_wall_min=rc["minutes"], recipe_steps=rc["steps"])
                print(
                    f"{name} {m:g} min: recipe {riou:.3f} ({rc['minutes']:.1f} min training, "
                    f"{rc['steps']} steps)",
                    flush=True,
                )
            r["runs"].append(run)
        results[name] = r
        if args.picture and len(results) == 1:
            m = args.minutes[len(args.minutes) // 2]
            print(f"picture: {picture(pair, work, m, Path(args.picture))}", flush=True)
    print()
    print(table(results))
    print(f"uptime: {uptime()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def table(results: dict[str, Any]) -> str:
    """Markdown: per pair and budget, before → after for both arms, gains and ratio."""
    rows = [
        "| pair | minutes | default | adapt | gain | recipe | gain | adapt gain / recipe gain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for run in r["runs"]:
            b = r["before"]
            a = run["adapt_iou"]
            rc = run.get("recipe_iou")
            ga = a - b
            gr = None if rc is None else rc - b
            ratio = "–" if gr is None or abs(gr) < 1e-9 else f"{ga / gr:.2f}"
            rows.append(
                f"| {name} | {run['minutes']:g} | {b:.3f} | {a:.3f} | {ga:+.3f} | "
                + ("– | – " if rc is None else f"{rc:.3f} | {gr:+.3f} ")
                + f"| {ratio} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
