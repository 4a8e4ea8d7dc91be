"""``roadseg.adapt``: fine-tune a model on roads the user already has, within a time budget.

One call, in order (each step reports progress under its stage name):

1. ``prepare`` — labels rasterised per raster where they are complete, a spatial
   hold-out of blocks chosen (:mod:`roadseg.adapt.prepare`, :mod:`roadseg.adapt.holdout`),
   the machine probed and the settings chosen (:mod:`roadseg.adapt.plan`);
2. ``before`` — road IoU of the starting model on the hold-out;
3. ``train`` / ``validate`` — fine-tuning with the public training API, steps planned on the
   measured step rate to end at the deadline, the best validation kept
   (:mod:`roadseg.adapt.budget`);
4. ``after`` — road IoU of the adapted model on the same hold-out;
5. ``write`` — the adapted model when it is better by at least ``min_gain``, else the
   starting model unchanged; both carry the figures (``training.adapt`` in the metadata).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadseg.adapt.budget import BudgetCallback, steps_in
from roadseg.adapt.holdout import choose_holdout
from roadseg.adapt.plan import AdaptSettings, choose_settings, cpu_threads
from roadseg.adapt.prepare import (
    LabelledCrop,
    LabelOptions,
    TrainingData,
    label_crop,
    labelled_working_px,
    model_codes,
    pair_inputs,
    write_training_data,
)
from roadseg.adapt.probe import probe_machine
from roadseg.adapt.result import AdaptResult
from roadseg.adapt.score import holdout_scenes, road_iou
from roadseg.errors import CancelledError, ConfigError, DataError, InputNotFoundError
from roadseg.geo.atomic import check_writable
from roadseg.models import ModelMeta, RoadNet, load_model, resolve_model_path, save_model
from roadseg.progress import CancelCallback, ProgressCallback, Reporter

PathLike = str | os.PathLike[str]
#: Name prefix of the temporary work folder (in the system's temporary folder).
WORK_PREFIX = "roadseg-adapt-"
#: Share of the labelled pixels held out for validation (fewer when the budget is short).
HOLDOUT_SHARE = 0.2
#: Seconds kept after training for the last scoring, writing and clean-up (plus one scoring).
END_RESERVE_S = 6.0
#: Seconds the training loop takes to start (data module, network, Lightning) before step 1.
START_S = 8.0
#: Least time left for training for the run to go on (a start-up, two steps, a validation).
MIN_START_S = 3.0


@dataclass(frozen=True)
class AdaptInputs:
    """Validated inputs of one adaptation (see :func:`adapt`)."""

    pairs: tuple[tuple[Path, Path], ...]
    options: LabelOptions
    dataset: Path | None


def _paths(v: PathLike | Sequence[PathLike] | None) -> list[Path]:
    if v is None:
        return []
    if isinstance(v, str | os.PathLike):
        return [Path(v)]
    return [Path(p) for p in v]


def _inputs(
    rasters: list[Path],
    labels: list[Path],
    dataset: PathLike | None,
    opts: LabelOptions,
) -> AdaptInputs:
    if dataset is not None:
        from roadseg.data.layouts import find_pairs

        if rasters or labels:
            raise ConfigError(
                "give either RASTER... --labels ROADS or --dataset DIR (image/mask pairs), not both"
            )
        if opts.area is not None:
            raise ConfigError("--area needs georeferenced RASTER... inputs, not --dataset")
        _, found = find_pairs(dataset)
        return AdaptInputs(tuple((p.image, p.mask) for p in found), opts, Path(dataset))
    pairs = pair_inputs(rasters, labels)
    for r, lab in pairs:
        if not r.exists():
            raise InputNotFoundError(f"raster {str(r)!r} does not exist; check the RASTER path")
        if not lab.exists():
            raise InputNotFoundError(f"labels {str(lab)!r} do not exist; check the --labels path")
    return AdaptInputs(tuple(pairs), opts, None)


def _device(device: str) -> str:
    import torch

    d = device.lower()
    if d == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if d == "cpu":
        return d
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available; use --device cpu")
        return d
    raise ConfigError(f"--device {device!r} is not valid; use auto, cpu or cuda[:N]")


def _work_dir(work_dir: PathLike | None, out: Path) -> tuple[Path, bool]:
    """The work folder and whether it is temporary (removed at the end)."""
    if work_dir is None:
        return Path(tempfile.mkdtemp(prefix=WORK_PREFIX)), True
    w = Path(work_dir)
    if w.exists() and (not w.is_dir() or any(w.iterdir())):
        raise ConfigError(f"--work-dir {str(w)!r} is not an empty folder; give a new folder")
    w.mkdir(parents=True, exist_ok=True)
    return w, False


def _check_args(out: Path, minutes: float | None, steps: int | None, min_gain: float) -> float:
    if out.suffix.lower() != ".safetensors":
        raise ConfigError(f"--out {str(out)!r} must be a model file name ending in .safetensors")
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {steps}")
    m = 5.0 if minutes is None else float(minutes)
    if not (math.isfinite(m) and m >= 0.1):
        raise ConfigError(f"--minutes must be at least 0.1, got {minutes}")
    if not (math.isfinite(min_gain) and min_gain >= 0):
        raise ConfigError(f"--min-gain must be ≥ 0, got {min_gain}")
    return m * 60.0


def adapt(
    rasters: PathLike | Sequence[PathLike] = (),
    labels: PathLike | Sequence[PathLike] = (),
    *,
    out: PathLike,
    area: PathLike | None = None,
    dataset: PathLike | None = None,
    gsd: float | None = None,
    class_field: str | None = None,
    class_map: str | None = None,
    mask_colors: str | None = None,
    mask_values: str | None = None,
    mask_threshold: float | None = None,
    model: PathLike = "default",
    minutes: float | None = None,
    steps: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    seed: int = 0,
    min_gain: float = 0.005,
    work_dir: PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> AdaptResult:
    """Adapt a road model to an area from roads the user already has; write a model file.

    Args:
        rasters: Georeferenced imagery (any CRS), or plain images with ``gsd``.
        labels: Road lines or polygons (any CRS; one file for all rasters or one per
            raster), or masks (one per raster).
        out: The model file to write (``.safetensors``).
        area: Polygons where the labels are complete (default: the labels' convex hull).
        dataset: A folder of plain image/mask pairs instead of ``rasters``/``labels``.
        gsd: Pixel size in metres of plain images.
        class_field: Attribute holding the road class (default: ``class``, ``highway``,
            ``road_class`` or ``road_type`` when present).
        class_map: ``value=class,...`` for ``class_field``.
        mask_colors: Colour-coded masks: ``"110,193,228=road; 155,155,155=ignore"``.
        mask_values: Index masks: ``"0=background,1=road,255=ignore"``.
        mask_threshold: Soft masks: values ≥ this are road.
        model: The starting model: ``default`` or a model file.
        minutes: Time budget of the whole run (default 5).
        steps: A fixed number of optimiser steps instead of a time budget (reproducible).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        threads: CPU threads (default: measured, all cores or one, whichever runs faster;
            with ``steps`` all cores, so the run does not depend on timing).
        seed: Seed of the windows, augmentation and new weights.
        min_gain: Road IoU the adapted model must gain on the hold-out to be kept.
        work_dir: Keep the masks, crops and run logs in this (new or empty) folder.
        progress: Called with progress events (stages ``prepare``, ``before``, ``train``,
            ``validate``, ``after``, ``write``).
        cancel: Returns True to stop (:class:`~roadseg.errors.CancelledError`; nothing written).

    Returns:
        An :class:`~roadseg.adapt.result.AdaptResult`.

    """
    t0 = time.monotonic()
    rep = Reporter(progress, cancel)
    out_p = Path(out)
    budget_s = _check_args(out_p, minutes, steps, min_gain)
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    if gsd is not None and not (math.isfinite(gsd) and gsd > 0):
        raise ConfigError(f"--gsd must be a pixel size in metres > 0, got {gsd}")
    opts = LabelOptions(
        Path(area) if area is not None else None,
        class_field,
        class_map,
        mask_colors,
        mask_values,
        mask_threshold,
        gsd,
    )
    inputs = _inputs(_paths(rasters), _paths(labels), dataset, opts)
    check_writable(out_p, "--out")
    dev = _device(device)
    parent_path = resolve_model_path(model)
    net, meta = load_model(model)
    work, temporary = _work_dir(work_dir, out_p)
    import torch

    torch_threads = torch.get_num_threads()
    try:
        return _run(
            inputs,
            out_p,
            str(model),
            parent_path,
            net,
            meta,
            dev,
            budget_s,
            steps,
            threads,
            seed,
            min_gain,
            work,
            None if temporary else work,
            rep,
            cancel,
            t0,
        )
    except CancelledError:
        raise CancelledError("adapt cancelled; nothing was written") from None
    finally:
        torch.set_num_threads(torch_threads)
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


def _run(
    inputs: AdaptInputs,
    out: Path,
    model_name: str,
    parent_path: Path,
    net: RoadNet,
    meta: ModelMeta,
    device: str,
    budget_s: float,
    steps: int | None,
    threads: int | None,
    seed: int,
    min_gain: float,
    work: Path,
    keep: Path | None,
    rep: Reporter,
    cancel: CancelCallback | None,
    t0: float,
) -> AdaptResult:
    tile = int(meta.tile_size)
    crops: list[LabelledCrop] = []
    n = len(inputs.pairs)
    for i, (image, lab) in enumerate(inputs.pairs):
        rep.update("prepare", i, n + 2, f"reading the labels of {image.name}")
        crops.append(label_crop(i, image, lab, meta, tile, inputs.options, work, meta.bands))
    rep.update("prepare", n, n + 2, "measuring this machine")
    cores = os.cpu_count() or 1
    # With a fixed step count nothing depends on timing: the thread count is the usual one.
    probe = probe_machine(
        net, min(tile, 256), device, threads or cpu_threads(cores), steps is None and not threads
    )
    settings = choose_settings(
        None if steps is not None else budget_s,
        device,
        tile,
        probe.seconds_per_window,
        labelled_working_px(crops, meta.gsd_m),
        os.cpu_count() or 1,
    )
    settings = settings.replace(
        threads=probe.threads, batch_size=probe.batch_size or settings.batch_size
    )
    if probe.threads:
        import torch

        torch.set_num_threads(probe.threads)  # scoring runs with the faster thread count
    holdout = choose_holdout(
        [b for c in crops for b in c.blocks], HOLDOUT_SHARE, settings.val_windows
    )
    rep.update("prepare", n + 1, n + 2, f"holding out {len(holdout.blocks)} blocks")
    data = write_training_data(crops, holdout, work, inputs.options.gsd)
    rep.update("prepare", n + 2, n + 2, "data ready")

    scenes = holdout_scenes(data.val, meta, inputs.options.gsd)
    ts = time.monotonic()
    before = road_iou(
        net,
        meta,
        scenes,
        settings.tile,
        device,
        settings.batch_size,
        lambda d, t: rep.update("before", d, t, "scoring the starting model on the hold-out"),
    )
    score_s = time.monotonic() - ts
    rep.update("before", len(scenes), len(scenes), f"starting model: road IoU {before:.3f}")

    deadline = None if steps is not None else t0 + budget_s - END_RESERVE_S - score_s
    val_s = score_s * 1.2 + 0.5
    guess = _first_guess(steps, deadline, settings, probe.seconds_per_window, val_s)
    t_train = time.monotonic()

    def on_event(kind: str, info: dict[str, Any]) -> None:
        _report(rep, kind, info, settings, deadline, t_train, steps)

    cb = BudgetCallback(
        settings.lr,
        guess,
        settings.validations,
        settings.freeze_share,
        settings.warmup_share,
        deadline,
        val_s,
        on_event,
    )
    cfg = _train_config(
        data, meta, model_name, parent_path, settings, work, guess, steps, seed, len(scenes)
    )
    from roadseg.train import train

    with warnings.catch_warnings():
        # Frozen batch norms stay in eval mode on purpose (Lightning warns about them).
        warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
        result = train(cfg, None, cancel, callbacks=[cb])
    train_s = time.monotonic() - t_train

    new_net, new_meta = load_model(result.model_path)
    after = road_iou(
        new_net,
        new_meta,
        scenes,
        settings.tile,
        device,
        settings.batch_size,
        lambda d, t: rep.update("after", d, t, "scoring the adapted model on the hold-out"),
    )
    rep.update("after", len(scenes), len(scenes), f"adapted model: road IoU {after:.3f}")
    better = math.isfinite(after) and (not math.isfinite(before) or after >= before + min_gain)
    res = AdaptResult(
        model_path=out,
        kept="adapted" if better else "starting",
        before=before,
        after=after,
        minutes=(time.monotonic() - t0) / 60,
        train_minutes=train_s / 60,
        steps=result.steps,
        stopped="deadline" if cb.stopped_by_deadline else "steps",
        settings={
            **settings.as_dict(),
            "min_gain": min_gain,
            "seed": seed,
            "seconds_per_step": _round(cb.seconds_per_step),
        },
        holdout={**holdout.as_dict(), "windows": len(scenes)},
        data=_data_summary(inputs, crops, meta),
        parent=_parent_summary(model_name, parent_path, meta),
        validations=cb.history,
        work_dir=keep,
    )
    rep.update("write", 0, 1, f"writing {out.name}")
    _write_model(res, new_net, new_meta, net, meta, parent_path, inputs)
    res = _with_minutes(res, (time.monotonic() - t0) / 60)
    rep.update("write", 1, 1, f"wrote {out.name} ({res.kept} model)")
    return res


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _with_minutes(res: AdaptResult, minutes: float) -> AdaptResult:
    from dataclasses import replace

    return replace(res, minutes=minutes)


def _first_guess(
    steps: int | None,
    deadline: float | None,
    settings: AdaptSettings,
    seconds_per_window: float,
    val_s: float,
) -> int:
    """Steps to plan before any is measured (a training step ≈ 3 forward passes)."""
    if steps is not None:
        return int(steps)
    assert deadline is not None
    step_s = 3.0 * seconds_per_window * settings.batch_size
    left = deadline - time.monotonic()
    if left < MIN_START_S + val_s + 2 * step_s:
        raise DataError(
            f"the time budget leaves no time to train: preparing the data and scoring the "
            f"starting model used it up ({max(0.0, left):.0f} s left); give more --minutes or "
            "a smaller --area"
        )
    return max(2, steps_in(left - START_S - settings.validations * val_s, step_s))


def _report(
    rep: Reporter,
    kind: str,
    info: dict[str, Any],
    settings: AdaptSettings,
    deadline: float | None,
    t_train: float,
    steps: int | None,
) -> None:
    if kind in ("step", "unfreeze"):
        msg = f"step {info['step']} of ~{info['total']}"
        if kind == "unfreeze":
            msg += ": encoder unfrozen"
        if deadline is None:
            rep.update("train", info["step"], max(info["total"], 1), msg)
        else:
            total = max(1, int(deadline - t_train))
            done = min(total, int(time.monotonic() - t_train))
            rep.update("train", done, total, msg)
    elif kind == "validate":
        rep.update(
            "validate",
            info["step"],
            max(info["total"], 1),
            f"step {info['step']}: hold-out road IoU {info['road_iou']:.3f}",
        )
    elif kind == "plan":
        rep.check()


def _train_config(
    data: TrainingData,
    meta: ModelMeta,
    model_name: str,
    parent_path: Path,
    s: AdaptSettings,
    work: Path,
    guess: int,
    steps: int | None,
    seed: int,
    val_windows: int,
) -> dict[str, Any]:
    """The ``roadseg train`` configuration of the run (written to its ``config.yaml``)."""
    preset, values = model_codes(meta)
    # One long epoch: the budget callback validates and stops; with --steps it is exact.
    planned = steps if steps is not None else max(1000, 20 * guess)
    return {
        "out": str(work / "run"),
        "data": {
            "image": [str(i) for i, _ in data.train],
            "labels": [str(m) for _, m in data.train],
            "val_image": [str(i) for i, _ in data.val],
            "val_labels": [str(m) for _, m in data.val],
            "classes": preset,
            "mask_values": values,
            "image_gsd": data.image_gsd,
            "gsd": meta.gsd_m,
            "tile": s.tile,
            "batch_size": s.batch_size,
            "samples_per_epoch": planned * s.batch_size,
            "road_bias": s.road_bias,
            "scale_jitter": s.scale_jitter,
            "max_val_windows": max(1, val_windows),
            "workers": s.workers,
            "bands": list(meta.bands) if meta.bands else None,
        },
        "model": {
            "arch": meta.arch,
            "encoder": meta.encoder,
            "init_from": model_name if model_name == "default" else str(parent_path),
            "freeze": "encoder" if s.freeze_share > 0 else "none",
        },
        "optim": {"lr": s.lr, "schedule": "constant"},
        "trainer": {
            "epochs": 1,
            "seed": seed,
            "accelerator": "gpu" if s.device == "cuda" else "cpu",
            "devices": "1",
            "patience": 0,
            "monitor": "val_road_iou",
            "progress": "none",
            "checkpoint_every": 0,
            "log_every": 5,
            "threads": s.threads,
            "deterministic": steps is not None,
        },
    }


def _data_summary(
    inputs: AdaptInputs, crops: list[LabelledCrop], meta: ModelMeta
) -> dict[str, Any]:
    px = labelled_working_px(crops, meta.gsd_m)
    lab_m2 = sum(c.labelled * c.pixel_m2 for c in crops)
    road_m2 = sum(c.road * c.pixel_m2 for c in crops)
    return {
        "dataset": str(inputs.dataset) if inputs.dataset else None,
        "images": len(crops),
        "labelled_km2": round(lab_m2 / 1e6, 4),
        "road_km2": round(road_m2 / 1e6, 4),
        "labelled_model_px": px,
        "area": sorted({c.area_source for c in crops}),
        "rasters": [c.summary() for c in crops][:50],
    }


def _parent_summary(name: str, path: Path, meta: ModelMeta) -> dict[str, Any]:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {
        "model": name,
        "sha256": h.hexdigest(),
        "arch": meta.arch,
        "encoder": meta.encoder,
        "gsd_m": meta.gsd_m,
        "classes": list(meta.classes),
        "engine_version": meta.engine_version,
    }


def _stored_half(path: Path) -> bool:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        return bool(keys) and str(f.get_slice(keys[0]).get_dtype()) in ("F16", "float16")


def _write_model(
    res: AdaptResult,
    new_net: RoadNet,
    new_meta: ModelMeta,
    net: RoadNet,
    meta: ModelMeta,
    parent_path: Path,
    inputs: AdaptInputs,
) -> None:
    record = {**res.figures(), "parent": res.parent, "data": res.data}
    if res.improved:
        training = {
            k: v for k, v in new_meta.training.items() if k not in ("images", "labels", "sources")
        }
        training["images"] = [str(p[0]) for p in inputs.pairs]
        training["labels"] = sorted({str(p[1]) for p in inputs.pairs})
        training["init_from"] = {**training.get("init_from", {}), "model": res.parent["model"]}
        training["adapt"] = record
        m = new_meta.replace(colors=meta.colors, widths_m=meta.widths_m, training=training)
        save_model(res.model_path, new_net, m)
    else:
        record["note"] = (
            "the adapted model was not better on the hold-out: this is the starting model, unchanged"
        )
        m = meta.replace(training={**meta.training, "adapt": record})
        save_model(res.model_path, net, m, half=_stored_half(parent_path))
