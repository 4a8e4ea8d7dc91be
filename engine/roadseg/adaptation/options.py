"""The options of :func:`roadseg.adapt`: one frozen, checked object (or keyword overrides)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from roadseg.adaptation.prepare import LabelOptions
from roadseg.errors import ConfigError
from roadseg.options import check_range

#: Time budget when neither ``minutes`` nor ``steps`` is given.
DEFAULT_MINUTES = 5.0


@dataclass(frozen=True)
class AdaptOptions:
    """How an adaptation reads its labels and spends its time.

    Attributes:
        area: Polygons where the labels are complete (default: the labels' convex hull).
        gsd: Pixel size in metres of plain images.
        class_field: Attribute holding the road class (default: ``class``, ``highway``,
            ``road_class`` or ``road_type`` when present).
        class_map: ``value=class,...`` for ``class_field``.
        mask_colors: Colour-coded masks: ``"110,193,228=road; 155,155,155=ignore"``.
        mask_values: Index masks: ``"0=background,1=road,255=ignore"``.
        mask_threshold: Soft masks: values ≥ this are road.
        minutes: Time budget of the whole run (default 5 without ``steps``).
        steps: A fixed number of optimiser steps instead of a time budget (reproducible).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        threads: CPU threads (default: measured, all cores or one, whichever runs faster;
            with ``steps`` all cores, so the run does not depend on timing).
        seed: Seed of the windows, augmentation and new weights.
        min_gain: Road IoU the adapted model must gain on the hold-out to be kept, over the
            starting model at its own threshold and at its best threshold there.
        work_dir: Keep the masks, crops and run logs in this (new or empty) folder.
        overwrite: Replace an existing ``out`` model file (else the run is refused before
            it starts).

    >>> AdaptOptions(minutes=2).budget_seconds, AdaptOptions(steps=10).budget_seconds
    (120.0, None)
    >>> AdaptOptions(minutes=0)
    Traceback (most recent call last):
    roadseg.errors.ConfigError: minutes 0 must be from 0.1 to 1440 minutes; e.g. minutes 5

    """

    area: Path | None = None
    gsd: float | None = None
    class_field: str | None = None
    class_map: str | None = None
    mask_colors: str | None = None
    mask_values: str | None = None
    mask_threshold: float | None = None
    minutes: float | None = None
    steps: int | None = None
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    min_gain: float = 0.005
    work_dir: Path | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        fix = object.__setattr__
        for name in ("area", "work_dir"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Path):
                fix(self, name, Path(os.fspath(v)))
        if self.minutes is not None:
            check_range("minutes", self.minutes, 0.1, 24 * 60, unit="minutes", example=5)
        if self.steps is not None:
            check_range("steps", self.steps, 1, integer=True, example=200)
        if self.threads is not None:
            check_range("threads", self.threads, 1, 1024, integer=True, example=2)
        if self.gsd is not None:
            check_range("gsd", self.gsd, 0, 10_000, low_open=True, unit="metres", example=0.5)
        check_range("min_gain", self.min_gain, 0, 1, example=0.005)
        d = (self.device or "").lower()
        if not (d in ("auto", "cpu") or d.startswith("cuda")):
            raise ConfigError(
                f"`device` {self.device!r} is not valid",
                param="device",
                value=self.device,
                hint="use auto, cpu or cuda[:N]",
            )

    @property
    def budget_seconds(self) -> float | None:
        """The time budget in seconds (None with a fixed number of steps)."""
        if self.steps is not None:
            return None
        return 60.0 * (self.minutes if self.minutes is not None else DEFAULT_MINUTES)

    def labels(self) -> LabelOptions:
        """The label-reading part."""
        return LabelOptions(
            self.area,
            self.class_field,
            self.class_map,
            self.mask_colors,
            self.mask_values,
            self.mask_threshold,
            self.gsd,
        )
