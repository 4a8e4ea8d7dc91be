"""Vectorisation options and their defaults (derived from the classes' road widths)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from roadseg.errors import ConfigError
from roadseg.geo.classes import Classes
from roadseg.options import check_range

#: Default gap bridged between facing dead ends (metres).
DEFAULT_BRIDGE_M = 15.0
#: Default maximum angle between an end's direction and the gap (degrees).
DEFAULT_BRIDGE_ANGLE = 30.0
#: Default closing radius of the road mask before skeletonising (metres).
DEFAULT_CLOSE_M = 0.5
#: Default block size (pixels).
DEFAULT_BLOCK = 4096
#: Loops whose centreline encloses less than this are collapsed onto their medial line
#: (m²): smaller than any city block, larger than the loops a road grows around a car or a
#: traffic island. It never lowered APLS in bench/bench_network.py (README figures).
DEFAULT_LOOP_AREA_M2 = 400.0
#: Enclosed holes narrower than this are filled (metres). Off by default: with any width
#: that reaches parking rows (15 m) it merged parking aisles and lowered APLS on the
#: SpaceNet tile (0.69 → 0.50 with the default model).
DEFAULT_LOOP_WIDTH_M = 0.0
#: ...up to this length (metres); longer holes and faces are kept: a loop under 400 m² and
#: longer than 60 m is under 7 m wide, two carriageways side by side, which
#: ``carriageways`` decides (``keep`` by default).
DEFAULT_LOOP_EXTENT_M = 60.0
#: Dead ends ending on the raster's edge or at nodata, shorter than this and inside the
#: road they hang from, are cut (metres); roads leaving the raster past a junction stay.
DEFAULT_STUB_M = 10.0
#: Dead ends are joined to a road up to this far ahead of them when the prediction covers
#: the bridge (metres; :mod:`roadseg.vectorization.bridge_roads`). On since 2026-12-02: on
#: the default model's 10 held-out Massachusetts tiles (bench_network ``mass``) it raised
#: mean CosmiQ APLS 0.286 → 0.314, no tile lower, with Vegas unchanged; 25 m had lowered
#: synthetic seed 6 (README, network cleaning).
DEFAULT_ROAD_BRIDGE_M = 20.0
#: Links between two junctions no longer than the roads' width, and at most this long, are
#: contracted into one junction (metres; :mod:`roadseg.vectorization.junctions`). Off by
#: default: one node per crossing is what an analyst wants, but CosmiQ's APLS scores the
#: fewer control points lower (0.885 → 0.878 on synthetic seed 5 with 15 m).
DEFAULT_JUNCTION_M = 0.0
#: Pieces of the network (connected, not touching the raster's edge or nodata) spanning less
#: than this many widest-class widths (centreline length plus the widest measured road
#: width) are dropped after bridging (60 m for 12 m roads):
#: the field edges, ditches and roof lines a model traces as lone dashes on real imagery. In
#: bench/bench_network.py (Massachusetts hold-out tiles, Vegas, six synthetic seeds) it never
#: lowered the mean APLS (README, Benchmarks); in a scratch sweep by length alone, 80 m
#: dropped a real road fragment on one Massachusetts tile.
DEFAULT_MIN_PIECE_WIDTHS = 5.0
#: Least share (0–1) of a line the network cleaning draws itself — a dead end's bridge onto a
#: road (:mod:`roadseg.vectorization.bridge_roads`), a road's end straightened out to the
#: raster's edge (:mod:`roadseg.vectorization.edge_ends`) — that must lie on road pixels of
#: the class raster: a line over a break where the mask thinned may cross a few background
#: pixels, one across a verge may not.
MIN_ROAD_SUPPORT = 0.8
#: What happens to the two sides of divided roads.
CARRIAGEWAYS = ("merge", "keep")


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
        margin_px: Margin read around each block (default: from the widest class and
            ``loop_extent_m``).
        loop_area_m2: Loops whose centreline encloses less than this are collapsed onto
            their medial line (0 disables).
        loop_width_m: Enclosed holes narrower than this are filled (0 disables).
        loop_extent_m: ...either when no longer than this.
        carriageways: ``merge`` the two sides of divided roads (and roads side by side
            closer than ``carriageway_gap_m``) into one centreline, or ``keep`` both.
        carriageway_gap_m: Widest median merged (default: the widest class width).
        stub_m: Dead ends at the raster's edge or nodata shorter than this, and inside
            the road they hang from, are cut.
        road_bridge_m: A dead end is joined to the road up to this far ahead of it (within
            ``bridge_angle_deg``) when the bridge lies on road pixels (0 disables).
        junction_m: Links between two junctions shorter than the roads' width, and than
            this, are contracted into one junction (0 disables).
        min_piece_m: Pieces of the network spanning less than this (centreline length plus
            the widest road's width), after bridging, are dropped unless they touch the
            raster's edge or nodata (default: 5 × the widest
            class width; 0 disables; pieces under ``prune_m`` go before bridging anyway).
        gsd: Pixel size in metres of a class raster without georeferencing.
        cleaning: False turns every cleaning step above off (the network as traced, pruned
            and bridged), whatever their values.
        overwrite: Replace existing outputs (else the run is refused before it starts).

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
    loop_area_m2: float = DEFAULT_LOOP_AREA_M2
    loop_width_m: float = DEFAULT_LOOP_WIDTH_M
    loop_extent_m: float = DEFAULT_LOOP_EXTENT_M
    carriageways: str = "keep"
    carriageway_gap_m: float | None = None
    stub_m: float = DEFAULT_STUB_M
    road_bridge_m: float = DEFAULT_ROAD_BRIDGE_M
    junction_m: float = DEFAULT_JUNCTION_M
    min_piece_m: float | None = None
    gsd: float | None = None
    cleaning: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.cleaning:
            for name, value in cleaning_params(False, loop_extent_m=self.loop_extent_m).items():
                object.__setattr__(self, name, value)
        names = (
            "simplify_m",
            "min_area_m2",
            "hole_area_m2",
            "prune_m",
            "bridge_m",
            "loop_area_m2",
            "loop_width_m",
            "loop_extent_m",
            "carriageway_gap_m",
            "stub_m",
            "road_bridge_m",
            "junction_m",
            "min_piece_m",
        )
        examples = {"simplify_m": 1, "min_area_m2": 20, "prune_m": 12, "bridge_m": 15}
        for name in names:
            v = getattr(self, name)
            if v is not None:
                check_range(name, v, 0, example=examples.get(name, 0))
        if self.carriageways not in CARRIAGEWAYS:
            raise ConfigError(
                f"`carriageways` must be one of {', '.join(CARRIAGEWAYS)}, "
                f"got {self.carriageways!r}",
                param="carriageways",
                value=self.carriageways,
                hint="e.g. `carriageways` keep",
            )
        check_range(
            "bridge_angle_deg",
            self.bridge_angle_deg,
            0,
            90,
            low_open=True,
            unit="degrees",
            example=30,
        )
        check_range("close_m", self.close_m, 0, unit="metres", example=0.5)
        check_range("block_size", self.block_size, 64, 65536, integer=True, example=4096)
        if self.margin_px is not None:
            check_range("margin_px", self.margin_px, 0, integer=True, example=64)
        if self.gsd is not None:
            check_range("gsd", self.gsd, 0, 10_000, low_open=True, unit="metres", example=0.5)

    def resolve(self, classes: Classes, gsd_m: float) -> Resolved:
        """Fill the defaults for a raster's classes and ground resolution (metres/pixel).

        >>> r = VectorizeOptions().resolve(Classes.untagged(1), 0.5)
        >>> r.prune_m, r.simplify_m, r.bridge_m, r.merge_gap_m, r.margin_px, r.min_piece_m
        (12.0, 1.0, 15.0, 0.0, 44, 30.0)
        >>> VectorizeOptions(carriageways="merge", loop_width_m=4, loop_extent_m=150).resolve(
        ...     Classes.untagged(1), 0.5).margin_px
        308
        """
        wmax = classes.max_width_m
        min_area = self.min_area_m2 if self.min_area_m2 is not None else 0.5 * wmax**2
        gap = self.carriageway_gap_m if self.carriageway_gap_m is not None else wmax
        if self.carriageways == "keep":
            gap = 0.0
        loop_width = self.loop_width_m
        margin = self.margin_px
        if margin is None:
            reach = max(3.0 * wmax, self.loop_extent_m if loop_width > 0 else 0.0, gap)
            margin = max(32, int(math.ceil(reach / gsd_m)) + 8)
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
            loop_area_m2=self.loop_area_m2,
            loop_width_m=loop_width,
            loop_extent_m=self.loop_extent_m,
            merge_gap_m=gap,
            stub_m=self.stub_m,
            road_bridge_m=self.road_bridge_m,
            junction_m=self.junction_m,
            min_piece_m=(
                self.min_piece_m
                if self.min_piece_m is not None
                else DEFAULT_MIN_PIECE_WIDTHS * wmax
            ),
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
    loop_area_m2: float = DEFAULT_LOOP_AREA_M2
    loop_width_m: float = DEFAULT_LOOP_WIDTH_M
    loop_extent_m: float = DEFAULT_LOOP_EXTENT_M
    merge_gap_m: float = 0.0
    stub_m: float = DEFAULT_STUB_M
    road_bridge_m: float = DEFAULT_ROAD_BRIDGE_M
    junction_m: float = DEFAULT_JUNCTION_M
    min_piece_m: float = 0.0

    @property
    def cleaning(self) -> dict[str, float]:
        """The network cleaning steps and their parameters (metres), for reports."""
        return {
            "merge_carriageways_gap_m": self.merge_gap_m,
            "collapse_loops_area_m2": self.loop_area_m2,
            "collapse_loops_width_m": self.loop_width_m,
            "collapse_loops_extent_m": self.loop_extent_m,
            "drop_stubs_m": self.stub_m,
            "bridge_ends_to_roads_m": self.road_bridge_m,
            "merge_junctions_m": self.junction_m,
            "drop_pieces_m": self.min_piece_m,
        }


def cleaning_params(enabled: bool = True, **given: Any) -> dict[str, Any]:
    """Keyword arguments of :class:`VectorizeOptions` for the cleaning steps.

    ``enabled=False`` turns every step off (the network as traced, pruned and bridged, its
    dead ends on the raster's edge straightened: that corrects the tracing's edge padding,
    :mod:`roadseg.vectorization.edge_ends`, and is not a cleaning step).

    >>> cleaning_params(False)["carriageways"], cleaning_params(False)["min_piece_m"]
    ('keep', 0.0)
    """
    if enabled:
        return given
    return {
        "loop_area_m2": 0.0,
        "loop_width_m": 0.0,
        "carriageways": "keep",
        "carriageway_gap_m": None,
        "stub_m": 0.0,
        "road_bridge_m": 0.0,
        "junction_m": 0.0,
        "min_piece_m": 0.0,
        "loop_extent_m": given.get("loop_extent_m", DEFAULT_LOOP_EXTENT_M),
    }
