"""The run folder of a training run: its file names, its checks, its config file and its result.

A run folder holds ``model.safetensors`` (the best validation model),
``config.yaml`` (every parameter), ``checkpoints/best.ckpt`` and
``checkpoints/last.ckpt``, the CSV and TensorBoard logs and ``curves.png``.
Only the process of rank 0 writes the model, the config and the curves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.errors import ConfigError, OutputError, about
from roadseg.geo.atomic import atomic_output, check_writable
from roadseg.training.config import TrainConfig

MODEL_NAME = "model.safetensors"
CONFIG_NAME = "config.yaml"
CKPT_DIR = "checkpoints"
LAST_CKPT = "last.ckpt"
BEST_CKPT = "best.ckpt"
CURVES_NAME = "curves.png"


@dataclass(frozen=True)
class RunDir:
    """The files of one run folder.

    >>> RunDir(Path("runs/a")).last_checkpoint.as_posix()
    'runs/a/checkpoints/last.ckpt'
    """

    path: Path

    @property
    def model(self) -> Path:
        """The best model as a roadseg model file."""
        return self.path / MODEL_NAME

    @property
    def config(self) -> Path:
        """The resolved configuration."""
        return self.path / CONFIG_NAME

    @property
    def checkpoints(self) -> Path:
        """The Lightning checkpoints folder."""
        return self.path / CKPT_DIR

    @property
    def last_checkpoint(self) -> Path:
        """The checkpoint a resumed run continues from."""
        return self.checkpoints / LAST_CKPT

    @property
    def best_checkpoint(self) -> Path:
        """The checkpoint of the best validation epoch."""
        return self.checkpoints / BEST_CKPT

    @property
    def logs(self) -> Path:
        """The CSV logs (one ``partN`` folder per start of the run)."""
        return self.path / "logs"

    @property
    def curves(self) -> Path:
        """The PNG of the loss and metric curves."""
        return self.path / CURVES_NAME

    @property
    def resumable(self) -> bool:
        """True when the folder holds a config and a last checkpoint."""
        return self.config.is_file() and self.last_checkpoint.is_file()

    def log_version(self) -> str:
        """Name of this start's log folder: ``part0``, ``part1``... (one per resume)."""
        n = len(list(self.logs.glob("part*"))) if self.logs.exists() else 0
        return f"part{n}"


def env_rank() -> int:
    """Global rank of this process under torchrun/SLURM (0 when not distributed)."""
    for k in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(k):
            return int(os.environ[k])
    return 0


def prepare_run_dir(cfg: TrainConfig, resuming: bool) -> RunDir:
    """Check the run folder of ``cfg.out`` (rank 0 also checks that it can write there)."""
    if not cfg.out:
        raise ConfigError("no run folder given", param="out", hint="give `out` RUN_DIR")
    run = RunDir(Path(cfg.out))
    if run.path.exists() and not run.path.is_dir():
        raise OutputError(
            f"`out` {str(run.path)!r} is a file",
            param="out",
            value=str(run.path),
            hint="give a folder for the run",
        )
    if env_rank() == 0:
        if not resuming and run.last_checkpoint.exists():
            raise OutputError(
                f"`out` {str(run.path)!r} already holds a training run",
                param="out",
                value=str(run.path),
                hint="continue it with `resume` (the same folder) or choose another `out`",
            )
        with about("out"):
            check_writable(run.config)
    return run


def write_config(cfg: TrainConfig, run: RunDir) -> Path:
    """Write the resolved configuration to ``RUN_DIR/config.yaml`` (atomically)."""
    with about("out"), atomic_output(run.config) as tmp:
        tmp.write_text(cfg.to_yaml())
    return run.config


def clean_metrics(m: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe metrics (NaN → None).

    >>> clean_metrics({"miou": float("nan"), "f1": 0.5})
    {'miou': None, 'f1': 0.5}
    """
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in m.items()}


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        model_path: The best model as a roadseg model file (``RUN_DIR/model.safetensors``).
        metrics: Validation metrics of that model.
        run_dir: The run folder (config, checkpoints, logs, curves).
        checkpoint: ``last.ckpt``, to resume from.
        epochs: Epochs completed.
        steps: Optimiser steps done.
        stopped_early: Early stopping ended the run.
        seconds: Wall time of this call.
        curves: The PNG of the curves (None without logged epochs).
        summary: Data summary, precision and where augmentation ran.

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

    def as_dict(self) -> dict[str, Any]:
        """The CLI's JSON object."""
        return {
            "model": str(self.model_path),
            "metrics": self.metrics,
            "run_dir": str(self.run_dir),
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "config": str(RunDir(self.run_dir).config),
            "curves": str(self.curves) if self.curves else None,
            "outputs": [str(self.model_path)] + ([str(self.curves)] if self.curves else []),
            "epochs": self.epochs,
            "steps": self.steps,
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 2),
        }
