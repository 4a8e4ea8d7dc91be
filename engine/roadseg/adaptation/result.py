"""What an adaptation produced: the model file and its before → after figures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


def _r(v: float, nd: int = 4) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


#: What an adaptation wrote (see :attr:`AdaptResult.kept`).
Kept = Literal["adapted", "threshold", "starting"]


@dataclass(frozen=True)
class AdaptResult:
    """The outcome of :func:`roadseg.adapt`.

    Attributes:
        model_path: The written model file.
        kept: ``adapted`` (the fine-tuned model was better on the hold-out), ``threshold``
            (it was not, but the starting model with its road threshold re-chosen on the
            hold-out was: its weights, that threshold) or ``starting`` (neither: the starting
            model was written unchanged, with these figures).
        before: Road IoU of the starting model on the hold-out.
        after: Road IoU of the adapted model on the hold-out (also when not kept).
        minutes: Wall time of the whole run.
        train_minutes: Wall time of the training loop.
        steps: Optimiser steps done.
        stopped: ``deadline`` (the time budget) or ``steps`` (the planned steps were done).
        settings: The settings chosen (batch, learning rate, freezing, sampling...).
        holdout: The hold-out: blocks, share of the labelled and road pixels, windows.
        data: Per raster: area, labelled and road ground, label features per class.
        parent: The starting model: name or path, architecture, resolution, classes.
        validations: Each validation during training (step, road IoU at its best threshold).
        work_dir: The kept work folder (masks, VRTs, run logs), None when it was removed.
        before_best: Road IoU of the starting model on the hold-out at the threshold best
            for it there (the adapted model's threshold is chosen on the hold-out too; it is
            kept only when it also beats this).
        before_best_threshold: That threshold.

    """

    model_path: Path
    kept: Kept
    before: float
    after: float
    minutes: float
    train_minutes: float
    steps: int
    stopped: str
    settings: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] = field(default_factory=dict)
    validations: list[dict[str, Any]] = field(default_factory=list)
    work_dir: Path | None = None
    before_best: float = float("nan")
    before_best_threshold: float | None = None

    @property
    def improved(self) -> bool:
        """True when the adapted model was kept."""
        return self.kept == "adapted"

    @property
    def written(self) -> float:
        """Road IoU on the hold-out of the model written."""
        return {"adapted": self.after, "threshold": self.before_best}.get(self.kept, self.before)

    @property
    def gain(self) -> float:
        """Road IoU of the written model minus the starting model's, on the hold-out."""
        return self.written - self.before if self.kept != "starting" else 0.0

    def figures(self) -> dict[str, Any]:
        """The before → after figures (stored in the model file as ``training.adapt``)."""
        return {
            "road_iou_before": _r(self.before),
            "road_iou_after": _r(self.after),
            "road_iou_before_best": _r(self.before_best),
            "before_best_threshold": self.before_best_threshold,
            "kept": self.kept,
            "minutes": round(self.minutes, 2),
            "train_minutes": round(self.train_minutes, 2),
            "steps": self.steps,
            "stopped": self.stopped,
            "holdout": self.holdout,
            "settings": self.settings,
            "validations": self.validations,
        }

    def as_json(self) -> dict[str, Any]:
        """The JSON object of ``roadseg adapt`` (its JSON output)."""
        return {
            "model": str(self.model_path),
            "outputs": [str(self.model_path)],
            "kept": self.kept,
            "metrics": {
                "road_iou_before": _r(self.before),
                "road_iou_after": _r(self.after),
                "gain": _r(self.gain),
                "road_iou_before_best": _r(self.before_best),
                "before_best_threshold": self.before_best_threshold,
                "road_iou_written": _r(self.written),
            },
            "minutes": round(self.minutes, 2),
            "train_minutes": round(self.train_minutes, 2),
            "steps": self.steps,
            "stopped": self.stopped,
            "settings": self.settings,
            "holdout": self.holdout,
            "data": self.data,
            "parent": self.parent,
            "validations": self.validations,
            "work_dir": str(self.work_dir) if self.work_dir else None,
        }
