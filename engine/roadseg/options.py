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
