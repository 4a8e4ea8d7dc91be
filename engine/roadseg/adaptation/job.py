"""One adaptation run, from validated inputs to the written model (see :mod:`.api`)."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from roadseg.adaptation.budget import BudgetCallback, steps_in
from roadseg.adaptation.holdout import choose_holdout
from roadseg.adaptation.options import AdaptOptions
from roadseg.adaptation.output import data_summary, parent_summary, write_model
from roadseg.adaptation.plan import AdaptSettings, choose_settings, cpu_threads
from roadseg.adaptation.prepare import (
    LabelledCrop,
    label_crop,
    labelled_working_px,
    model_codes,
)
from roadseg.adaptation.probe import probe_machine
from roadseg.adaptation.result import AdaptResult
from roadseg.adaptation.score import holdout_scenes, holdout_score, outcome
from roadseg.adaptation.training_data import TrainingData, write_training_data
from roadseg.errors import DataError
from roadseg.models import ModelMeta, RoadNet, load_model
from roadseg.progress import CancelCallback, Reporter

#: Share of the labelled pixels held out for validation (fewer when the budget is short).
HOLDOUT_SHARE = 0.2
#: Seconds kept after training for the last scoring, writing and clean-up (plus one scoring).
END_RESERVE_S = 6.0
#: Seconds the training loop takes to start (data module, network, Lightning) before step 1.
START_S = 8.0
#: Least time left for training for the run to go on (a start-up, two steps, a validation).
MIN_START_S = 3.0


@dataclass
class Job:
    """Everything one run needs, validated.

    Attributes:
        pairs: (image, labels) pairs.
        dataset: The dataset folder they came from, if any.
        out: The model file to write.
        model_name: The starting model as the user named it (``default`` or a path).
        parent_path: Its file.
        net: The starting network.
        meta: Its metadata.
        device: ``cpu`` or ``cuda[:N]``.
        opts: The options.
        work: The work folder.
        keep: The work folder when it is kept (``work_dir``), else None.
        rep: Progress reporter (with the cancel check).
        cancel: The cancel callback (for the training loop).
        t0: ``time.monotonic()`` at the call.

    """

    pairs: tuple[tuple[Path, Path], ...]
    dataset: Path | None
    out: Path
    model_name: str
    parent_path: Path
    net: RoadNet
    meta: ModelMeta
    device: str
    opts: AdaptOptions
    work: Path
    keep: Path | None
    rep: Reporter
    cancel: CancelCallback | None
    t0: float


def run(job: Job) -> AdaptResult:
    """Prepare, score the start, train to the deadline, score again, write the model."""
    rep, meta, opts = job.rep, job.meta, job.opts
    tile = int(meta.tile_size)
    crops: list[LabelledCrop] = []
    n = len(job.pairs)
    for i, (image, lab) in enumerate(job.pairs):
        rep.update("prepare", i, n + 2, f"reading the labels of {image.name}")
        crops.append(label_crop(i, image, lab, meta, tile, opts.labels(), job.work, meta.bands))
    rep.update("prepare", n, n + 2, "measuring this machine")
    settings = _settings(job, crops, tile)
    holdout = choose_holdout(
        [b for c in crops for b in c.blocks], HOLDOUT_SHARE, settings.val_windows
    )
    rep.update("prepare", n + 1, n + 2, f"holding out {len(holdout.blocks)} blocks")
    data = write_training_data(crops, holdout, job.work, opts.gsd)
    rep.update("prepare", n + 2, n + 2, "data ready")

    scenes = holdout_scenes(data.val, meta, opts.gsd)
    ts = time.monotonic()
    start = holdout_score(
        job.net,
        meta,
        scenes,
        settings.tile,
        job.device,
        settings.batch_size,
        lambda d, t: rep.update("before", d, t, "scoring the starting model on the hold-out"),
    )
    score_s = time.monotonic() - ts
    before = start.iou
    rep.update("before", len(scenes), len(scenes), f"starting model: road IoU {before:.3f}")

    budget = opts.budget_seconds
    deadline = None if budget is None else job.t0 + budget - END_RESERVE_S - score_s
    val_s = score_s * 1.2 + 0.5
    guess = first_guess(opts.steps, deadline, settings, val_s)
    t_train = time.monotonic()

    def on_event(kind: str, info: dict[str, Any]) -> None:
        _report(rep, kind, info, deadline, t_train)

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
    from roadseg.training.api import train

    with warnings.catch_warnings():
        # Frozen batch norms stay in eval mode on purpose (Lightning warns about them).
        warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
        result = train(
            train_config(job, data, settings, guess, len(scenes)),
            None,
            job.cancel,
            callbacks=[cb],
        )
    train_s = time.monotonic() - t_train

    new_net, new_meta = load_model(result.model_path)
    after = holdout_score(
        new_net,
        new_meta,
        scenes,
        settings.tile,
        job.device,
        settings.batch_size,
        lambda d, t: rep.update("after", d, t, "scoring the adapted model on the hold-out"),
    ).iou
    rep.update("after", len(scenes), len(scenes), f"adapted model: road IoU {after:.3f}")
    res = AdaptResult(
        model_path=job.out,
        kept=outcome(start, after, opts.min_gain),
        before=before,
        after=after,
        before_best=start.best_iou,
        before_best_threshold=start.best_threshold,
        minutes=(time.monotonic() - job.t0) / 60,
        train_minutes=train_s / 60,
        steps=result.steps,
        stopped="deadline" if cb.stopped_by_deadline else "steps",
        settings={
            **settings.as_dict(),
            "min_gain": opts.min_gain,
            "seed": opts.seed,
            "precision": result.summary.get("precision"),
            "seconds_per_step": None
            if cb.seconds_per_step is None
            else round(cb.seconds_per_step, 3),
        },
        holdout={**holdout.as_dict(), "windows": len(scenes)},
        data=data_summary(job.dataset, crops, meta),
        parent=parent_summary(job.model_name, job.parent_path, meta),
        validations=cb.history,
        work_dir=job.keep,
    )
    rep.update("write", 0, 1, f"writing {job.out.name}")
    write_model(res, (new_net, new_meta), (job.net, meta), job.parent_path, job.pairs)
    res = replace(res, minutes=(time.monotonic() - job.t0) / 60)
    rep.update("write", 1, 1, f"wrote {job.out.name} ({res.kept} model)")
    return res


def _settings(job: Job, crops: list[LabelledCrop], tile: int) -> AdaptSettings:
    """Probe the machine, choose the settings; scoring then runs with the chosen threads."""
    opts = job.opts
    cores = os.cpu_count() or 1
    # With a fixed step count nothing depends on timing: the thread count is the usual one.
    compare = opts.steps is None and not opts.threads
    probe = probe_machine(
        job.net, min(tile, 256), job.device, opts.threads or cpu_threads(cores), compare
    )
    settings = choose_settings(
        opts.budget_seconds,
        job.device,
        tile,
        probe.seconds_per_window,
        labelled_working_px(crops, job.meta.gsd_m),
        cores,
    )
    settings = replace(
        settings,
        threads=probe.threads,
        batch_size=probe.batch_size or settings.batch_size,
        seconds_per_window=round(probe.seconds_per_window, 4),
    )
    if probe.threads:
        import torch

        torch.set_num_threads(probe.threads)
    return settings


def first_guess(
    steps: int | None, deadline: float | None, settings: AdaptSettings, val_s: float
) -> int:
    """Steps to plan before any is measured (a training step ≈ 3 forward passes)."""
    if steps is not None:
        return int(steps)
    assert deadline is not None
    step_s = 3.0 * settings.seconds_per_window * settings.batch_size
    left = deadline - time.monotonic()
    if left < MIN_START_S + val_s + 2 * step_s:
        raise DataError(
            "the time budget leaves no time to train: preparing the data and scoring the "
            f"starting model used it up ({max(0.0, left):.0f} s left)",
            param="minutes",
            hint="give more `minutes` or a smaller `area`",
        )
    return max(2, steps_in(left - START_S - settings.validations * val_s, step_s))


def _report(
    rep: Reporter, kind: str, info: dict[str, Any], deadline: float | None, t_train: float
) -> None:
    """Budget events as progress: ``train`` in seconds of the budget (steps with ``steps``)."""
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


def train_config(
    job: Job, data: TrainingData, s: AdaptSettings, guess: int, val_windows: int
) -> dict[str, Any]:
    """The training configuration of the run (written to its ``config.yaml``)."""
    meta, steps = job.meta, job.opts.steps
    preset, values = model_codes(meta)
    # One long epoch: the budget callback validates and stops; with `steps` it is exact.
    planned = steps if steps is not None else max(1000, 20 * guess)
    return {
        "out": str(job.work / "run"),
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
            "init_from": "default" if job.model_name == "default" else str(job.parent_path),
            "freeze": "encoder" if s.freeze_share > 0 else "none",
        },
        "optim": {"lr": s.lr, "schedule": "constant"},
        "trainer": {
            "epochs": 1,
            "seed": job.opts.seed,
            "accelerator": "gpu" if s.device.startswith("cuda") else "cpu",
            "devices": f"[{s.device.partition(':')[2] or 0}]"
            if s.device.startswith("cuda")
            else "1",
            "patience": 0,
            "monitor": "val_road_iou",
            "progress": "none",
            "checkpoint_every": 0,
            "log_every": 5,
            "threads": s.threads,
            "deterministic": steps is not None,
        },
    }
