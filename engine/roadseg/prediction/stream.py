"""The streaming sliding-window predictor: a raster, or any rectangle of it, in bounded memory.

Memory is bounded by the tile, never by the raster, in both directions:

* the output is cut into panels of at most :data:`~roadseg.prediction.tiles2d.PANEL_COLUMNS`
  columns (all rows; a blocked run streams each block the same way), each planned
  by :func:`~roadseg.prediction.tiles2d.plan_region`: the tiles of the whole raster's
  layout that touch it, with the whole raster's weights and taps, so the output does
  not depend on the cut (tiles on a panel border run once per panel);
* a panel is processed one row of tiles at a time: a float32 accumulator of ``tile``
  rows × the panel's working width holds the blended probability sums (the weights are
  separable, so their sum is an outer product of two 1-D sums: no per-pixel weight array);
* when a row of tiles is done, the rows above the next one are final: they are
  normalised, resampled to the output grid (probabilities, then the class decision) in column
  chunks by :class:`~roadseg.prediction.finish.RegionFinisher` and handed to the sink;
  the accumulator shifts up;
* a background thread reads the next groups of tiles (one batch each) while the
  network runs, through a bounded queue of futures (:data:`PREFETCH_DEPTH`).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from roadseg.geo.grid import Grid
from roadseg.geo.raster import RasterSource, open_dataset
from roadseg.prediction import tiles2d
from roadseg.prediction.confidence import Confidence
from roadseg.prediction.extent import Extent
from roadseg.prediction.fill import fill_mask, fill_size_px, pure_pixels
from roadseg.prediction.finish import RegionFinisher
from roadseg.prediction.job import RasterJob
from roadseg.prediction.network import TilePredictor
from roadseg.prediction.tiles2d import Region, RegionPlan, Span, plan_region
from roadseg.prediction.tiles2d import weight_sums_over as _sums
from roadseg.prediction.tiling import TileLayout, axis_weights

#: Groups of tiles read ahead of the network.
PREFETCH_DEPTH = 2

#: Skip the network on tiles whose every output pixel is undeclared fill (nodata anyway).
SKIP_FILL_TILES = True

#: GDAL's block cache while predicting (bytes), unless the user sets ``GDAL_CACHEMAX``.
#: Streaming reads each input block about once (one row of tiles of a 4096-column panel of a
#: 3-band uint8 raster is ~10 MiB of 256² blocks) and writes each output block once, complete,
#: so a larger cache reads no less: it only fills up on rasters with more blocks (at 64 MiB, a
#: 2 000 × 20 000 raster's peak memory was 31 MiB above a 2 000 × 2 000 one's, whose blocks
#: fill 33 MiB; ``bench/bench_scale.py --gdal-cache``).
GDAL_CACHE_BYTES = 16 * 2**20


def gdal_env() -> rasterio.Env:
    """The GDAL settings prediction runs in: a block cache bounded by the panel, not the raster.

    A ``GDAL_CACHEMAX`` set in the environment is kept (GDAL reads it itself).
    """
    if "GDAL_CACHEMAX" in os.environ:
        return rasterio.Env()
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)


class RowSink(Protocol):
    """Receives finished output rows of a rectangle, panel by panel (left to right)."""

    def push(
        self,
        first_row: int,
        classes: np.ndarray,
        proba: np.ndarray | None,
        valid: np.ndarray,
        col0: int = 0,
    ) -> None:
        """Rows ``first_row..`` of the panel starting at column ``col0`` of the sink."""
        ...


@dataclass(frozen=True)
class Group:
    """One batch of tiles in one row of tiles.

    Attributes:
        row: Index of the row of tiles (into ``layout.ys``).
        cols: Indexes into ``layout.xs`` of the tiles in the batch.
        last_in_row: The last group of its row (for this region).

    """

    row: int
    cols: tuple[int, ...]
    last_in_row: bool


@dataclass(frozen=True)
class Batch:
    """Tiles read for a group.

    Attributes:
        tiles: float32 (n, C, tile_h, tile_w), reflect-padded at the grid border.
        keep: bool (n,): tiles with at least one valid pixel (the others are skipped).

    """

    tiles: np.ndarray
    keep: np.ndarray


@dataclass(frozen=True)
class Streaming:
    """How to stream: the model's classes and threshold, batches, outputs, panel width.

    Attributes:
        num_classes: Channels of the probabilities.
        batch_size: Tiles per network call.
        road_threshold: Road where the road classes' summed probability reaches this.
        probabilities: Also pass uint8 probabilities to the sink.
        panel: Output columns per panel (default
            :data:`~roadseg.prediction.tiles2d.PANEL_COLUMNS`).
        detect_fill: Treat undeclared black/white fill as nodata (:mod:`~roadseg.prediction.fill`)
            when the raster declares no nodata, alpha or mask.

    """

    num_classes: int
    batch_size: int
    road_threshold: float = 0.5
    probabilities: bool = False
    panel: int | None = None
    detect_fill: bool = False

    @property
    def panel_columns(self) -> int:
        """The panel width in use."""
        return self.panel if self.panel is not None else tiles2d.PANEL_COLUMNS


@dataclass(frozen=True)
class StreamStats:
    """What one raster's (or region's) prediction did.

    Attributes:
        tiles: Tiles of the layout over the predicted area (each counted once).
        tiles_run: Tiles run through the network (without valid pixels they are skipped;
            tiles on panel borders run once per panel).
        seconds: Wall time.
        max_acc_cols: Widest accumulator used (working columns).
        fill_pixels: Output pixels taken as undeclared no-data fill (nodata in the outputs).
        confidence: How sure the model was of the valid pixels' roads
            (:mod:`~roadseg.prediction.confidence`).

    """

    tiles: int
    tiles_run: int
    seconds: float
    max_acc_cols: int = 0
    fill_pixels: int = 0
    confidence: Confidence = Confidence()


def weight_sums(starts: tuple[int, ...], weights: np.ndarray, length: int) -> np.ndarray:
    """Sum of the tiles' blending weights along one axis (the normaliser, ~1 everywhere).

    Weights are separable, so the 2-D sum is the outer product of the two axes' sums:
    no per-pixel weight accumulator is needed.

    >>> from roadseg.prediction.tiling import axis_starts, axis_weights
    >>> s = axis_starts(500, 128, 32)
    >>> bool(np.allclose(weight_sums(s, axis_weights(s, 128), 500), 1, atol=0.01))
    True
    """
    return _sums(starts, weights, 0, length, Span(0, length))


def row_sums(layout: TileLayout, rows: Span) -> np.ndarray:
    """Sums of the blending weights of working ``rows`` (the whole raster's, for a few rows)."""
    ts = tiles2d.tiles_touching(layout.ys, layout.tile_h, layout.height, rows)
    w = axis_weights(layout.ys, layout.tile_h, first=ts.start, stop=ts.stop)
    return _sums(layout.ys, w, ts.start, layout.height, rows)


def plan_groups(plan: RegionPlan, batch_size: int) -> Iterator[Group]:
    """Batches of up to ``batch_size`` tiles of a region, row of tiles by row of tiles.

    >>> from roadseg.prediction.tiles2d import Region
    >>> lay = TileLayout.build(600, 600, 256, 64)
    >>> p = plan_region(lay, (600, 600), (1.0, 1.0), Region.of(0, 0, 600, 600))
    >>> [(g.row, g.cols, g.last_in_row) for g in plan_groups(p, 2)][:3]
    [(0, (0, 1), False), (0, (2,), True), (1, (0, 1), False)]
    """
    cols = plan.tile_cols
    for i in plan.tile_rows:
        for j in range(cols.start, cols.stop, batch_size):
            group = tuple(range(j, min(cols.stop, j + batch_size)))
            yield Group(i, group, group[-1] == cols.stop - 1)


def read_group(
    src: RasterSource,
    work: Grid,
    layout: TileLayout,
    group: Group,
    extent: Extent | None,
    resampling: str = "bilinear",
    fill_tiles: FillTiles | None = None,
) -> Batch:
    """Read the tiles of a group from the raster, resampled to the working grid.

    A tile every output pixel of which is undeclared fill (``fill_tiles``) is not kept: it
    would only change pixels that are nodata in every output.
    """
    r0 = layout.ys[group.row]
    r1 = min(layout.height, r0 + layout.tile_h)
    xs = [layout.xs[j] for j in group.cols]
    c0, c1 = xs[0], min(layout.width, xs[-1] + layout.tile_w)
    win = work.window_grid(Window(c0, r0, c1 - c0, r1 - r0))
    rw = src.read_grid(win, resampling)  # type: ignore[arg-type]
    data, valid = rw.data, rw.valid
    if extent is not None and extent.geoms is not None:
        inside = extent.mask(win)
        if inside is not None:
            valid = valid & inside
    th, tw = layout.tile_h, layout.tile_w
    tiles = np.empty((len(xs), data.shape[0], th, tw), dtype=np.float32)
    keep = np.empty(len(xs), dtype=bool)
    for i, x in enumerate(xs):
        sub = data[:, :, x - c0 : x - c0 + tw]
        keep[i] = bool(valid[:, x - c0 : x - c0 + tw].any())
        if keep[i] and fill_tiles is not None:
            keep[i] = not fill_tiles.all_fill((r0, r1), (x, min(layout.width, x + tw)))
        ph, pw = th - sub.shape[1], tw - sub.shape[2]
        if ph or pw:
            sub = np.pad(
                sub,
                ((0, 0), (0, ph), (0, pw)),
                mode="reflect" if min(sub.shape[1:]) > 1 else "edge",
            )
        tiles[i] = sub
    return Batch(tiles, keep)


def job_scale(job: RasterJob) -> tuple[float, float]:
    """Working pixel size in output pixels (rows, columns), exactly as the grids define them."""
    work, out = job.work, job.out_grid
    return (work.transform.e / out.transform.e, work.transform.a / out.transform.a)


def whole_region(job: RasterJob) -> Region:
    """The job's whole output grid as a region."""
    return Region.of(0, 0, job.out_grid.height, job.out_grid.width)


def region_tiles(job: RasterJob, region: Region, panel: int | None = None) -> int:
    """Tiles :func:`predict_region` runs for a region (progress totals)."""
    scale = job_scale(job)
    panel = panel if panel is not None else tiles2d.PANEL_COLUMNS
    return sum(
        plan_region(job.layout, job.out_grid.shape, scale, p).n_tiles for p in region.panels(panel)
    )


def predict_region(
    job: RasterJob,
    predictor: TilePredictor,
    region: Region,
    sink: RowSink,
    how: Streaming,
    on_tiles: Callable[[int], None],
) -> StreamStats:
    """Predict a rectangle of a job's output grid into ``sink``, panel by panel.

    Args:
        job: The raster, its output grid (the input grid, or its window for a ``bbox``),
            working grid, extent and tile layout.
        predictor: Runs the network.
        region: The output pixels to predict; rows reach the sink relative to it.
        sink: Receives finished rows (panels left to right, each top to bottom).
        how: Classes, batch size, threshold, probabilities, panel width.
        on_tiles: Called with the number of tiles done after each batch (progress and
            cancel: it may raise to stop).

    """
    t0 = time.perf_counter()
    tiles_run = 0
    acc_cols = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        # a second handle (reads run in another thread), opened as the source was: GDAL
        # paths as GDAL reads them, a rotated raster through its north-up view
        _, mask_ds = open_dataset(job.src.path)
    with ExitStack() as stack:
        stack.enter_context(mask_ds)
        ext = job.extent.window
        fill_px = _fill_size(job, mask_ds) if how.detect_fill else 0
        filled = [0]
        sure = [Confidence()]
        fill_tiles = None
        if fill_px and SKIP_FILL_TILES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                _, tiles_ds = open_dataset(job.src.path)  # for the reading thread alone
            stack.enter_context(tiles_ds)
            fill_tiles = FillTiles(
                tiles_ds,
                job.src.bands,
                fill_px,
                job_scale(job),
                (int(ext.row_off), int(ext.col_off)),
                job.out_grid.shape,
                (job.layout.height, job.layout.width),
            )

        def read_valid(rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
            win = Window(
                ext.col_off + cols[0], ext.row_off + rows[0], cols[1] - cols[0], rows[1] - rows[0]
            )
            valid = mask_ds.dataset_mask(window=win) > 0
            if fill_px:
                fill = _read_fill(mask_ds, job.src.bands, win, fill_px)
                filled[0] += int(np.count_nonzero(fill & valid))
                valid &= ~fill
            inside = job.extent.mask(
                job.out_grid.window_grid(
                    Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
                )
            )
            return valid & inside if inside is not None else valid

        scale = job_scale(job)
        for part in region.panels(how.panel_columns):
            plan = plan_region(job.layout, job.out_grid.shape, scale, part)
            dr = part.rows.start - region.rows.start
            dc = part.cols.start - region.cols.start

            def emit(
                first: int,
                classes: np.ndarray,
                proba: np.ndarray | None,
                road: np.ndarray,
                dr: int = dr,
                dc: int = dc,
                part: Region = part,
            ) -> None:
                r0 = part.rows.start + first
                valid = read_valid((r0, r0 + classes.shape[0]), (part.cols.start, part.cols.stop))
                sure[0] += Confidence.count(road, valid)
                sink.push(dr + first, classes, proba, valid, dc)

            tiles_run += stream_plan(job, predictor, plan, emit, how, on_tiles, fill_tiles)
            acc_cols = max(acc_cols, plan.work_cols.size)
    whole = plan_region(job.layout, job.out_grid.shape, scale, region)
    return StreamStats(
        tiles=whole.n_tiles,
        tiles_run=tiles_run,
        seconds=time.perf_counter() - t0,
        max_acc_cols=acc_cols,
        fill_pixels=filled[0],
        confidence=sure[0],
    )


def _fill_size(job: RasterJob, ds: rasterio.io.DatasetReader) -> int:
    """The fill square in output pixels, or 0 when the raster declares its own nodata/mask."""
    flags = [ds.mask_flag_enums[b - 1] for b in job.src.bands]
    if any(f != [MaskFlags.all_valid] for f in flags):
        return 0  # nodata, alpha or a mask declared: the user's word stands
    if not np.issubdtype(np.dtype(ds.dtypes[job.src.bands[0] - 1]), np.integer):
        return 0
    gx, gy = job.out_grid.gsd_m()
    return fill_size_px((gx + gy) / 2.0)


def _read_fill(
    ds: rasterio.io.DatasetReader, bands: tuple[int, ...], win: Window, size: int
) -> np.ndarray:
    """Fill pixels of ``win`` (read with a margin of ``size``, so every strip decides alike).

    Fill is made of pure pixels: a strip without any is done after reading it once; else
    it is read again with the margin. Bands are read one at a time (memory: one band).
    """
    own = pure_pixels(ds.read(b, window=win) for b in bands)
    if not own.any():
        return own
    c0, r0 = int(win.col_off), int(win.row_off)
    c1, r1 = c0 + int(win.width), r0 + int(win.height)
    a0, b0 = max(0, r0 - size), max(0, c0 - size)
    a1, b1 = min(ds.height, r1 + size), min(ds.width, c1 + size)
    big = Window(b0, a0, b1 - b0, a1 - a0)
    pure = pure_pixels(ds.read(b, window=big) for b in bands)
    return fill_mask(pure, size)[r0 - a0 : r1 - a0, c0 - b0 : c1 - b0]


@dataclass(frozen=True)
class FillTiles:
    """Tells whether a working tile touches only undeclared fill (:mod:`~roadseg.prediction.fill`).

    The output pixels whose values depend on a tile are those whose resampling taps
    (:func:`~roadseg.prediction.resample.axis_taps`: a triangle of ``max(1, 1/scale)``
    working pixels) reach it, plus one pixel each side. When all of them are fill they
    are nodata in every output, so the tile need not run: the outputs are the same bytes.
    Used by the reading thread only (``ds`` is its own handle).

    Attributes:
        ds: The raster.
        bands: Its bands in use.
        size_px: The fill square (output pixels).
        scale: Working pixel size in output pixels (rows, columns).
        origin: Raster pixel (row, column) of output pixel (0, 0).
        out_shape: Output grid (rows, columns).
        work_shape: Working grid (rows, columns).

    """

    ds: rasterio.io.DatasetReader
    bands: tuple[int, ...]
    size_px: int
    scale: tuple[float, float]
    origin: tuple[int, int]
    out_shape: tuple[int, int]
    work_shape: tuple[int, int]

    def all_fill(self, rows: tuple[int, int], cols: tuple[int, int]) -> bool:
        """Whether every output pixel that working ``rows`` × ``cols`` reach is fill."""
        a0, a1 = _reached(rows, self.scale[0], self.out_shape[0], self.work_shape[0])
        b0, b1 = _reached(cols, self.scale[1], self.out_shape[1], self.work_shape[1])
        win = Window(self.origin[1] + b0, self.origin[0] + a0, b1 - b0, a1 - a0)
        first = self.ds.read(self.bands[0], window=win)  # cheap refusal: one band
        pure = first == 0
        if first.dtype == np.uint8:
            pure |= first == 255
        if not pure.all():
            return False
        return bool(_read_fill(self.ds, self.bands, win, self.size_px).all())


def _reached(span: tuple[int, int], scale: float, n_out: int, n_work: int) -> tuple[int, int]:
    """Output pixels whose taps reach working pixels ``span`` (with one pixel each side).

    Output pixel ``o`` has its centre at working coordinate ``c = (o + 0.5) / scale - 0.5``
    and reaches the working pixels less than ``r = max(1, 1/scale)`` from it: ``o``
    reaches ``[w0, w1)`` when ``w0 - r < c < w1 - 1 + r``. At the grid's ends the taps
    are clamped, so a span there reaches every output pixel up to that end.

    >>> _reached((256, 512), 1.0, 1000, 1000), _reached((0, 256), 0.5, 600, 1200)
    ((255, 513), (0, 130))
    """
    w0, w1 = span
    radius = max(1.0, 1.0 / scale)
    o0 = 0 if w0 <= 0 else max(0, math.floor((w0 - radius + 0.5) * scale - 0.5))
    o1 = n_out if w1 >= n_work else min(n_out, math.ceil((w1 - 1 + radius + 0.5) * scale - 0.5) + 1)
    return o0, max(o0, o1)


def stream_plan(
    job: RasterJob,
    predictor: TilePredictor,
    plan: RegionPlan,
    emit: Callable[[int, np.ndarray, np.ndarray | None, np.ndarray], None],
    how: Streaming,
    on_tiles: Callable[[int], None],
    fill_tiles: FillTiles | None = None,
) -> int:
    """Stream one planned region: ``emit(first_row, classes, proba, road)`` for its finished rows.

    ``fill_tiles`` skips the tiles made only of undeclared fill. Returns the number of tiles
    run through the network.
    """
    src, work, layout, resampling = job.src, job.work, job.layout, job.resampling
    th = layout.tile_h
    i0, j0 = plan.tile_rows.start, plan.tile_cols.start
    wx = axis_weights(layout.xs, layout.tile_w, first=j0, stop=plan.tile_cols.stop)
    wr, wc = plan.work_rows, plan.work_cols
    finisher = RegionFinisher(
        plan,
        _sums(layout.xs, wx, j0, layout.width, wc),
        how.probabilities,
        road_threshold=how.road_threshold,
    )
    acc = np.zeros((how.num_classes, th, wc.size), dtype=np.float32)
    base = layout.ys[i0]  # working row held in acc[:, 0]
    done = base  # working rows above this are final (or not needed)
    tiles_run = 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roadseg-read")
    pending: deque[tuple[Group, Future[Batch]]] = deque()
    groups = plan_groups(plan, how.batch_size)
    geo_extent = job.extent if job.extent.geoms is not None else None

    def fill() -> None:
        while len(pending) < PREFETCH_DEPTH:
            g = next(groups, None)
            if g is None:
                return
            pending.append(
                (
                    g,
                    pool.submit(
                        read_group, src, work, layout, g, geo_extent, resampling, fill_tiles
                    ),
                )
            )

    try:
        fill()
        while pending:
            group, fut = pending.popleft()
            fill()
            batch = fut.result()
            y = layout.ys[group.row]
            if y != base:
                shift = min(th, y - base)
                acc[:, : th - shift] = acc[:, shift:]
                acc[:, th - shift :] = 0.0
                base = y
            if batch.keep.any():
                probs = predictor(batch.tiles[batch.keep])
                tiles_run += int(batch.keep.sum())
                r_n = min(th, layout.height - y)
                wrow = axis_weights(layout.ys, th, first=group.row, stop=group.row + 1)[0, :r_n]
                for p, j in zip(probs, np.flatnonzero(batch.keep), strict=True):
                    col = group.cols[j]
                    x = layout.xs[col]
                    # The tile's columns inside the region's working columns.
                    a, b = max(x, wc.start), min(x + layout.tile_w, layout.width, wc.stop)
                    w2 = wrow[:, None] * wx[col - j0][None, a - x : b - x]
                    pv = p[:, :r_n, a - x : b - x]
                    pv *= w2  # in place: the network's output is ours
                    acc[:, :r_n, a - wc.start : b - wc.start] += pv
            on_tiles(len(group.cols))
            if group.last_in_row:
                nxt = group.row + 1
                final_end = layout.ys[nxt] if nxt < len(layout.ys) else layout.height
                f0, f1 = max(done, wr.start), min(final_end, wr.stop)
                done = final_end
                if f1 > f0:
                    norm = row_sums(layout, Span(f0, f1))
                    first, classes, proba, road = finisher.push(
                        acc, f0 - base, f1 - base, norm, f1 == wr.stop
                    )
                    if classes.shape[0]:
                        emit(first, classes, proba, road)
    finally:
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
    return tiles_run
