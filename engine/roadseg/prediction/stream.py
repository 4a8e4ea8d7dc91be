"""The streaming sliding-window predictor for one raster.

Memory is bounded by the tile and one band of rows, never by the raster:

* the working grid (the output window at the model's resolution) is covered by a
  :class:`~roadseg.prediction.tiling.TileLayout` and processed one row of tiles at a time
  (:func:`~roadseg.prediction.tiling.plan_strips`);
* a float32 accumulator of ``tile`` rows × the working width holds the blended
  probability sums of the current row of tiles (the weights are separable, so
  their sum is an outer product of two 1-D sums: no per-pixel weight array);
* when a row of tiles is done, the rows above the next one are final: they are
  normalised, resampled to the output grid (probabilities, then the class decision) in column
  chunks by :class:`~roadseg.prediction.resample.StripFinisher` and handed to the
  :class:`~roadseg.prediction.outputs.PredictionSink`; the accumulator shifts up;
* a background thread reads the next groups of tiles (one batch each) while the
  network runs, through a bounded queue of futures (:data:`PREFETCH_DEPTH`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from roadseg.geo.grid import Grid
from roadseg.geo.raster import RasterSource
from roadseg.prediction.extent import Extent
from roadseg.prediction.job import RasterJob
from roadseg.prediction.network import TilePredictor
from roadseg.prediction.outputs import PredictionSink
from roadseg.prediction.resample import StripFinisher
from roadseg.prediction.tiling import StripStep, TileLayout, plan_strips

#: Groups of tiles read ahead of the network.
PREFETCH_DEPTH = 2


@dataclass(frozen=True)
class Group:
    """One batch of tiles in one row of tiles.

    Attributes:
        step: The row of tiles.
        cols: Indexes into ``layout.xs`` of the tiles in the batch.
        last_in_step: The last group of its row.

    """

    step: StripStep
    cols: tuple[int, ...]
    last_in_step: bool


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
class StreamStats:
    """What one raster's prediction did.

    Attributes:
        tiles: Tiles in the layout.
        tiles_run: Tiles run through the network (the others had no valid pixel).
        seconds: Wall time.
        max_acc_rows: Largest accumulator height used (rows of the working grid).

    """

    tiles: int
    tiles_run: int
    seconds: float
    max_acc_rows: int


def weight_sums(starts: tuple[int, ...], weights: np.ndarray, length: int) -> np.ndarray:
    """Sum of the tiles' blending weights along one axis (the normaliser, ~1 everywhere).

    Weights are separable, so the 2-D sum is the outer product of the two axes' sums:
    no per-pixel weight accumulator is needed.

    >>> from roadseg.prediction.tiling import axis_starts, axis_weights
    >>> s = axis_starts(500, 128, 32)
    >>> bool(np.allclose(weight_sums(s, axis_weights(s, 128), 500), 1, atol=0.01))
    True
    """
    total = np.zeros(length, dtype=np.float64)
    for s, w in zip(starts, weights, strict=True):
        n = min(len(w), length - s)
        total[s : s + n] += w[:n]
    return total


def plan_groups(layout: TileLayout, batch_size: int) -> Iterator[Group]:
    """Batches of up to ``batch_size`` tiles, row of tiles by row of tiles.

    >>> lay = TileLayout.build(600, 600, 256, 64)
    >>> [(g.step.index, g.cols, g.last_in_step) for g in plan_groups(lay, 2)][:3]
    [(0, (0, 1), False), (0, (2,), True), (1, (0, 1), False)]
    """
    n = len(layout.xs)
    for step in plan_strips(layout):
        for j in range(0, n, batch_size):
            cols = tuple(range(j, min(n, j + batch_size)))
            yield Group(step, cols, cols[-1] == n - 1)


def read_group(
    src: RasterSource,
    work: Grid,
    layout: TileLayout,
    group: Group,
    extent: Extent | None,
    resampling: str = "bilinear",
) -> Batch:
    """Read the tiles of a group from the raster, resampled to the working grid."""
    r0, r1 = group.step.rows
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
        ph, pw = th - sub.shape[1], tw - sub.shape[2]
        if ph or pw:
            sub = np.pad(
                sub,
                ((0, 0), (0, ph), (0, pw)),
                mode="reflect" if min(sub.shape[1:]) > 1 else "edge",
            )
        tiles[i] = sub
    return Batch(tiles, keep)


def stream_predict(
    job: RasterJob,
    predictor: TilePredictor,
    sink: PredictionSink,
    *,
    num_classes: int,
    batch_size: int,
    read_valid: Callable[[Window], np.ndarray],
    on_tiles: Callable[[int], None],
    road_threshold: float = 0.5,
) -> StreamStats:
    """Predict a job's output grid (a window of its raster) through its working grid.

    Args:
        job: The raster (read only from the prefetch thread), its output grid (the
            input grid, or its window for a ``bbox``), the working grid (the output
            grid at the model's resolution), the extent, the tiles over the working
            grid and how imagery is resampled into it.
        predictor: Runs the network.
        sink: Receives finished output rows.
        num_classes: Channels of the probabilities.
        batch_size: Tiles per network call.
        read_valid: Returns the input's validity (H, W) for a window of the input grid.
        on_tiles: Called with the number of tiles done after each batch (progress and
            cancel: it may raise to stop).
        road_threshold: Road where the road classes' summed probability reaches this.

    """
    src, out_grid, work, extent = job.src, job.out_grid, job.work, job.extent
    layout, resampling = job.layout, job.resampling
    t0 = time.perf_counter()
    wy, wx = layout.weights()
    th, width = layout.tile_h, layout.width
    acc = np.zeros((num_classes, th, width), dtype=np.float32)
    base = 0  # working row held in acc[:, 0]
    # Working pixel size in output pixels, exactly as the grids define them.
    scale = (work.transform.e / out_grid.transform.e, work.transform.a / out_grid.transform.a)
    finisher = StripFinisher(
        out_grid.shape,
        work.shape,
        scale,
        weight_sums(layout.ys, wy, layout.height),
        weight_sums(layout.xs, wx, layout.width),
        sink.proba is not None,
        road_threshold=road_threshold,
    )
    tiles_run = 0
    max_acc = 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roadseg-read")
    pending: deque[tuple[Group, Future[Batch]]] = deque()
    groups = plan_groups(layout, batch_size)
    geo_extent = extent if extent.geoms is not None else None

    def fill() -> None:
        while len(pending) < PREFETCH_DEPTH:
            g = next(groups, None)
            if g is None:
                return
            pending.append(
                (g, pool.submit(read_group, src, work, layout, g, geo_extent, resampling))
            )

    try:
        fill()
        while pending:
            group, fut = pending.popleft()
            fill()
            batch = fut.result()
            step = group.step
            if step.acc_rows[0] != base:
                shift = step.acc_rows[0] - base
                acc[:, : th - shift] = acc[:, shift:]
                acc[:, th - shift :] = 0.0
                base = step.acc_rows[0]
            max_acc = max(max_acc, step.acc_height)
            if batch.keep.any():
                probs = predictor(batch.tiles[batch.keep])
                tiles_run += int(batch.keep.sum())
                r_n = step.rows[1] - step.rows[0]
                wrow = wy[step.index][:r_n]
                o = step.rows[0] - base
                for p, j in zip(probs, np.flatnonzero(batch.keep), strict=True):
                    col = group.cols[j]
                    x = layout.xs[col]
                    c_n = min(layout.tile_w, width - x)
                    w2 = wrow[:, None] * wx[col][None, :c_n]
                    pv = p[:, :r_n, :c_n]
                    pv *= w2  # in place: the network's output is ours
                    acc[:, o : o + r_n, x : x + c_n] += pv
            on_tiles(len(group.cols))
            if group.last_in_step:
                f0, f1 = step.final_rows
                first, classes, proba = finisher.push(
                    acc, f0 - base, f1 - base, f1 == layout.height
                )
                n = classes.shape[0]
                if n:
                    win = Window(
                        extent.window.col_off, extent.window.row_off + first, out_grid.width, n
                    )
                    valid = read_valid(win)
                    inside = extent.mask(out_grid.window_grid(Window(0, first, out_grid.width, n)))
                    if inside is not None:
                        valid = valid & inside
                    sink.push(first, classes, proba, valid)
    finally:
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
    return StreamStats(
        tiles=layout.n_tiles,
        tiles_run=tiles_run,
        seconds=time.perf_counter() - t0,
        max_acc_rows=max_acc,
    )
