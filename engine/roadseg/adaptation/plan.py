"""The settings an adaptation picks for itself from the time budget, the data and the machine.

Pure rules (each measured or argued in the README's *Adapt to your area* section):

* **batch**: 4 windows on a CPU (more optimiser steps in few minutes), 16 on a GPU,
  lowered until a training step fits in the GPU's memory (:mod:`roadseg.adaptation.probe`);
* **learning rate**: 1e-3 at batch 4, scaled by √(batch / 4), at most 2e-3; warm-up
  over the first 5 % of the planned steps, then cosine decay to 1 % at the deadline;
* **freezing**: the encoder stays frozen for the first 30 % of the steps, 50 % with little
  labelled ground (under :data:`SMALL_DATA_PX` working pixels, about 0.5 km² at 0.5 m):
  only the decoder adapts first (frozen steps are also faster), then everything trains;
* **sampling**: 60 % of the windows centred on a labelled road, the rest anywhere in
  the labelled area;
* **validation**: 2 times in a run under 4 minutes, 3 under 8, else 4, evenly from 40 %
  to 100 % of the steps; each pass over the hold-out is sized to cost about 3 % of the
  budget.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: Labelled working pixels under which the data counts as small (≈ 0.5 km² at 0.5 m).
SMALL_DATA_PX = 2_000_000
#: Share of the budget one validation pass may cost.
VAL_SHARE = 0.03
#: Hold-out windows of a run with a fixed number of steps.
STEPS_VAL_WINDOWS = 64


@dataclass(frozen=True)
class AdaptSettings:
    """Everything an adaptation run decided (stored in the model file and the JSON result).

    Attributes:
        device: ``cpu`` or ``cuda``.
        tile: Window side in model pixels.
        batch_size: Windows per optimiser step.
        lr: Peak learning rate (AdamW).
        warmup_share: Share of the planned steps with a linear LR warm-up.
        freeze_share: Share of the planned steps with the encoder frozen.
        road_bias: Share of windows centred on a labelled road.
        scale_jitter: Relative jitter of each window's ground footprint.
        validations: Planned validation passes.
        val_windows: Most hold-out windows (one per block) the budget allows.
        seconds_per_window: Measured forward time of one window.
        workers: DataLoader worker processes.
        threads: Torch CPU threads of the training process (None: the engine's default).

    """

    device: str
    tile: int
    batch_size: int
    lr: float
    warmup_share: float
    freeze_share: float
    road_bias: float
    scale_jitter: float
    validations: int
    val_windows: int
    seconds_per_window: float
    workers: int
    threads: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    def replace(self, **changes: Any) -> AdaptSettings:
        """A copy with some fields changed."""
        return AdaptSettings(**{**asdict(self), **changes})


def base_lr(batch_size: int) -> float:
    """Peak learning rate for a batch size: 1e-3 at 4, × √(batch/4), at most 2e-3.

    >>> base_lr(4), base_lr(16), base_lr(2)
    (0.001, 0.002, 0.000707)
    """
    return round(min(2e-3, 1e-3 * math.sqrt(batch_size / 4)), 6)


def val_window_cap(budget_s: float | None, seconds_per_window: float) -> int:
    """Hold-out windows one validation pass may read within :data:`VAL_SHARE` of the budget.

    Without a time budget (a fixed number of steps) the cap is :data:`STEPS_VAL_WINDOWS`, so
    the hold-out does not depend on the machine's speed.

    >>> val_window_cap(120, 0.15), val_window_cap(600, 0.15), val_window_cap(600, 0.002)
    (24, 120, 256)
    >>> val_window_cap(None, 0.15)
    64
    """
    if budget_s is None:
        return STEPS_VAL_WINDOWS
    n = int(VAL_SHARE * budget_s / max(seconds_per_window, 1e-4))
    return max(8, min(256, n))


def cpu_threads(cpu_count: int) -> int:
    """Torch threads of a CPU run: every core, but one for the DataLoader worker on 4 or more.

    >>> cpu_threads(2), cpu_threads(16)
    (2, 15)
    """
    return max(1, cpu_count - (1 if cpu_count >= 4 else 0))


def _validations(budget_s: float | None) -> int:
    """Validation passes: 2 under 4 minutes, 3 under 8, else 4 (3 for a fixed step count).

    >>> _validations(120), _validations(300), _validations(600), _validations(None)
    (2, 3, 4, 3)
    """
    if budget_s is None:
        return 3
    return 2 if budget_s < 240 else (3 if budget_s < 480 else 4)


def choose_settings(
    budget_s: float | None,
    device: str,
    tile: int,
    seconds_per_window: float,
    labelled_px: int,
    cpu_count: int,
) -> AdaptSettings:
    """Settings for a run of ``budget_s`` seconds (see the module's rules).

    Args:
        budget_s: The whole run's time budget in seconds (None: a fixed number of steps).
        device: ``cpu`` or ``cuda``.
        tile: The starting model's tile size.
        seconds_per_window: Measured forward time of one window on the device.
        labelled_px: Labelled working pixels (at the model's resolution).
        cpu_count: CPU cores.

    >>> s = choose_settings(300, "cpu", 256, 0.12, 1_000_000, 2)
    >>> s.batch_size, s.lr, s.freeze_share, s.validations, s.val_windows, s.workers
    (4, 0.001, 0.5, 3, 75, 0)

    """
    gpu = device.startswith("cuda")
    tile = int(tile) if gpu else min(int(tile), 256)
    batch = 16 if gpu else 4
    return AdaptSettings(
        device="cuda" if gpu else "cpu",
        tile=tile,
        batch_size=batch,
        lr=base_lr(batch),
        warmup_share=0.05,
        freeze_share=0.5 if labelled_px < SMALL_DATA_PX else 0.3,
        road_bias=0.6,
        scale_jitter=0.0,
        validations=_validations(budget_s),
        val_windows=val_window_cap(budget_s, seconds_per_window),
        seconds_per_window=seconds_per_window,
        # On a GPU, workers read and augment windows beside the step; on a small CPU the
        # cores are better spent on the step itself (the reads cost ≈ 1 % of it).
        workers=min(4, max(0, cpu_count - 1)) if gpu else (1 if cpu_count >= 4 else 0),
        threads=None if gpu else cpu_threads(cpu_count),
    )
