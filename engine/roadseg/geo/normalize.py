"""Scaling raw raster values to floats in [0, 1]: a declared, stored normalisation.

Pure: works on numpy arrays. The model file stores the :class:`Scaling` it was
trained with, so prediction scales new imagery the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Default full-scale value by numpy dtype name (floats are taken as already in [0, 1]).
DTYPE_MAX: dict[str, float] = {
    "uint8": 255.0,
    "int8": 127.0,
    "uint16": 65535.0,
    "int16": 32767.0,
    "uint32": 4294967295.0,
    "int32": 2147483647.0,
    "float32": 1.0,
    "float64": 1.0,
}


@dataclass(frozen=True, slots=True)
class Scaling:
    """Linear scaling of raw band values: ``(x - low) / (high - low)``, clipped to [0, 1].

    Attributes:
        low: Raw value mapped to 0, per band or one for all.
        high: Raw value mapped to 1, per band or one for all.

    """

    low: tuple[float, ...] = field(default=(0.0,))
    high: tuple[float, ...] = field(default=(255.0,))

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high) and 1 not in (len(self.low), len(self.high)):
            raise ValueError("low and high must have one value or one per band")
        for lo, hi in zip(
            np.broadcast_to(self.low, max(len(self.low), len(self.high))),
            np.broadcast_to(self.high, max(len(self.low), len(self.high))),
            strict=True,
        ):
            if not hi > lo:
                raise ValueError(f"scaling high ({hi}) must be above low ({lo})")

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Scale a (bands, H, W) array to float32 in [0, 1].

        >>> Scaling((0.0,), (2047.0,)).apply(np.array([[[0, 2047, 4000]]], dtype=np.uint16)).tolist()
        [[[0.0, 1.0, 1.0]]]
        """
        lo = np.asarray(self.low, dtype=np.float32).reshape(-1, 1, 1)
        hi = np.asarray(self.high, dtype=np.float32).reshape(-1, 1, 1)
        out = (raw.astype(np.float32) - lo) / (hi - lo)
        return np.clip(out, 0.0, 1.0, out=out)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"low": list(self.low), "high": list(self.high)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaling:
        """Inverse of :meth:`as_dict`."""
        return cls(tuple(float(v) for v in d["low"]), tuple(float(v) for v in d["high"]))

    @classmethod
    def for_dtype(cls, dtype: str, nbits: int | None = None) -> Scaling:
        """Full-range scaling for a dtype; ``nbits`` (e.g. 11) narrows integer ranges.

        >>> Scaling.for_dtype("uint16", nbits=11).high
        (2047.0,)
        """
        if nbits and dtype.startswith("uint"):
            return cls((0.0,), (float(2**nbits - 1),))
        return cls((0.0,), (DTYPE_MAX.get(dtype, 1.0),))


def parse_scaling(text: str | Sequence[float] | None, dtype: str, nbits: int | None) -> Scaling:
    """Parse a user's scaling option: ``"auto"``, ``"HIGH"`` or ``"LOW,HIGH"``.

    >>> parse_scaling("0,2047", "uint16", None).high
    (2047.0,)
    >>> parse_scaling(None, "uint8", None).high
    (255.0,)
    """
    if text is None or text == "auto":
        return Scaling.for_dtype(dtype, nbits)
    try:
        if isinstance(text, str):
            parts = [float(p) for p in text.replace(" ", "").split(",") if p]
        else:
            parts = [float(p) for p in text]
    except (TypeError, ValueError):
        parts = []
    if not all(math.isfinite(p) for p in parts) or (len(parts) == 2 and parts[0] >= parts[1]):
        parts = []
    if len(parts) == 1 and parts[0] <= 0:
        parts = []
    if len(parts) == 1:
        return Scaling((0.0,), (parts[0],))
    if len(parts) == 2:
        return Scaling((parts[0],), (parts[1],))
    raise ValueError(
        f"`scaling` {text!r} is not a value range; give auto, HIGH or LOW,HIGH with LOW < HIGH "
        "(e.g. 0,2047)"
    )
