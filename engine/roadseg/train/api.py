"""``roadseg.train.train``: the public training entry point (config in, model file out)."""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.errors import (
    CancelledError,
    ConfigError,
    InputNotFoundError,
    OutputError,
    TrainingDivergedError,
)
from roadseg.geo.atomic import atomic_output, check_writable
from roadseg.progress import CancelCallback, ProgressCallback, Reporter
from roadseg.train.config import TrainConfig, deep_merge, load_yaml

MODEL_NAME = "model.safetensors"
CONFIG_NAME = "config.yaml"
CKPT_DIR = "checkpoints"

#: On the project's 2-core CPU (bench/bench_train.py), a bf16-mixed training step of
#: Unet-resnet34 (4×256²) took 1.4× the fp32 time: CPU training defaults to fp32.
CPU_PRECISION = "32-true"


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        model_path: The best model as a roadseg model file (``RUN_DIR/model.safetensors``).
        metrics: Validation metrics of that model.
        run_dir: The run folder (config, checkpoints, logs, curves).
        checkpoint: ``last.ckpt`` for ``--resume``.
        epochs: Epochs completed.
        steps: Optimiser steps done.
        stopped_early: Early stopping ended the run.
        seconds: Wall time of this call.
        curves: The PNG of the curves (None without logged epochs).

    """

    model_path: Path
    metrics: dict[str, Any]
    run_dir: Path
    checkpoint: Path | None = None
    epochs: int = 0
    steps: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    curves: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object of ``roadseg train``."""
        return {
            "model": str(self.model_path),
            "metrics": self.metrics,
            "run_dir": str(self.run_dir),
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "config": str(self.run_dir / CONFIG_NAME),
            "curves": str(self.curves) if self.curves else None,
            "outputs": [str(self.model_path)] + ([str(self.curves)] if self.curves else []),
            "epochs": self.epochs,
            "steps": self.steps,
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 2),
        }


def _env_rank() -> int:
    for k in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(k):
            return int(os.environ[k])
    return 0


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
        rd = Path(resume)
        ckpt = rd / CKPT_DIR / "last.ckpt"
        if not (rd / CONFIG_NAME).is_file() or not ckpt.is_file():
            raise InputNotFoundError(
                f"--resume {str(rd)!r} holds no interrupted run (no {CONFIG_NAME} and "
                f"{CKPT_DIR}/last.ckpt); "
                "give the --out folder of an earlier `roadseg train`"
            )
        base = load_yaml(rd / CONFIG_NAME)
        base["out"] = str(rd)
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


def _prepare_run_dir(cfg: TrainConfig, resuming: bool) -> Path:
    if not cfg.out:
        raise ConfigError("no run folder: give --out RUN_DIR")
    rd = Path(cfg.out)
    if rd.exists() and not rd.is_dir():
        raise OutputError(f"--out {str(rd)!r} is a file; give a folder for the run")
    if _env_rank() == 0:
        if not resuming and (rd / CKPT_DIR / "last.ckpt").exists():
            raise OutputError(
                f"--out {str(rd)!r} already holds a training run; continue it with "
                f"--resume {str(rd)} "
                "or choose another --out"
            )
        check_writable(rd / CONFIG_NAME, "--out")
    return rd


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


def choose_precision(cfg: TrainConfig) -> str:
    """``trainer.precision``: ``auto`` → bf16-mixed on GPUs with bf16, fp32 on CPU (measured)."""
    import torch

    p = str(cfg.trainer.precision)
    if p != "auto":
        return {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed", "64": "64-true"}.get(p, p)
    acc = cfg.trainer.accelerator
    if torch.cuda.is_available() and acc in ("auto", "gpu", "cuda"):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return CPU_PRECISION


def default_workers() -> int:
    """DataLoader workers when ``data.workers`` is unset: CPU cores − 1, at most 4."""
    return min(4, max(0, (os.cpu_count() or 1) - 1))


def augment_in_workers(cfg: TrainConfig) -> bool:
    """Where augmentation runs: ``batch`` (device, torch/kornia) or ``workers`` (numpy).

    ``auto``: on the GPU with kornia; on CPU in the DataLoader workers when there
    are any (numpy there costs 24 ms a 256² sample against kornia's 15 ms in the
    training process, but runs on another core, hidden behind the step), else kornia.
    """
    import torch

    b = cfg.augment.backend
    if b == "auto":
        on_gpu = torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda")
        workers = cfg.data.workers if cfg.data.workers is not None else default_workers()
        b = "batch" if on_gpu or workers == 0 else "workers"
    return b == "workers"


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
            ``roadseg adapt``); they run after the run's own callbacks.
        **overrides: Keys like ``image=[...]``, ``labels=[...]``, ``out=...``, ``epochs=2``,
            ``tile=128`` or dotted ``**{"augment.hflip": 0}``.

    Returns:
        A :class:`TrainResult`.

    """
    t0 = time.perf_counter()
    rep = Reporter(progress, cancel)
    cfg, ckpt = resolve_config(config, config_file, resume, overrides)
    cfg = _absolute(cfg)
    run_dir = _prepare_run_dir(cfg, resuming=ckpt is not None)
    # Debian's system matplotlib beside the venv's warns about Axes3D when Lightning imports it.
    warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)
    from roadseg.train.runner import run_training

    _quiet_lightning()

    try:
        return run_training(cfg, run_dir, ckpt, rep, t0, extra_callbacks=callbacks)
    except CancelledError:
        raise CancelledError(
            f"training cancelled; continue it with --resume {run_dir} "
            f"(checkpoints in {run_dir / CKPT_DIR})"
        ) from None
    except TrainingDivergedError as exc:
        last = run_dir / CKPT_DIR / "last.ckpt"
        kept = (
            f"; the last good checkpoint {str(last)!r} was kept"
            if last.is_file()
            else "; no checkpoint was written"
        )
        raise TrainingDivergedError(f"{exc}{kept}") from exc


def write_config(cfg: TrainConfig, run_dir: Path) -> Path:
    """Write the resolved configuration to ``RUN_DIR/config.yaml`` (atomically)."""
    p = run_dir / CONFIG_NAME
    with atomic_output(p, "--out") as tmp:
        tmp.write_text(cfg.to_yaml())
    return p


def clean_metrics(m: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe metrics (NaN → None)."""
    out: dict[str, Any] = {}
    for k, v in m.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out
