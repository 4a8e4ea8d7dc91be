"""Vectorisation options and their defaults (derived from the classes' road widths)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from roadseg.errors import ConfigError
from roadseg.geo.classes import Classes

#: Default gap bridged between facing dead ends (metres).
DEFAULT_BRIDGE_M = 15.0
#: Default maximum angle between an end's direction and the gap (degrees).
DEFAULT_BRIDGE_ANGLE = 30.0
#: Default closing radius of the road mask before skeletonising (metres).
DEFAULT_CLOSE_M = 0.5
#: Default block size (pixels).
DEFAULT_BLOCK = 4096


@dataclass(frozen=True, kw_only=True)
class VectorizeOptions:
    """What the user asked for; ``None`` means "derive a default".

    Attributes:
        simplify_m: Douglas–Peucker tolerance (default: max(1 m, 1 pixel)).
        min_area_m2: Smallest road polygon kept (default: half the widest class width squared).
        hole_area_m2: Holes smaller than this are filled (default: ``min_area_m2``).
        prune_m: Spurs shorter than this are removed (default: 2 × widest class width).
        bridge_m: Largest gap bridged between facing dead ends (default 15 m; 0 disables).
        bridge_angle_deg: Largest angle between an end's direction and the gap.
        close_m: Closing radius of the road mask before skeletonising.
        block_size: Block size in pixels (memory is bounded by the block).
        margin_px: Margin read around each block (default: from the widest class).
        gsd: Pixel size in metres of a class raster without georeferencing.

    """

    simplify_m: float | None = None
    min_area_m2: float | None = None
    hole_area_m2: float | None = None
    prune_m: float | None = None
    bridge_m: float | None = None
    bridge_angle_deg: float = DEFAULT_BRIDGE_ANGLE
    close_m: float = DEFAULT_CLOSE_M
    block_size: int = DEFAULT_BLOCK
    margin_px: int | None = None
    gsd: float | None = None

    def __post_init__(self) -> None:
        for name in ("simplify_m", "min_area_m2", "hole_area_m2", "prune_m", "bridge_m"):
            v = getattr(self, name)
            if v is not None and (not math.isfinite(v) or v < 0):
                raise ConfigError(f"`{name}` must be a number ≥ 0, got {v}", param=name, value=v)
        if not 0 < self.bridge_angle_deg <= 90:
            raise ConfigError(
                f"`bridge_angle_deg` must be in (0, 90] degrees, got {self.bridge_angle_deg}",
                param="bridge_angle_deg",
                value=self.bridge_angle_deg,
            )
        if self.block_size < 64:
            raise ConfigError(
                f"`block_size` must be at least 64 pixels, got {self.block_size}",
                param="block_size",
                value=self.block_size,
            )

    def resolve(self, classes: Classes, gsd_m: float) -> Resolved:
        """Fill the defaults for a raster's classes and ground resolution (metres/pixel).

        >>> r = VectorizeOptions().resolve(Classes.untagged(1), 0.5)
        >>> r.prune_m, r.simplify_m, r.bridge_m
        (12.0, 1.0, 15.0)
        """
        wmax = classes.max_width_m
        min_area = self.min_area_m2 if self.min_area_m2 is not None else 0.5 * wmax**2
        margin = self.margin_px
        if margin is None:
            margin = max(32, int(math.ceil(3.0 * wmax / gsd_m)) + 8)
        return Resolved(
            simplify_m=self.simplify_m if self.simplify_m is not None else max(1.0, gsd_m),
            min_area_m2=min_area,
            hole_area_m2=self.hole_area_m2 if self.hole_area_m2 is not None else min_area,
            prune_m=self.prune_m if self.prune_m is not None else 2.0 * wmax,
            bridge_m=self.bridge_m if self.bridge_m is not None else DEFAULT_BRIDGE_M,
            bridge_angle_deg=self.bridge_angle_deg,
            close_px=max(0, int(round(self.close_m / gsd_m))),
            block_size=self.block_size,
            margin_px=margin,
        )


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """Settings with every default filled in (see :class:`VectorizeOptions`)."""

    simplify_m: float
    min_area_m2: float
    hole_area_m2: float
    prune_m: float
    bridge_m: float
    bridge_angle_deg: float
    close_px: int
    block_size: int
    margin_px: int


#: The earlier name of :class:`VectorizeOptions`.
VectorizeParams = VectorizeOptions
