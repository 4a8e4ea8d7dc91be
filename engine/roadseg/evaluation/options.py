"""The options of an evaluation, as one frozen value checked at construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from roadseg.errors import ConfigError

#: APLS definitions ``evaluate`` knows.
APLS_DEFINITIONS = ("cosmiq", "roadseg")


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions:
    """How to evaluate (see :func:`roadseg.evaluation.evaluate`).

    Attributes:
        class_field: Attribute of the truth vectors holding the class.
        scheme: Class scheme of the truth vectors (``synth``, ``spacenet``, ``osm``...);
            default: found from the attributes.
        buffer_m: Tolerance of the relaxed precision/recall, metres.
        graph_metrics: Compute APLS between the centreline graphs.
        apls_interval_m: APLS control point spacing, metres (CosmiQ's ``linestring_delta``).
        apls_snap_m: APLS snapping distance, metres (also TOPO's hole size).
        apls_max_nodes: APLS node sample size per direction (``roadseg`` definition).
        apls_definition: ``cosmiq`` (CosmiQ's reference definition, comparable with
            SpaceNet figures; see :mod:`roadseg.evaluation.apls_cosmiq`) or ``roadseg``
            (control points every ``apls_interval_m`` on every edge, all node pairs; see
            :mod:`roadseg.evaluation.apls`).
        block_size: Block size of the pixel pass.
        gsd: Pixel size in metres of a prediction without georeferencing.

    >>> EvaluateOptions(buffer_m=-1)
    Traceback (most recent call last):
    roadseg.errors.ConfigError: buffer_m must be a number ≥ 0 metres, got -1

    """

    class_field: str | None = None
    scheme: str | None = None
    buffer_m: float = 2.0
    graph_metrics: bool = True
    apls_interval_m: float = 50.0
    apls_snap_m: float = 4.0
    apls_max_nodes: int = 1000
    apls_definition: str = "cosmiq"
    block_size: int = 2048
    gsd: float | None = None

    def __post_init__(self) -> None:
        if self.apls_definition not in APLS_DEFINITIONS:
            raise ConfigError(
                f"`apls_definition` must be one of {', '.join(APLS_DEFINITIONS)}, "
                f"got {self.apls_definition!r}",
                param="apls_definition",
                value=self.apls_definition,
            )
        for name in ("buffer_m", "apls_interval_m", "apls_snap_m"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0 or (v == 0 and name == "apls_interval_m"):
                raise ConfigError(
                    f"`{name}` must be a number ≥ 0 metres, got {v}", param=name, value=v
                )
        for name, low in (("apls_max_nodes", 2), ("block_size", 64)):
            v = getattr(self, name)
            if int(v) < low:
                raise ConfigError(f"`{name}` must be at least {low}, got {v}", param=name, value=v)
