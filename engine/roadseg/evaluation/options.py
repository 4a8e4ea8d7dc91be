"""The options of an evaluation, as one frozen value checked at construction."""

from __future__ import annotations

from dataclasses import dataclass

from roadseg.data.catalog import MaskOptions, resolve_scheme
from roadseg.errors import ConfigError
from roadseg.geo.classes import ClassScheme
from roadseg.options import check_range

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
        mask_colors: A colour-coded truth mask's road colours, ``"110,193,228=road"``
            (other colours background; ``=ignore`` leaves a colour out of the figures).
        mask_values: A truth mask's value map, ``"0=background,1=road,255=ignore"``.
        mask_threshold: A soft truth mask: values ≥ this are road.
        overwrite: Replace existing report files (else the run is refused before it starts).

    >>> EvaluateOptions(buffer_m=-1)
    Traceback (most recent call last):
    roadseg.errors.ConfigError: buffer_m -1 must be at least 0 metres; e.g. buffer_m 2

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
    mask_colors: str | None = None
    mask_values: str | None = None
    mask_threshold: float | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.apls_definition not in APLS_DEFINITIONS:
            raise ConfigError(
                f"`apls_definition` must be one of {', '.join(APLS_DEFINITIONS)}, "
                f"got {self.apls_definition!r}",
                param="apls_definition",
                value=self.apls_definition,
            )
        check_range("buffer_m", self.buffer_m, 0, unit="metres", example=2)
        check_range(
            "apls_interval_m", self.apls_interval_m, 0, low_open=True, unit="metres", example=50
        )
        check_range("apls_snap_m", self.apls_snap_m, 0, unit="metres", example=4)
        check_range("apls_max_nodes", self.apls_max_nodes, 2, integer=True, example=1000)
        check_range("block_size", self.block_size, 64, integer=True, example=2048)
        if self.gsd is not None:
            check_range("gsd", self.gsd, 0, 10_000, low_open=True, unit="metres", example=0.5)
        maps = ("mask_colors", "mask_values", "mask_threshold")
        given = [n for n in maps if getattr(self, n) not in (None, "")]
        if len(given) > 1:
            raise ConfigError(
                f"give one of `mask_colors`, `mask_values` and `mask_threshold`, not "
                f"{' and '.join(f'`{n}`' for n in given)}",
                param=given[1],
                value=getattr(self, given[1]),
                hint="a colour-coded mask takes `mask_colors`, a mask of values `mask_values`, "
                "a soft mask `mask_threshold`",
            )
        if self.mask_threshold is not None:
            check_range("mask_threshold", self.mask_threshold, example=128)
        self.truth_mask()  # a malformed map is refused here, before any work

    def truth_mask(self) -> tuple[ClassScheme, MaskOptions] | None:
        """Road/background scheme and mask options of a mapped truth mask, or None."""
        if not self.mask_colors and not self.mask_values and self.mask_threshold is None:
            return None
        return resolve_scheme(
            "binary",
            None,
            mask_colors=self.mask_colors,
            mask_values=self.mask_values,
            mask_threshold=self.mask_threshold,
        )
