"""One "Adapt model" run: its parameters, its command line, its progress and its outcome.

``roadseg adapt RASTER --labels ROADS [--area POLYGONS] --model START --out MODEL``
fine-tunes a model to the user's area from roads they already have (OpenStreetMap,
a municipal layer, the edited centrelines of a Map roads run) within a time budget,
and reports the road IoU of the starting and the adapted model on a held-out part
of the labelled area. Pure Python: the dialog and the Processing algorithm build a
:class:`AdaptParameters`, the task runs :func:`adapt_argv`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .commands import MACHINE_OPTIONS, fmt_number
from .errors import InputError
from .i18n import tr
from .params import DEVICES
from .protocol import ProgressLine

AdaptMode = Literal["adapt", "retrain"]
#: Where the labels are complete: the map extent, the whole raster, every polygon of a
#: layer, its selected polygons, or around the labels (their convex hull, the engine's default).
ADAPT_AREA_MODES: tuple[str, ...] = ("canvas", "layer", "polygons", "selection", "labels")
#: The time budget the dialog offers first (the engine's own default).
DEFAULT_MINUTES = 5.0
#: Progress bar spans (percent) of ``roadseg adapt``'s stages, in run order.
ADAPT_SPANS: dict[str, tuple[float, float]] = {
    "prepare": (0.0, 10.0),
    "before": (10.0, 20.0),
    "train": (20.0, 88.0),
    "validate": (20.0, 88.0),
    "after": (88.0, 97.0),
    "write": (97.0, 100.0),
}


def adapt_area_label(mode: str) -> str:
    """Return the Adapt dialog's text for an area mode.

    >>> adapt_area_label("labels")
    'Around the roads of the road layer'
    """
    labels = {
        "canvas": tr("Current map extent"),
        "layer": tr("Whole raster layer"),
        "polygons": tr("All polygons of a layer"),
        "selection": tr("Selected polygon features"),
        "labels": tr("Around the roads of the road layer"),
    }
    return labels.get(mode, mode)


@dataclass(frozen=True)
class AdaptParameters:
    """Everything one adaptation needs, validated at construction.

    Attributes:
        raster_path: The imagery file (a GDAL raster on disk).
        raster_name: Its layer name (for the model's default name).
        labels_path: The road layer as a file the engine reads (exported by the plugin).
        out_path: The model file to write (``.safetensors``).
        name: The model's name in the Map roads dialog.
        class_field: Attribute with the road class ("" = the engine looks for ``class``,
            ``highway``, ``road_class``...).
        area_path: Polygons where the labels are complete (None: around the labels).
        model: The starting model: ``default`` or a model file.
        model_label: How messages name the starting model.
        minutes: The time budget of the whole run.
        steps: A fixed number of training steps instead (reproducible runs, tests).
        device: ``auto``, ``cpu`` or ``cuda``.
        min_gain: Road IoU the adapted model must gain to be kept (None: the engine's).
        mode: ``adapt`` (roads the user has) or ``retrain`` (corrected centrelines).
        overwrite: Replace ``out_path`` if it exists (a file the user chose in Processing;
            QGIS asked before replacing it). Engines older than ``adapt --overwrite``
            replaced it anyway.

    """

    raster_path: str
    raster_name: str
    labels_path: str
    out_path: str
    name: str
    class_field: str = ""
    area_path: str | None = None
    model: str = "default"
    model_label: str = "default model"
    minutes: float = DEFAULT_MINUTES
    steps: int | None = None
    device: str = "auto"
    min_gain: float | None = None
    mode: AdaptMode = "adapt"
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.raster_path:
            raise InputError(tr("Choose the raster layer with the imagery to adapt to."))
        if not self.labels_path:
            raise InputError(tr("Choose the layer with the roads you have (lines or polygons)."))
        if not self.out_path.lower().endswith(".safetensors"):
            raise InputError(
                tr("The model file {path} must end in .safetensors.").format(
                    path=repr(self.out_path)
                )
            )
        if not self.name.strip():
            raise InputError(tr("Give the new model a name."))
        if not (math.isfinite(self.minutes) and 0.1 <= self.minutes <= 24 * 60):
            raise InputError(
                tr("Minutes {minutes} is out of range: use 0.1 to 1440.").format(
                    minutes=self.minutes
                )
            )
        if self.steps is not None and self.steps < 1:
            raise InputError(tr("Steps must be at least 1."))
        if self.device not in DEVICES or self.device == "mps":
            raise InputError(
                tr("Unknown device {device}; choose auto, cpu or cuda.").format(
                    device=repr(self.device)
                )
            )


def adapt_argv(engine: Sequence[str], p: AdaptParameters) -> list[str]:
    """``roadseg adapt RASTER --labels ROADS [--area A] --model M --out OUT [options]``.

    >>> p = AdaptParameters("i.tif", "i", "roads.gpkg", "m.safetensors", "m", "highway")
    >>> adapt_argv(["roadseg"], p)[1:]
    ['adapt', 'i.tif', '--labels', 'roads.gpkg', '--model', 'default', '--out', \
'm.safetensors', '--minutes', '5', '--class-field', 'highway', '--progress', 'json', '--json']
    >>> q = AdaptParameters("i.tif", "i", "l.gpkg", "m.safetensors", "m", area_path="a.geojson",
    ...                     steps=3, device="cpu", min_gain=0.0)
    >>> adapt_argv(["roadseg"], q)[7:-3]
    ['--out', 'm.safetensors', '--steps', '3', '--area', 'a.geojson', '--device', 'cpu', \
'--min-gain', '0']
    >>> from dataclasses import replace
    >>> adapt_argv(["roadseg"], replace(q, overwrite=True))[-4:-3]
    ['--overwrite']
    """
    argv = [*engine, "adapt", p.raster_path, "--labels", p.labels_path]
    argv += ["--model", p.model or "default", "--out", p.out_path]
    if p.steps:
        argv += ["--steps", str(p.steps)]
    else:
        argv += ["--minutes", fmt_number(p.minutes)]
    if p.class_field:
        argv += ["--class-field", p.class_field]
    if p.area_path:
        argv += ["--area", p.area_path]
    if p.device != "auto":
        argv += ["--device", p.device]
    if p.min_gain is not None:
        argv += ["--min-gain", fmt_number(p.min_gain)]
    if p.overwrite:
        argv.append("--overwrite")
    return argv + list(MACHINE_OPTIONS)


class AdaptProgress:
    """Turn ``roadseg adapt`` progress lines into one monotonic percentage.

    >>> m = AdaptProgress()
    >>> m.percent(ProgressLine("train", 5, 10))
    54.0
    >>> m.percent(ProgressLine("before", 1, 1))  # a late line never moves the bar back
    54.0
    >>> m.percent(ProgressLine("write", 1, 1))
    100.0
    """

    def __init__(self) -> None:
        self._last = 0.0

    def percent(self, line: ProgressLine) -> float:
        """Return the bar percentage after ``line``."""
        low, high = ADAPT_SPANS.get(line.stage, ADAPT_SPANS["prepare"])
        self._last = max(self._last, low + (high - low) * line.fraction)
        return round(self._last, 2)


@dataclass(frozen=True)
class AdaptOutcome:
    """What ``roadseg adapt --json`` reported, for the message bar and the model list.

    Attributes:
        model_path: The written model file.
        adapted: Whether the file is a new model (the fine-tuned one, or the starting one
            with its road threshold chosen on the user's roads); else it is the starting model.
        before: Road IoU of the starting model on the hold-out (None when not measurable).
        after: Road IoU of the written model on the hold-out.
        minutes: Wall time of the run.
        steps: Training steps done.

    """

    model_path: str
    adapted: bool
    before: float | None
    after: float | None
    minutes: float
    steps: int
    #: The starting model's road IoU on the hold-out at the threshold best for it there
    #: (the adapted model's threshold is chosen there too; it is kept only when it beats this).
    before_best: float | None = None
    #: The new model is the starting one with only its road threshold re-chosen.
    threshold_only: bool = False

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AdaptOutcome:
        """Read the engine's result object.

        >>> o = AdaptOutcome.from_json({"model": "m.safetensors", "kept": "adapted",
        ...     "metrics": {"road_iou_before": 0.24, "road_iou_after": 0.51},
        ...     "minutes": 5.0, "steps": 120})
        >>> o.adapted, o.gain
        (True, 0.27)
        >>> t = AdaptOutcome.from_json({"model": "m", "kept": "threshold", "metrics": {
        ...     "road_iou_before": 0.30, "road_iou_after": 0.29, "road_iou_written": 0.33}})
        >>> t.adapted, t.threshold_only, t.gain
        (True, True, 0.03)
        """
        metrics = obj.get("metrics") if isinstance(obj.get("metrics"), dict) else {}

        def num(key: str) -> float | None:
            v = metrics.get(key)
            return float(v) if isinstance(v, int | float) and math.isfinite(v) else None

        kept = obj.get("kept")
        written = num("road_iou_written")
        return cls(
            model_path=str(obj.get("model") or ""),
            adapted=kept in ("adapted", "threshold"),
            before=num("road_iou_before"),
            after=written if written is not None else num("road_iou_after"),
            minutes=float(obj.get("minutes") or 0.0),
            steps=int(obj.get("steps") or 0),
            before_best=num("road_iou_before_best"),
            threshold_only=kept == "threshold",
        )

    @property
    def kept(self) -> str:
        """The engine's word for the file: ``adapted``, ``threshold`` or ``starting``.

        >>> AdaptOutcome("m", True, 0.3, 0.33, 1.0, 3, threshold_only=True).kept
        'threshold'
        """
        if not self.adapted:
            return "starting"
        return "threshold" if self.threshold_only else "adapted"

    @property
    def gain(self) -> float | None:
        """After minus before (None when either is unknown)."""
        if self.before is None or self.after is None:
            return None
        return round(self.after - self.before, 4)

    def figures(self) -> str:
        """``0.24 → 0.51 (+0.27)``.

        >>> AdaptOutcome("m", False, 0.5, 0.49, 1.0, 3).figures()
        '0.50 → 0.49 (-0.01)'
        >>> AdaptOutcome("m", False, 0.47, 0.50, 1.0, 3, before_best=0.52).figures()
        '0.47 → 0.50 (+0.03; the starting model reaches 0.52 at its best threshold)'
        """
        parts = [f"{self.gain:+.2f}"] if self.gain is not None else []
        if self.before_best is not None and self.before is not None and not self.threshold_only:
            if round(self.before_best, 2) > round(self.before, 2):
                parts.append(
                    tr("the starting model reaches {v} at its best threshold").format(
                        v=_iou(self.before_best)
                    )
                )
        inner = "; ".join(parts)
        return f"{_iou(self.before)} → {_iou(self.after)}" + (f" ({inner})" if inner else "")

    def message(self, name: str, start: str) -> str:
        """The message shown when the run ends.

        >>> AdaptOutcome("m", True, 0.24, 0.51, 5.0, 120).message("dubai", "default model")
        "Adapted model 'dubai': road IoU on held-out roads 0.24 → 0.51 (+0.27) in 5.0 min; \
it is now in Map roads' model list."
        """
        if self.threshold_only:
            return tr(
                "Model {name}: training did not beat {start} on held-out roads, but {start} "
                "with its road threshold chosen on your roads did: road IoU {figures} in "
                "{minutes:.1f} min; it is now in Map roads' model list."
            ).format(name=repr(name), start=start, figures=self.figures(), minutes=self.minutes)
        if self.adapted:
            return tr(
                "Adapted model {name}: road IoU on held-out roads {figures} in {minutes:.1f} "
                "min; it is now in Map roads' model list."
            ).format(name=repr(name), figures=self.figures(), minutes=self.minutes)
        return tr(
            "The adapted model was not better than {start} on held-out roads ({figures}), so "
            "no new model was added: keep using {start}, or give more minutes or more roads."
        ).format(start=start, figures=self.figures())


def _iou(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"
