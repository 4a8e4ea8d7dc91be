"""``roadseg.training.train``: the public training entry point (config in, model file out)."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roadseg.errors import (
    CancelledError,
    InputNotFoundError,
    TrainingDivergedError,
)
from roadseg.progress import CancelCallback, ProgressCallback, Reporter
from roadseg.training.config import TrainConfig, deep_merge, load_yaml
from roadseg.training.rundir import (
    CKPT_DIR,
    CONFIG_NAME,
    LAST_CKPT,
    RunDir,
    TrainResult,
    prepare_run_dir,
)


def resolve_config(
    config: TrainConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[TrainConfig, Path | None]:
    """Resolve the config and the checkpoint to resume (defaults < run < file < overrides)."""
    base: dict[str, Any] = {}
    ckpt = None
    if resume is not None:
        rd = RunDir(Path(resume))
        ckpt = rd.last_checkpoint
        if not rd.resumable:
            raise InputNotFoundError(
                f"`resume` {str(rd.path)!r} holds no interrupted run (no {CONFIG_NAME} and "
                f"{CKPT_DIR}/{LAST_CKPT})",
                param="resume",
                value=str(rd.path),
                hint="give the `out` folder of an earlier training run",
            )
        base = load_yaml(rd.config)
        base["out"] = str(rd.path)
    if isinstance(config, TrainConfig):
        config = config.as_dict()
    if isinstance(config, Mapping):
        base = deep_merge(base, config)
    elif config is not None:
        config_file = config
    cfg = TrainConfig.resolve(base, config_file, overrides)
    if resume is not None and Path(cfg.out or "").resolve() != Path(resume).resolve():
        cfg = cfg.replace(out=str(Path(resume)))
    return cfg, ckpt


def _absolute(cfg: TrainConfig) -> TrainConfig:
    d = cfg.data

    def absl(v: tuple[str, ...]) -> list[str]:
        return [str(Path(p).absolute()) for p in v]

    ch: dict[str, Any] = {
        "out": str(Path(cfg.out).absolute()) if cfg.out else None,
        "data.image": absl(d.image),
        "data.labels": absl(d.labels),
        "data.val_image": absl(d.val_image),
        "data.val_labels": absl(d.val_labels),
    }
    for k in ("dataset", "val_dataset"):
        if getattr(d, k):
            ch[f"data.{k}"] = str(Path(getattr(d, k)).absolute())
    m = cfg.model
    if m.init_from and m.init_from != "default":
        ch["model.init_from"] = str(Path(m.init_from).absolute())
    if m.encoder_weights and m.encoder_weights != "imagenet":
        ch["model.encoder_weights"] = str(Path(m.encoder_weights).absolute())
    return cfg.replace(**ch)


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings(
        "ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*"
    )
    warnings.filterwarnings("ignore", message=".*Experiment logs directory.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
    warnings.filterwarnings("ignore", message=".*`isinstance\\(treespec, LeafSpec\\)`.*")


def train(
    config: TrainConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    *,
    resume: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    callbacks: Sequence[Any] = (),
    **overrides: Any,
) -> TrainResult:
    """Train a road segmentation model; write ``RUN_DIR/model.safetensors``.

    Args:
        config: A :class:`TrainConfig`, a nested dict, or a YAML file path.
        progress: Called with :class:`~roadseg.progress.ProgressEvent` s.
        cancel: Returns True to stop (raises :class:`~roadseg.errors.CancelledError`; the run
            can be resumed).
        resume: A run folder to continue from its last checkpoint.
        config_file: A YAML file (between ``config`` and ``overrides`` in precedence).
        callbacks: Extra Lightning callbacks for this run (e.g. the time budget of
            :func:`roadseg.adapt`); they run after the run's own callbacks.
        **overrides: Keys like ``image=[...]``, ``labels=[...]``, ``out=...``, ``epochs=2``,
            ``tile=128`` or dotted ``**{"augment.hflip": 0}``.

    Returns:
        A :class:`TrainResult`.

    """
    t0 = time.perf_counter()
    rep = Reporter(progress, cancel)
    cfg, ckpt = resolve_config(config, config_file, resume, overrides)
    cfg = _absolute(cfg)
    run = prepare_run_dir(cfg, resuming=ckpt is not None)
    # Debian's system matplotlib beside the venv's warns about Axes3D when Lightning imports it.
    warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)
    from roadseg.training.runner import run_training

    _quiet_lightning()

    try:
        return run_training(cfg, run, ckpt, rep, t0, extra_callbacks=callbacks)
    except CancelledError:
        raise CancelledError(
            f"training cancelled (checkpoints in {run.checkpoints})",
            param="resume",
            value=str(run.path),
            hint=f"continue it with `resume` {run.path}",
        ) from None
    except TrainingDivergedError as exc:
        last = run.last_checkpoint
        kept = (
            f"; the last good checkpoint {str(last)!r} was kept"
            if last.is_file()
            else "; no checkpoint was written"
        )
        raise TrainingDivergedError(
            f"{exc.message}{kept}", param=exc.param, value=exc.value, hint=exc.hint
        ) from exc
