"""Block-by-block extraction: class ids → centreline network and polygon pieces.

Works on any *class source* (an object with ``grid``, ``classes`` and
``read(window) -> uint8 class ids``), so ``vectorize`` runs on class raster
files and ``evaluate`` on rasterised truth alike. Memory is bounded by one block
plus the vectors found so far.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import shapely
from rasterio.windows import Window
from scipy import ndimage as ndi

from roadseg.geo.classes import Classes
from roadseg.geo.classraster import NODATA
from roadseg.geo.grid import Grid
from roadseg.progress import Reporter
from roadseg.vectorization.blocks import Block, block_layout
from roadseg.vectorization.clean_mask import collapse_loops, merge_carriageways
from roadseg.vectorization.frame import MetricFrame
from roadseg.vectorization.network import RoadNetwork
from roadseg.vectorization.params import Resolved
from roadseg.vectorization.pieces import BlockPieces
from roadseg.vectorization.pixelgraph import BlockPlace, trace_block
from roadseg.vectorization.polygons import PolygonCollector, polygon_pieces
from roadseg.vectorization.skeleton import (
    clean_mask,
    pad_past_edge,
    road_mask,
    skeleton,
    width_map,
)


class ClassSource(Protocol):
    """Anything that reads class ids window by window."""

    grid: Grid
    classes: Classes

    def read(self, window: Window) -> np.ndarray:
        """Class ids (uint8, H×W; 0 background, 255 nodata) in a window inside the raster."""
        ...


@dataclass
class ArraySource:
    """A class source over an in-memory array (tests, rasterised truth)."""

    array: np.ndarray
    grid: Grid
    classes: Classes

    def read(self, window: Window) -> np.ndarray:
        """Slice the array."""
        r, c = int(window.row_off), int(window.col_off)
        return self.array[r : r + int(window.height), c : c + int(window.width)]


@dataclass
class Extraction:
    """What the blocks produced.

    Attributes:
        network: The cleaned centreline network (metric frame).
        polygons: Polygons per class id (metric frame); empty when not asked for.
        histogram: Pixels per value 0..255 over the raster.
        cleanup: Counts of spurs pruned, specks removed, gaps bridged.
        timings: Seconds per step.

    """

    network: RoadNetwork
    polygons: dict[int, np.ndarray]
    histogram: np.ndarray
    cleanup: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BlockContext:
    """What every block of one raster's extraction shares.

    Attributes:
        grid: The raster's grid.
        params: Resolved settings.
        frame: The metric frame.
        num_classes: Classes (background included).
        n_blocks: Blocks over the raster (one: no seams).
        polygons: Also polygonise.

    """

    grid: Grid
    params: Resolved
    frame: MetricFrame
    num_classes: int
    n_blocks: int
    polygons: bool = True

    @property
    def hole_px(self) -> int:
        """Smallest hole kept, in pixels."""
        gsd = self.frame.gsd
        return int(self.params.hole_area_m2 / (gsd[0] * gsd[1]))


def blocks_of(grid: Grid, params: Resolved) -> list[Block]:
    """The blocks an extraction reads, in order."""
    return block_layout(grid.width, grid.height, params.block_size, params.margin_px)


def extract_block(source: ClassSource, blk: Block, ctx: BlockContext) -> BlockPieces:
    """Centreline edges and polygon pieces owned by one block (read with its margin)."""
    grid, params, frame = ctx.grid, ctx.params, ctx.frame
    gsd = frame.gsd
    t0 = time.perf_counter()
    cls = np.ascontiguousarray(source.read(blk.outer))
    t1 = time.perf_counter()
    r0, r1, c0, c1 = blk.local_core
    core = cls[r0:r1, c0:c1]
    out = BlockPieces(np.bincount(core.ravel(), minlength=256)[:256].astype(np.int64))
    out.timings["read"] = t1 - t0
    mask = road_mask(cls)
    if not mask.any():
        return out
    widest_px = int(np.ceil(frame.px(source.classes.max_width_m)))
    mask, skel, edge_px = _mask_and_skeleton(
        mask,
        cls == NODATA,
        blk.outer,
        grid,
        _MaskSteps(params, frame.mean_gsd, ctx.hole_px, widest_px, blk.local_core),
        out.counts,
    )
    widths = width_map(mask, gsd, at=skel)
    t2 = time.perf_counter()
    place = BlockPlace(
        int(blk.outer.row_off),
        int(blk.outer.col_off),
        grid.width,
        blk.local_core,
        None if ctx.n_blocks == 1 else params.block_size,
    )
    out.edges = trace_block(skel, cls, widths, place, gsd, ctx.num_classes, edge_px)
    t3 = time.perf_counter()
    if ctx.polygons:
        out.done, out.seam = polygon_pieces(core, blk.row0, blk.col0, gsd, grid.shape)
    t4 = time.perf_counter()
    out.timings.update(skeleton=t2 - t1, graph=t3 - t2, polygons=t4 - t3)
    return out


class MaskSupport:
    """The share of a line (metric frame) on road pixels of a class source: bridges' support.

    Points every half pixel along the line are looked up in the class raster (outside it:
    not road). The class raster is the model's road probability thresholded at its
    calibrated threshold, so this is the share of the line where the road probability
    reaches it.
    """

    def __init__(self, source: ClassSource, gsd: tuple[float, float]) -> None:
        self.source = source
        self.gsd = gsd

    def __call__(self, coords: np.ndarray) -> float:
        """Share (0–1) of the line through ``coords`` (metric frame) on road pixels."""
        line = shapely.LineString(coords)
        gx, gy = self.gsd
        n = max(2, int(np.ceil(line.length / (0.5 * min(gx, gy)))) + 1)
        pts = shapely.get_coordinates(
            shapely.line_interpolate_point(line, np.linspace(0.0, 1.0, n), normalized=True)
        )
        col = np.floor(pts[:, 0] / gx).astype(np.int64)
        row = np.floor(pts[:, 1] / gy).astype(np.int64)
        g = self.source.grid
        inside = (col >= 0) & (row >= 0) & (col < g.width) & (row < g.height)
        if not inside.any():
            return 0.0
        c0, c1 = int(col[inside].min()), int(col[inside].max()) + 1
        r0, r1 = int(row[inside].min()), int(row[inside].max()) + 1
        cls = self.source.read(Window(c0, r0, c1 - c0, r1 - r0))
        road = road_mask(cls)[row[inside] - r0, col[inside] - c0]
        return float(road.sum()) / n


def merge_pieces(
    pieces: Iterable[BlockPieces], ctx: BlockContext, support: MaskSupport | None = None
) -> Extraction:
    """Join the blocks' pieces (in block order), then clean the network and finish the polygons.

    ``support`` (reading the class raster) lets the cleaning bridge dead ends onto roads.
    """
    grid, params, gsd = ctx.grid, ctx.params, ctx.frame.gsd
    tol = 1.5 * max(gsd)
    net = RoadNetwork(ctx.num_classes, (grid.width * gsd[0], grid.height * gsd[1], tol))
    coll = PolygonCollector(gsd, grid.shape)
    hist = np.zeros(256, dtype=np.int64)
    t = {"read": 0.0, "skeleton": 0.0, "graph": 0.0, "polygons": 0.0}
    counts = {"carriageways_merged": 0, "loops_filled": 0}
    for piece in pieces:
        hist += piece.histogram
        for k, v in piece.counts.items():
            counts[k] += v
        for k, s in piece.timings.items():
            t[k] += s
        if piece.edges is not None:
            net.add(piece.edges)
            coll.add_pieces(piece.done, piece.seam)
    t0 = time.perf_counter()
    cleanup = net.clean(params, support)
    cleanup["carriageways_merged"] = counts["carriageways_merged"]
    cleanup["loops_collapsed"] += counts["loops_filled"]
    t1 = time.perf_counter()
    polys = (
        coll.finish(params.simplify_m, params.min_area_m2, params.hole_area_m2)
        if ctx.polygons
        else {}
    )
    t["clean"] = t1 - t0
    t["polygons"] += time.perf_counter() - t1
    return Extraction(net, polys, hist, cleanup, {k: round(v, 4) for k, v in t.items()})


def extract(
    source: ClassSource,
    params: Resolved,
    frame: MetricFrame,
    num_classes: int,
    reporter: Reporter,
    polygons: bool = True,
) -> Extraction:
    """Run the block loop, then clean the network and finish the polygons."""
    blocks = blocks_of(source.grid, params)
    ctx = BlockContext(source.grid, params, frame, num_classes, len(blocks), polygons)

    def pieces() -> Iterator[BlockPieces]:
        for i, blk in enumerate(blocks):
            reporter.update("vectorize", i, len(blocks), f"block {i + 1}/{len(blocks)}")
            yield extract_block(source, blk, ctx)
        reporter.update("vectorize", len(blocks), len(blocks), "cleaning the network")

    return merge_pieces(pieces(), ctx, MaskSupport(source, frame.gsd))


@dataclass(frozen=True)
class _MaskSteps:
    """The mask cleaning of one block: settings in pixels and the block's core.

    ``widest_px`` is the widest class's road width (pixels, rounded up).
    """

    params: Resolved
    gsd: float
    hole_px: int
    widest_px: int
    core: tuple[int, int, int, int]

    @property
    def pad(self) -> int:
        """Pixels roads are carried past the data's edge: the widest road and two more."""
        return self.widest_px + 2


def _mask_and_skeleton(
    mask: np.ndarray,
    nodata: np.ndarray,
    outer: Window,
    grid: Grid,
    steps: _MaskSteps,
    counts: dict[str, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Clean and skeletonise a block's road mask.

    Roads leaving the data — over the raster's own edges or into nodata — are
    first extended outwards by ``pad`` pixels (the nearest valid value repeated; not for roads
    running along the raster's edge: :func:`~roadseg.vectorization.skeleton.pad_past_edge`), so their centreline reaches the edge instead of stopping
    half a road width short; the skeleton is then cut back to the valid pixels. Before skeletonising,
    the mask cleaning steps run (:mod:`roadseg.vectorization.clean_mask`: merge
    carriageways, collapse loops); their counts (holes first seen in the core) are
    added to ``counts``.

    Returns:
        The (extended) cleaned mask, the skeleton on valid pixels, and the valid
        pixels touching nodata (None when the block has no nodata).

    """
    p, pad = steps.params, steps.pad
    edge_px = None
    if nodata.any() and not nodata.all():
        dist, (iy, ix) = ndi.distance_transform_edt(nodata, return_indices=True)
        mask = mask | (nodata & mask[iy, ix] & (dist <= pad))
        edge_px = ndi.binary_dilation(nodata, structure=np.ones((3, 3), bool)) & ~nodata
    r0, c0 = int(outer.row_off), int(outer.col_off)
    h, w = mask.shape
    pads = (
        (pad if r0 == 0 else 0, pad if r0 + h == grid.height else 0),
        (pad if c0 == 0 else 0, pad if c0 + w == grid.width else 0),
    )
    big = pad_past_edge(mask, pads, steps.widest_px)
    big = clean_mask(big, p.close_px, steps.hole_px)
    r0c, r1c, c0c, c1c = steps.core
    core = (slice(r0c + pads[0][0], r1c + pads[0][0]), slice(c0c + pads[1][0], c1c + pads[1][0]))
    if p.merge_gap_m > 0:
        big, n = merge_carriageways(big, p.merge_gap_m / steps.gsd, core)
        counts["carriageways_merged"] += n
    if p.loop_width_m > 0:
        invalid = np.pad(nodata, pads) if nodata.any() else None
        width, extent = p.loop_width_m / steps.gsd, p.loop_extent_m / steps.gsd
        big, n = collapse_loops(big, invalid, 0.0, width, extent, core)
        counts["loops_filled"] += n
    sk = skeleton(big)
    crop = (slice(pads[0][0], pads[0][0] + h), slice(pads[1][0], pads[1][0] + w))
    return big[crop], sk[crop] & ~nodata, edge_px
