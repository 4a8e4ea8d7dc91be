"""The default model's figures on every source's hold-out, side by side with other models.

The hold-outs are the ones ``scripts/train_default_model.py`` never trains on (its
``sources()``): 10 Massachusetts tiles, Dubai Tiles 5–6, the right 40 % of SpaceNet
Las Vegas img0, and 4 synthetic scenes of other seeds (made here with the same seeds
when missing). Each held-out image is mapped with ``roadseg.predict`` (the model's own
road decision), its labels are read with the engine's label readers (masks with their
value/colour maps, vectors buffered by class width) onto the image grid, and pooled
over the source's images:

* road IoU (any road class against background; ignore pixels left out);
* relaxed F1: precision = share of predicted road pixels within ``--relax`` metres of a
  true road pixel, recall = share of true road pixels within that distance of a
  predicted one (fair to centreline labels drawn at a fixed width);
* APLS (roadseg evaluate's) where the truth is road centrelines;
* the unsure share of ``predict``'s confidence (no labels: the share of road-like pixels
  left between 0.25 and 0.75 road probability; ``bench/bench_confidence.py`` sets it against
  road IoU image by image).

Models: ``default`` (the embedded model), a model file, or ``git:REV`` (the embedded
model as committed at REV, e.g. ``git:HEAD~1`` for the previous one); any of them with
``@M`` is predicted at the working resolution M m/px (``predict(..., working_gsd=M)``)
instead of the model's own, e.g. ``default@0.4``, and with ``?key=value&…`` with other
prediction options (``tile``, ``overlap``, ``tta``, ``road_threshold``), e.g.
``default?tile=512&overlap=128`` or ``default?road_threshold=0.61`` (the class decision at
0.61 instead of the model's own).

    python bench/bench_default_model.py --models default git:c13a01b [--json figures.json]
    python bench/bench_default_model.py --models default default@0.4 --sources vegas
    python bench/bench_default_model.py --models default "default?tta=1"
    python bench/bench_default_model.py --models default "default?road_threshold=0.61"
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT / "scripts"))

EMBED_PATH = "engine/roadseg/models/default/roadseg-default.safetensors"


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise ValueError(value)


#: Prediction options a model spec may set after ``?``, with their types.
SPEC_OPTIONS = {"tile": int, "overlap": int, "tta": _flag, "road_threshold": float}


def split_spec(spec: str) -> tuple[str, dict]:
    """A model spec and the prediction options it names.

    ``default@0.4`` → working_gsd 0.4; ``default?tile=512&tta=1`` → tile 512 with flips.

    >>> split_spec("default@0.4"), split_spec("git:HEAD~1"), split_spec("a@b.safetensors")
    (('default', {'working_gsd': 0.4}), ('git:HEAD~1', {}), ('a@b.safetensors', {}))
    >>> split_spec("default@0.4?tile=512&overlap=128&tta=1")
    ('default', {'tile': 512, 'overlap': 128, 'tta': True, 'working_gsd': 0.4})
    >>> split_spec("default?size=3")
    Traceback (most recent call last):
    SystemExit: model spec 'default?size=3': unknown option 'size'; use tile, overlap, tta, road_threshold
    >>> split_spec("default?road_threshold=0.61")
    ('default', {'road_threshold': 0.61})
    >>> split_spec("default?tile=big")
    Traceback (most recent call last):
    SystemExit: model spec 'default?tile=big': tile='big' is not valid; e.g. tile=512, overlap=128, tta=1
    """
    opts: dict = {}
    head, q, query = spec.partition("?")
    if q:
        for item in query.split("&"):
            key, _, value = item.partition("=")
            if key not in SPEC_OPTIONS:
                raise SystemExit(
                    f"model spec {spec!r}: unknown option {key!r}; use {', '.join(SPEC_OPTIONS)}"
                )
            try:
                opts[key] = SPEC_OPTIONS[key](value)  # type: ignore[operator]
            except ValueError:
                raise SystemExit(
                    f"model spec {spec!r}: {key}={value!r} is not valid; "
                    "e.g. tile=512, overlap=128, tta=1"
                ) from None
    model, at, tail = head.rpartition("@")
    if at and model:
        try:
            opts["working_gsd"] = float(tail)
            return model, opts
        except ValueError:
            pass
    return head, opts


def check_options(spec: str) -> None:
    """Refuse a model spec whose prediction options roadseg.predict would refuse, naming it.

    >>> check_options("default?tile=8")
    Traceback (most recent call last):
    SystemExit: model spec 'default?tile=8': tile 8 must be from 32 to 16384; e.g. tile 256
    >>> check_options("default?road_threshold=1.5")
    Traceback (most recent call last):
    SystemExit: model spec 'default?road_threshold=1.5': road_threshold 1.5 must be more than 0 and below 1; e.g. road_threshold 0.4
    """
    from roadseg.errors import RoadsegError
    from roadseg.prediction.options import PredictOptions

    try:
        PredictOptions(**split_spec(spec)[1])
    except RoadsegError as e:
        raise SystemExit(f"model spec {spec!r}: {e}") from None


def resolve_model(spec: str, work: Path) -> tuple[str, object, dict]:
    """(label, model argument for roadseg.predict, prediction options) of a model spec.

    ``default``, a file or ``git:REV``, each optionally with ``@M`` (working_gsd M) and
    ``?key=value&…`` (see :func:`split_spec`).
    """
    from roadseg.models import load_model

    label = spec
    spec, opts = split_spec(spec)
    if spec.startswith("git:"):
        rev = spec[4:]
        out = work / f"model_{rev.replace('/', '_').replace('~', '-')}.safetensors"
        if not out.exists():
            blob = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{rev}:{EMBED_PATH}"],
                capture_output=True,
                check=True,
            ).stdout
            out.write_bytes(blob)
        return label, load_model(out), opts
    return label, load_model(spec), opts


def holdout_pairs(build: Path, real: Path) -> dict[str, tuple[object, list]]:
    """Per source of the default model's recipe: (its SourceConfig, its held-out pairs)."""
    import train_default_model as recipe
    from roadseg.data.open_source import source_pairs
    from roadseg.data.sources import SourceConfig

    out = {}
    for d in recipe.sources(build, real):
        src = SourceConfig.from_dict(d)
        held, _ = source_pairs(src, build / "sources", held_out_only=True)
        if held:
            out[src.name] = (src, held)
    return out


def truth_on_image(
    src: object, pair: object, model_classes: tuple[str, ...]
) -> tuple[np.ndarray, object]:
    """Truth labels on the image's own grid (class ids, 254 = road, 255 = ignore) and the raster."""
    from roadseg.data.catalog import open_pair
    from roadseg.data.labelmap import MappedLabels, class_lut
    from roadseg.data.open_source import source_scheme
    from roadseg.geo.classes import ClassScheme

    model = ClassScheme.preset("synth")
    scheme, mask = source_scheme(src, pair.labels, model)  # type: ignore[attr-defined]
    raster, labels = open_pair(
        pair.image, pair.labels, scheme, mask, None, src.image_gsd, src.class_field
    )  # type: ignore[attr-defined]
    lut = class_lut(scheme.names, model.names)
    lab = labels if lut is None else MappedLabels(labels, lut)
    t = lab.rasterize(raster.grid)
    valid = raster.read_grid(raster.grid).valid
    t = np.where(valid, t, 255).astype(np.uint8)
    return t, raster


def relaxed_counts(
    pred: np.ndarray, truth: np.ndarray, valid: np.ndarray, px: int
) -> tuple[int, int, int, int]:
    """(predicted near truth, predicted, truth near predicted, truth) within ``px`` pixels."""
    from scipy import ndimage

    def near(m: np.ndarray) -> np.ndarray:
        if not m.any():
            return np.zeros_like(m)
        return ndimage.distance_transform_edt(~m) <= px

    p = pred & valid
    t = truth & valid
    return int((p & near(t)).sum()), int(p.sum()), int((t & near(p)).sum()), int(t.sum())


def score_source(
    name: str,
    src: object,
    pairs: list,
    model: object,
    work: Path,
    relax_m: float,
    options: dict | None = None,
) -> dict:
    """Pooled road IoU, relaxed F1 (and APLS for vector truth) of a model on held-out pairs."""
    import rasterio
    from roadseg.prediction import predict

    tp = fp = fn = 0
    rp = rpn = rt = rtn = 0
    like = unsure = 0  # predict's confidence counts (road-like pixels, of them unsure)
    apls = []
    for i, pair in enumerate(pairs):
        truth, raster = truth_on_image(src, pair, model[1].classes)  # type: ignore[index]
        out = work / f"{name}_{i}.tif"
        res = predict(
            pair.image,
            model=model,
            out=out,
            gsd=src.image_gsd if not raster.georeferenced else None,
            **(options or {}),
        )  # type: ignore[attr-defined]
        sure = res.items[0].confidence
        if sure is not None:
            like, unsure = like + sure.road_like, unsure + sure.unsure
        with rasterio.open(out) as ds:
            cls = ds.read(1)
        valid = truth != 255
        pred = (cls > 0) & (cls != 255)
        road = (truth > 0) & valid
        tp += int((pred & road & valid).sum())
        fp += int((pred & ~road & valid).sum())
        fn += int((~pred & road & valid).sum())
        gsd = float(np.sqrt(np.prod(raster.gsd_m())))
        a, b, c, d = relaxed_counts(pred, road, valid, max(1, int(round(relax_m / gsd))))
        rp, rpn, rt, rtn = rp + a, rpn + b, rt + c, rtn + d
        if pair.labels.suffix.lower() in (".gpkg", ".geojson", ".shp") and raster.georeferenced:
            from roadseg.evaluation import evaluate

            e = evaluate(
                out, pair.labels, class_field=src.class_field, out_dir=work / f"{name}_{i}_eval"
            )  # type: ignore[attr-defined]
            v = (e.metrics.get("apls") or {}).get("apls")
            if v is not None:
                apls.append(float(v))
        raster.close()
    prec = rp / rpn if rpn else float("nan")
    rec = rt / rtn if rtn else float("nan")
    return {
        "images": len(pairs),
        "road_iou": tp / (tp + fp + fn) if tp + fp + fn else float("nan"),
        "relaxed_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "relaxed_precision": prec,
        "relaxed_recall": rec,
        "apls": float(np.mean(apls)) if apls else None,
        # predict's label-free confidence over the source (roadseg.prediction.confidence)
        "unsure_share": unsure / like if like else None,
    }


def table(results: dict[str, dict[str, dict]], labels: list[str]) -> str:
    """Markdown table: one row per source and figure, one column per model."""
    head = "| source | figure | " + " | ".join(labels) + " |\n|---|---|" + "---|" * len(labels)
    rows = [head]
    sources = list(next(iter(results.values())).keys())
    for s in sources:
        for key in ("road_iou", "relaxed_f1", "apls", "unsure_share"):
            vals = [results[m][s].get(key) for m in labels]
            if all(v is None for v in vals):
                continue
            cells = " | ".join("–" if v is None else f"{v:.3f}" for v in vals)
            rows.append(f"| {s} ({results[labels[0]][s]['images']} images) | {key} | {cells} |")
    for key in ("road_iou", "relaxed_f1"):
        means = []
        for m in labels:
            v = [results[m][s][key] for s in sources if results[m][s].get(key) is not None]
            means.append(f"{np.nanmean(v):.3f}")
        rows.append(f"| **mean of sources** | {key} | " + " | ".join(means) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--build", default=str(ROOT / "build" / "bench_default_model"))
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    ap.add_argument("--relax", type=float, default=3.0, help="relaxed F1 distance, metres")
    ap.add_argument("--sources", nargs="*", help="only these sources")
    ap.add_argument("--json", help="also write the figures (and the table) to this file")
    args = ap.parse_args(argv)
    build = Path(args.build)
    build.mkdir(parents=True, exist_ok=True)
    real = Path(args.real)
    if not (real / "massachusetts").is_dir():
        print(f"real data not found at {real}: only the synthetic hold-out is scored")
    for spec in args.models:  # bad options are refused before any scoring
        check_options(spec)
    t0 = time.perf_counter()
    held = holdout_pairs(build, real)
    if args.sources:
        held = {k: v for k, v in held.items() if k in args.sources}
    results: dict[str, dict[str, dict]] = {}
    labels = []
    for spec in args.models:
        label, model, opts = resolve_model(spec, build)
        labels.append(label)
        results[label] = {}
        for name, (src, pairs) in held.items():
            safe = re.sub(r"[^\w.-]+", "_", label)
            work = build / "work" / safe / name
            # the bench's own scratch: a re-run (e.g. after a new default model) starts clean
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True, exist_ok=True)
            results[label][name] = score_source(name, src, pairs, model, work, args.relax, opts)
            r = results[label][name]
            print(
                f"{label:>14} {name:<14} road IoU {r['road_iou']:.3f}  relaxed F1 {r['relaxed_f1']:.3f}"
                + (f"  APLS {r['apls']:.3f}" if r["apls"] is not None else ""),
                flush=True,
            )
    md = table(results, labels)
    print()
    print(md)
    print(f"\n({time.perf_counter() - t0:.0f} s; relaxed distance {args.relax:g} m)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "results": results,
                    "table_md": md,
                    "relax_m": args.relax,
                    "baseline": " ".join(args.models[1:]),
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
