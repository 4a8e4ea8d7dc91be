"""What the option objects of the public functions share: keyword overrides, checked by name.

``predict``, ``vectorize`` and ``evaluate`` each take a frozen options object
(:class:`~roadseg.prediction.options.PredictOptions`,
:class:`~roadseg.vectorization.params.VectorizeOptions`,
:class:`~roadseg.evaluation.options.EvaluateOptions`) and keyword overrides of its
fields, so scripts stay short (``predict("a.tif", out="r.tif", tile=256)``) and
a set of options can be kept and reused (``predict(..., options=opts)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from roadseg.errors import ConfigError

T = TypeVar("T")


def with_overrides(options: T | None, cls: type[T], overrides: Mapping[str, Any]) -> T:
    """``options`` (default ``cls()``) with ``overrides`` replacing fields; unknown names refused.

    >>> @dataclasses.dataclass(frozen=True)
    ... class O:
    ...     tile: int = 256
    >>> with_overrides(None, O, {"tile": 128})
    O(tile=128)
    >>> with_overrides(O(), O, {"tiles": 1})
    Traceback (most recent call last):
    roadseg.errors.ConfigError: unknown option tiles; valid: tile
    """
    if options is not None and not isinstance(options, cls):
        raise ConfigError(
            f"`options` must be a {cls.__name__}, got {type(options).__name__}",
            param="options",
        )
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    bad = sorted(set(overrides) - set(names))
    if bad:
        raise ConfigError(
            f"unknown option {', '.join(f'`{b}`' for b in bad)}",
            param=bad[0],
            hint=f"valid: {', '.join(names)}",
        )
    base = options if options is not None else cls()
    return dataclasses.replace(base, **overrides) if overrides else base  # type: ignore[type-var]


def range_text(
    low: float | None, high: float | None, low_open: bool = False, high_open: bool = False
) -> str:
    """Words for a range of valid values.

    >>> range_text(1, None), range_text(0, None, low_open=True), range_text(0, 1, high_open=True)
    ('at least 1', 'more than 0', 'at least 0 and below 1')
    >>> range_text(0, 90, low_open=True), range_text(64, 16384)
    ('more than 0 and at most 90', 'from 64 to 16384')
    """
    lo = (
        None if low is None else (f"more than {_num(low)}" if low_open else f"at least {_num(low)}")
    )
    hi = None if high is None else (f"below {_num(high)}" if high_open else f"at most {_num(high)}")
    if lo and hi:
        if not low_open and not high_open:
            return f"from {_num(low)} to {_num(high)}"
        return f"{lo} and {hi}"
    return lo or hi or "a number"


def _num(x: float | None) -> str:
    """A bound as people write it.

    >>> _num(1_000_000.0), _num(0.5), _num(1e-9)
    ('1000000', '0.5', '1e-09')
    """
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def check_range(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    unit: str = "",
    example: Any = None,
) -> None:
    """Refuse a value that is not a (whole) number in the range, saying the range and a fix.

    >>> check_range("batch_size", 2, 1, integer=True)
    >>> check_range("batch_size", 0, 1, integer=True, example=2)
    Traceback (most recent call last):
    roadseg.errors.ConfigError: batch_size 0 must be at least 1; e.g. batch_size 2
    >>> check_range("lr", float("nan"), 0, low_open=True)
    Traceback (most recent call last):
    roadseg.errors.ConfigError: lr nan must be a finite number more than 0
    """
    import math
    import numbers

    valid = range_text(low, high, low_open, high_open) + (f" {unit}" if unit else "")
    hint = f"e.g. `{name}` {example}" if example is not None else ""
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"`{name}` must be {kind} {valid}, got {value!r}", param=name, value=value, hint=hint
        )
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(
            f"`{name}` {value} must be a finite number {valid}", param=name, value=value, hint=hint
        )
    if integer and not v.is_integer():
        raise ConfigError(
            f"`{name}` {value} must be {kind} {valid}", param=name, value=value, hint=hint
        )
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if too_low or too_high:
        shown = int(v) if v.is_integer() else value
        raise ConfigError(f"`{name}` {shown} must be {valid}", param=name, value=value, hint=hint)
