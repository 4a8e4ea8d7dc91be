"""The engine's machine-readable output: JSON lines on stderr and stdout.

Contract (engine ``roadseg/cli/options.py``, version 1):

* ``--progress json``: one object a line on stderr,
  ``{"type": "progress", "stage": ..., "done": ..., "total": ..., "message": ...}``;
* ``--json``: the LAST line of stdout is one object with ``"outputs"``, ``"metrics"``...;
* failure: non-zero exit status and a final stdout line
  ``{"type": "error", "error": CLASS, "message": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .i18n import tr


@dataclass(frozen=True)
class ProgressLine:
    """One progress event from the engine."""

    stage: str
    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        """Done as a fraction of total, clamped to [0, 1] (0 when total is unknown).

        >>> ProgressLine("predict", 3, 4).fraction
        0.75
        """
        if self.total <= 0:
            return 0.0
        return min(1.0, max(0.0, self.done / self.total))


@dataclass(frozen=True)
class ErrorLine:
    """The engine's final error line."""

    error: str
    message: str
    exit_code: int | None = None


def _load_object(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def parse_progress(line: str) -> ProgressLine | None:
    """Parse one stderr line; None when it is not a progress object.

    >>> parse_progress('{"type": "progress", "stage": "predict", "done": 2, "total": 8}')
    ProgressLine(stage='predict', done=2, total=8, message='')
    >>> parse_progress("Warning: something") is None
    True
    """
    obj = _load_object(line)
    if obj is None or obj.get("type") != "progress":
        return None
    try:
        return ProgressLine(
            stage=str(obj.get("stage", "")),
            done=int(obj.get("done") or 0),
            total=int(obj.get("total") or 0),
            message=str(obj.get("message") or ""),
        )
    except (TypeError, ValueError):
        return None


def parse_error(obj: dict[str, Any]) -> ErrorLine | None:
    """Return the error described by a JSON object, or None if it is not an error line.

    >>> parse_error({"type": "error", "error": "CRSError", "message": "no CRS"})
    ErrorLine(error='CRSError', message='no CRS', exit_code=None)
    """
    if obj.get("type") != "error":
        return None
    code = obj.get("exit_code")
    return ErrorLine(
        error=str(obj.get("error") or "Error"),
        message=str(obj.get("message") or "the engine failed without a message"),
        exit_code=int(code) if isinstance(code, int) else None,
    )


def last_json_object(stdout: str) -> dict[str, Any] | None:
    r"""Return the last line of ``stdout`` that is a JSON object (the ``--json`` result or error).

    >>> last_json_object('loading\n{"outputs": {"raster": "a.tif"}}\n')
    {'outputs': {'raster': 'a.tif'}}
    >>> last_json_object("no json here") is None
    True
    """
    for line in reversed(stdout.splitlines()):
        obj = _load_object(line)
        if obj is not None:
            return obj
    return None


def road_km(result: dict[str, Any]) -> float | None:
    """Return the total centreline length (km) an engine result reports, if any.

    >>> road_km({"metrics": {"km_per_class": {"major": 1.5, "minor": 0.25}}})
    1.75
    >>> road_km({"rasters": [{"vectorize": {"centerline_km": 0.5}}]})
    0.5
    >>> road_km({}) is None
    True
    """
    per_class = (result.get("metrics") or {}).get("km_per_class")
    if isinstance(per_class, dict):
        return round(sum(float(v) for v in per_class.values() if isinstance(v, int | float)), 6)
    total = None
    for item in result.get("rasters") or []:
        km = ((item or {}).get("vectorize") or {}).get("centerline_km")
        if isinstance(km, int | float):
            total = (total or 0.0) + float(km)
    for key in ("centerline_km", "centreline_km"):
        km = result.get(key, (result.get("metrics") or {}).get(key))
        if total is None and isinstance(km, int | float):
            total = float(km)
    return total


def unsure_note(result: dict) -> str:
    """A note for the run's message when the engine rated its confidence poor, else "".

    The engine's ``metrics.confidence`` (``roadseg.prediction.confidence``): the share of
    road-like pixels whose road probability stayed between 0.25 and 0.75.

    >>> unsure_note({"metrics": {"confidence": {"rating": "poor", "unsure_share": 0.734}}})
    'the model was unsure of this imagery (73 % of road-like pixels): expect missed and false \
roads; Adapt model fits it to roads you have'
    >>> unsure_note({"metrics": {"confidence": {"rating": "fair", "unsure_share": 0.4}}})
    ''
    >>> unsure_note({}), unsure_note({"metrics": {"confidence": None}})
    ('', '')
    """
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    sure = metrics.get("confidence") if isinstance(metrics, dict) else None
    if not isinstance(sure, dict) or sure.get("rating") != "poor":
        return ""
    share = sure.get("unsure_share")
    pct = f"{float(share) * 100:.0f}" if isinstance(share, int | float) else "?"
    return tr(
        "the model was unsure of this imagery ({pct} % of road-like pixels): expect missed and "
        "false roads; Adapt model fits it to roads you have"
    ).format(pct=pct)


def fit_summary(answer: dict) -> tuple[str, str]:
    """(rating, one line for the dialog) of a ``roadseg check-fit --json`` answer.

    The rating is ``good``, ``fair``, ``poor``, ``no road found``, ``no imagery`` (the windows
    held no valid pixel) or "" when the answer has
    none; the line says what was sampled and, when poor, what to do.

    >>> a = {"rasters": [{"confidence": {"rating": "poor", "unsure_share": 0.684}, "samples": 8,
    ...      "whole": False, "sampled_km2": 0.524, "area_km2": 12.5}], "seconds": 6.2,
    ...      "settings": {"sample_m": 256.0}}
    >>> fit_summary(a)[0]
    'poor'
    >>> print(fit_summary(a)[1])
    Fit to this imagery: poor (68 % of road-like pixels unsure; 8 windows of 256 m, 6 s). \
Expect missed and false roads: Adapt model fits the model to roads you have.
    >>> a["rasters"][0].update(whole=True, confidence={"rating": "good", "unsure_share": 0.1})
    >>> print(fit_summary(a)[1])
    Fit to this imagery: good (10 % of road-like pixels unsure; the whole area, 6 s).
    >>> a["rasters"][0].update(whole=False, confidence={"rating": "no imagery", "unsure_share": None})
    >>> print(fit_summary(a)[1])
    Fit to this imagery: the windows (8 windows of 256 m) held no imagery, only nodata: choose \
an area with imagery.
    >>> fit_summary({})
    ('', '')
    """
    items = answer.get("rasters") if isinstance(answer.get("rasters"), list) else []
    first = items[0] if items and isinstance(items[0], dict) else {}
    sure = first.get("confidence") if isinstance(first.get("confidence"), dict) else None
    if not sure or not sure.get("rating"):
        return "", ""
    rating = str(sure["rating"])
    share = sure.get("unsure_share")
    settings = answer.get("settings") if isinstance(answer.get("settings"), dict) else {}
    if first.get("whole"):
        where = tr("the whole area")
    else:
        where = tr("{n} windows of {m} m").format(
            n=first.get("samples", "?"), m=f"{float(settings.get('sample_m') or 0):g}"
        )
    seconds = answer.get("seconds")
    took = f"{float(seconds):.0f} s" if isinstance(seconds, int | float) else "?"
    if isinstance(share, int | float):
        how = tr("{rating} ({pct} % of road-like pixels unsure; {where}, {took})").format(
            rating=rating, pct=f"{float(share) * 100:.0f}", where=where, took=took
        )
    else:
        how = tr("{rating} ({where}, {took})").format(rating=rating, where=where, took=took)
    line = tr("Fit to this imagery: {how}.").format(how=how)
    if rating == "no imagery":
        line = tr(
            "Fit to this imagery: the windows ({where}) held no imagery, only nodata: choose an "
            "area with imagery."
        ).format(where=where)
    if rating == "poor":
        line += " " + tr(
            "Expect missed and false roads: Adapt model fits the model to roads you have."
        )
    return rating, line


#: Progress bar spans (percent) of the engine's stage families, in run order.
STAGE_SPANS: dict[str, tuple[float, float]] = {
    "setup": (0.0, 5.0),
    "main": (5.0, 85.0),
    "vectorize": (85.0, 97.0),
    "write": (97.0, 99.5),
}

_FAMILY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vectorize", ("vector", "polygon", "skeleton", "graph", "centerline", "centreline")),
    ("main", ("predict", "infer", "tile", "window", "batch", "train", "epoch", "fit", "check")),
    ("write", ("write", "save", "commit")),
)


def stage_family(stage: str) -> str:
    """Map an engine stage name to a family of :data:`STAGE_SPANS`.

    >>> stage_family("predict"), stage_family("vectorize/skeleton"), stage_family("open")
    ('main', 'vectorize', 'setup')
    >>> stage_family("write")
    'write'
    """
    low = stage.lower()
    for family, words in _FAMILY_WORDS:
        if any(w in low for w in words):
            return family
    return "setup"


class ProgressMapper:
    """Turn engine progress lines into one monotonic percentage for a progress bar.

    Each stage family owns a span of the bar (setup, the main work: prediction or
    training, then vectorisation); a run without vectorisation gives the main work
    the rest of the bar. The percentage never goes backwards.

    Args:
        vectorize: Whether the run has a vectorisation stage.

    >>> m = ProgressMapper(vectorize=True)
    >>> m.percent(ProgressLine("predict", 5, 10))
    45.0
    >>> m.percent(ProgressLine("vectorize", 0, 4))
    85.0
    >>> m.percent(ProgressLine("predict", 1, 10))  # late line: never backwards
    85.0

    """

    def __init__(self, vectorize: bool = True) -> None:
        self.spans = dict(STAGE_SPANS)
        if not vectorize:
            self.spans["main"] = (5.0, 97.0)
        self._last = 0.0

    def percent(self, line: ProgressLine) -> float:
        """Return the bar percentage after ``line``."""
        low, high = self.spans[stage_family(line.stage)]
        value = low + (high - low) * line.fraction
        self._last = max(self._last, value)
        return round(self._last, 2)


class ForwardProgress:
    """Set one run's progress bar, never back.

    A run that renders a web or virtual layer first fills the start of the bar with the
    rendering; the engine's own percentages then start again from 0. The high-water mark is
    the run's own (a Processing feedback may hold another algorithm's progress).

    Args:
        set_progress: Sets the bar (``QgsTask.setProgress``, ``QgsFeedback.setProgress``).

    >>> seen = []
    >>> bar = ForwardProgress(seen.append)
    >>> for percent in (5.0, 0.0, 2.5, 45.0):
    ...     bar(percent)
    >>> seen
    [5.0, 45.0]

    """

    def __init__(self, set_progress: Callable[[float], None]) -> None:
        self._set = set_progress
        self.last = 0.0

    def __call__(self, percent: float) -> None:
        """Move the bar to ``percent`` unless it is there or further already."""
        if percent > self.last:
            self.last = percent
            self._set(percent)
