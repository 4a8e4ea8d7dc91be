"""Fitting a training run into a time budget: a step plan re-made from the measured step rate.

The plan (:class:`StepPlan`) is pure: a number of optimiser steps, a linear warm-up
then cosine decay of the learning rate over them (:func:`roadseg.training.task.warmup_cosine`),
the step at which the encoder is unfrozen, and the steps after which the hold-out is
validated. :class:`BudgetCallback` runs it inside the Lightning loop:

* it sets the learning rate of every step from the plan (the run's own schedule is off);
* after a few steps it measures the time per step (validation excluded) and re-plans the
  number of steps so the run ends at the deadline, and re-plans again after every
  validation with the latest rate (a shared machine speeds up and slows down);
* it asks Lightning for a validation at the planned steps, and stops the run (with a last
  validation) when the next step and that validation would pass the deadline;
* with a fixed number of steps instead of a deadline (``steps``) nothing is measured
  and the run is reproducible.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from roadseg.training.task import warmup_cosine

#: Steps timed before the first re-plan (the first step, slower, is not counted).
MEASURE_STEPS = 3
#: Never validate more often than every this many steps.
MIN_VAL_GAP = 2
#: ``trainer.val_check_batch`` between the validations this callback asks for.
_NEVER = 10**12


@dataclass(frozen=True)
class StepPlan:
    """Optimiser steps of a run and what happens at which step.

    Attributes:
        total: Planned optimiser steps.
        warmup: Steps of linear learning-rate warm-up.
        unfreeze: Step at which the encoder is unfrozen (None: it is never frozen).
        validate: Steps (counted from 1) after which the hold-out is validated.

    """

    total: int
    warmup: int
    unfreeze: int | None
    validate: tuple[int, ...]

    def lr_factor(self, step: int) -> float:
        """Learning-rate factor of step ``step`` (0-based).

        >>> p = plan_steps(100, 3, 0.0, 0.1)
        >>> p.lr_factor(0), p.lr_factor(10), round(p.lr_factor(99), 3)
        (0.1, 1.0, 0.01)
        """
        return warmup_cosine(step, self.total, self.warmup)


def val_fractions(n: int) -> tuple[float, ...]:
    """Where validations fall, as fractions of the run: evenly from 40 % to the end.

    >>> val_fractions(1), val_fractions(3), val_fractions(4)
    ((1.0,), (0.4, 0.7, 1.0), (0.4, 0.6, 0.8, 1.0))
    """
    if n <= 1:
        return (1.0,)
    return tuple(round(0.4 + 0.6 * i / (n - 1), 4) for i in range(n))


def plan_steps(
    total: int,
    validations: int,
    freeze_share: float,
    warmup_share: float,
    done: int = 0,
    validated: int = 0,
) -> StepPlan:
    """A plan of ``total`` steps.

    When re-planning at step ``done`` after ``validated`` validations, only the remaining
    validations are placed, after ``done``.

    >>> plan_steps(50, 3, 0.3, 0.05)
    StepPlan(total=50, warmup=2, unfreeze=15, validate=(20, 35, 50))
    >>> plan_steps(60, 3, 0.3, 0.05, done=22, validated=1).validate
    (42, 60)
    """
    total = max(1, int(total))
    warm = max(1, int(round(warmup_share * total))) if warmup_share > 0 else 0
    unfreeze = int(round(freeze_share * total)) if freeze_share > 0 else None
    fr = val_fractions(validations)[validated:]
    val = sorted({max(1, int(round(f * total))) for f in fr})
    val = [v for v in val if v > done]
    if not val or val[-1] != total:
        val.append(total)
    return StepPlan(total, warm, unfreeze, tuple(val))


def steps_in(seconds: float, seconds_per_step: float) -> int:
    """Whole steps that fit in ``seconds``.

    >>> steps_in(100, 1.9), steps_in(-5, 1.0)
    (52, 0)
    """
    if seconds <= 0:
        return 0
    return int(math.floor(seconds / max(seconds_per_step, 1e-6)))


class BudgetCallback(Callback):
    """Run a :class:`StepPlan` in Lightning: LR per step, unfreezing, validations, deadline.

    Args:
        peak_lr: Learning rate at the end of the warm-up.
        steps: Planned steps (the first guess when a deadline is given).
        validations: Planned validation passes.
        freeze_share: Share of the steps with the encoder frozen.
        warmup_share: Share of the steps with a linear warm-up.
        deadline: ``clock()`` time by which training (its last validation included) must
            end; None for a fixed number of steps.
        val_seconds: Expected seconds of one validation pass (measured ones replace it).
        on_event: Called with ``(kind, info)`` for ``"step"``, ``"plan"``, ``"validate"``
            and ``"unfreeze"`` events (progress reports).
        clock: Monotonic clock (tests may pass their own).

    """

    def __init__(
        self,
        peak_lr: float,
        steps: int,
        validations: int,
        freeze_share: float,
        warmup_share: float,
        deadline: float | None = None,
        val_seconds: float = 0.0,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.peak_lr = float(peak_lr)
        self.validations = int(validations)
        self.freeze_share = float(freeze_share)
        self.warmup_share = float(warmup_share)
        self.plan = plan_steps(steps, validations, freeze_share, warmup_share)
        self.deadline = deadline
        self.val_seconds = float(val_seconds)
        self.on_event = on_event
        self.clock = clock
        self.step_seconds: list[float] = []
        self.val_times: list[float] = []
        self.history: list[dict[str, Any]] = []
        self.replans = 0
        self.stopped_by_deadline = False
        self._t0 = clock()
        self._t_last: float | None = None
        self._t_val: float | None = None
        self._measured = deadline is None

    # ------------------------------------------------------------------ timing
    @property
    def seconds_per_step(self) -> float | None:
        """Median time of the recent training steps (validation excluded)."""
        if not self.step_seconds:
            return None
        return statistics.median(self.step_seconds[-20:])

    def _val_estimate(self) -> float:
        return max(self.val_times[-3:]) if self.val_times else self.val_seconds

    def _replan(self, done: int) -> None:
        """Re-plan the steps that fit before the deadline at the measured rate."""
        sps = self.seconds_per_step
        if self.deadline is None or sps is None:
            return
        left_val = sum(1 for v in self.plan.validate if v > done)
        spare = self.deadline - self.clock() - max(1, left_val) * self._val_estimate()
        total = done + steps_in(spare, sps)
        if total <= done:  # no time for another step: the run stops now
            self.plan = replace(self.plan, total=done)
            return
        self.plan = plan_steps(
            total,
            self.validations,
            self.freeze_share,
            self.warmup_share,
            done,
            len(self.history),
        )
        self.replans += 1
        self._emit("plan", {"total": total, "seconds_per_step": sps, "step": done})

    def _emit(self, kind: str, info: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, info)

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Drop the run's checkpoint writers: a time-budgeted run is not resumed.

        Each validation would otherwise write two full checkpoints (weights and optimiser
        state, 60–170 MB here, seconds on a loaded machine); the best model itself is still
        exported by the run at every improvement.
        """
        trainer.callbacks[:] = [c for c in trainer.callbacks if not isinstance(c, ModelCheckpoint)]

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Validation only when this callback asks for it; start the clock."""
        trainer.val_check_batch = _NEVER
        self._t_last = self._t0 = self.clock()

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        """Set the step's learning rate; unfreeze the encoder at its step."""
        step = int(trainer.global_step)
        if self.plan.unfreeze is not None and step >= self.plan.unfreeze and pl_module.frozen:
            pl_module.set_freeze(None)
            pl_module.net.encoder.train()  # its norm layers learn again, as when never frozen
            self._emit("unfreeze", {"step": step, "total": self.plan.total})
        lr = self.peak_lr * self.plan.lr_factor(step)
        for opt in trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Time the step; re-plan after the first steps; ask for a validation or stop."""
        now = self.clock()
        done = int(trainer.global_step)
        if self._t_last is not None and done > 1:
            self.step_seconds.append(now - self._t_last)
        self._t_last = now
        if not self._measured and len(self.step_seconds) >= MEASURE_STEPS:
            self._measured = True
            self._replan(done)
        self._emit("step", {"step": done, "total": self.plan.total})
        if self._should_stop(done, now):
            trainer.should_stop = True  # Lightning validates once more, then stops
            return
        last_val = self.history[-1]["step"] if self.history else 0
        gap = max(MIN_VAL_GAP, self.plan.total // 10)
        due = any(v <= done for v in self.plan.validate)
        if due and self._measured and done - last_val >= gap:
            trainer.val_check_batch = batch_idx + 1  # validate after this batch

    def _should_stop(self, done: int, now: float) -> bool:
        if self.deadline is None:
            return done >= self.plan.total
        if done >= self.plan.total and self._measured:
            self._replan(done)  # ahead of the plan (a faster machine): use the time left
            if done >= self.plan.total:
                self.stopped_by_deadline = True
                return True
        sps = self.seconds_per_step or 0.0
        if now + sps + self._val_estimate() > self.deadline:
            self.stopped_by_deadline = True
            return True
        return False

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        """Start timing the validation pass."""
        self._t_val = self.clock()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Record the pass; the next validation waits for the plan; re-plan."""
        now = self.clock()
        if self._t_val is not None:
            self.val_times.append(now - self._t_val)
        trainer.val_check_batch = _NEVER
        done = int(trainer.global_step)
        m = trainer.callback_metrics
        iou = float(m["val_road_iou"]) if "val_road_iou" in m else float("nan")
        self.history.append({"step": done, "road_iou": iou, "seconds": round(now - self._t0, 2)})
        self.plan = replace(self.plan, validate=tuple(v for v in self.plan.validate if v > done))
        self._emit("validate", {"step": done, "road_iou": iou, "total": self.plan.total})
        self._t_last = now
        if self._measured and not trainer.should_stop:
            self._replan(done)
