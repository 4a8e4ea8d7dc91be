"""``roadseg.check_fit``: how sure a model is of some imagery, from a few samples, in seconds.

A whole prediction reports its confidence (:mod:`roadseg.prediction.confidence`) when it
ends; on a big area that is an hour later. Before such a run the user wants to know whether
the model fits the imagery at all, or whether to adapt it first (``roadseg adapt``). This
predicts a few windows (``samples`` squares of ``sample_m`` metres, spread evenly over the
raster or over the area asked for) exactly as :func:`~roadseg.prediction.predict` would —
the same reading, resampling, tiles, blending, fill detection and road threshold, so each
sampled pixel gets the probability the full run gives it — and counts the same figure on
them. Nothing is written. An area smaller than twice the samples is predicted whole, and
then the figure is the full run's to the pixel.

What a sample cannot know: imagery that changes across the area (a city centre and its
fields) rates as the windows that happened to fall on it; more samples cost proportionally
more (about 20 tiles of 256² per 256 m sample at 0.5 m: 8 samples take seconds).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import MaskFlags

from roadseg.device import torch_threads
from roadseg.errors import ConfigError, RoadsegWarning
from roadseg.geo.paths import RasterPath, name_of
from roadseg.models import ModelMeta, RoadNet
from roadseg.options import check_range, with_overrides
from roadseg.prediction.confidence import Confidence, fit_warnings
from roadseg.prediction.job import RasterJob, prepare_job
from roadseg.prediction.network import TilePredictor
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.outputs import OutputPaths
from roadseg.prediction.stream import Streaming, gdal_env, predict_region, region_tiles
from roadseg.prediction.tiles2d import Region
from roadseg.progress import CancelCallback, ProgressCallback, Reporter

#: Samples by default: eight windows (a 3 × 3 grid but its last cell on a square area). On the
#: default model's hold-out images (``bench/bench_confidence.py --samples``) eight agreed with the
#: whole prediction's rating on 25 of 28 images (unsure share 0.04 apart on average), four on 22
#: (0.11 apart).
DEFAULT_SAMPLES = 8
#: Side of a sample in metres by default (512 pixels at 0.5 m).
DEFAULT_SAMPLE_M = 256.0
#: Prediction options a check does not take (it writes nothing, and runs in this process).
_NOT_FOR_CHECKS = ("probabilities", "cog", "vectorize", "block_size", "cluster", "workers", "merge")


@dataclass(frozen=True)
class RasterFit:
    """How sure the model was on the samples of one raster.

    Attributes:
        raster: The raster.
        confidence: The counts over the sampled valid pixels (rating, unsure share).
        samples: Windows predicted (1 when the area was predicted whole).
        whole: The whole area was predicted (the figure is the full run's).
        sampled_megapixels: Output pixels in the windows / 1e6.
        megapixels: Output pixels of the whole area / 1e6.
        area_km2: Ground area of the whole area (the raster, or its part asked for).
        sampled_km2: Ground area of the windows.
        tiles_run: Tiles run through the network.
        seconds: Wall time for this raster.

    """

    raster: RasterPath
    confidence: Confidence
    samples: int
    whole: bool
    sampled_megapixels: float
    megapixels: float
    area_km2: float
    sampled_km2: float
    tiles_run: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "raster": str(self.raster),
            "confidence": self.confidence.as_dict(),
            "samples": self.samples,
            "whole": self.whole,
            "sampled_megapixels": round(self.sampled_megapixels, 4),
            "megapixels": round(self.megapixels, 4),
            "area_km2": round(self.area_km2, 4),
            "sampled_km2": round(self.sampled_km2, 4),
            "tiles_run": self.tiles_run,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class FitResult:
    """The result of :func:`check_fit` (the CLI's JSON object).

    Attributes:
        items: One :class:`RasterFit` per raster, in order.
        model: The model name or file.
        device: Device used.
        precision: Autocast precision used.
        seconds: Total wall time.
        warnings: Notes for the user (an ``UnsureWarning`` per raster rated poor).
        settings: Samples asked for, their side, the road threshold and working resolution.

    """

    items: tuple[RasterFit, ...]
    model: str
    device: str
    precision: str
    seconds: float
    warnings: tuple[RoadsegWarning, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> Confidence:
        """The counts over every raster's samples."""
        return sum((i.confidence for i in self.items), Confidence())

    def as_dict(self) -> dict[str, Any]:
        """Per raster figures, their total, model, device and settings."""
        return {
            "rasters": [i.as_dict() for i in self.items],
            "confidence": self.confidence.as_dict(),
            "model": self.model,
            "device": self.device,
            "precision": self.precision,
            "seconds": round(self.seconds, 3),
            "settings": dict(self.settings),
        }


def _positions(length: int, count: int, side: int) -> list[int]:
    """Starts of ``count`` windows of ``side`` spread evenly over ``length`` (centred in cells).

    >>> _positions(1000, 2, 100), _positions(1000, 1, 100), _positions(150, 1, 150)
    ([200, 700], [450], [0])
    """
    cell = length / count
    return [min(length - side, max(0, round((i + 0.5) * cell - side / 2))) for i in range(count)]


def checked_whole(height: int, width: int, side: tuple[int, int], samples: int) -> bool:
    """Whether the windows would cover half the area or more: then it is predicted whole.

    >>> checked_whole(900, 900, (512, 512), 4), checked_whole(4000, 4000, (512, 512), 8)
    (True, False)
    """
    return samples * min(side[0], height) * min(side[1], width) * 2 >= height * width


def sample_regions(
    height: int,
    width: int,
    side: tuple[int, int],
    samples: int,
    valid: np.ndarray | None = None,
) -> list[Region]:
    """Up to ``samples`` non-overlapping windows of ``side`` (rows, cols) spread over the grid.

    The windows form a grid as close to square cells as the area's shape allows, filled row by
    row; an area where the windows would cover half of it or more is one region, itself.
    ``valid`` (a coarse map of the grid's pixels that hold imagery: each of its cells stands for
    ``height / rows`` × ``width / cols`` pixels) steers the windows onto imagery when part of
    the area has none (an orthomosaic's irregular footprint, nodata, outside the polygons): they
    are then taken, evenly spread, among the tiling's windows that are at least half imagery
    (then the most imagery first).

    >>> [r.shape for r in sample_regions(4000, 4000, (512, 512), 4)]
    [(512, 512), (512, 512), (512, 512), (512, 512)]
    >>> [(r.rows.start, r.cols.start) for r in sample_regions(4000, 4000, (512, 512), 4)]
    [(744, 744), (744, 2744), (2744, 744), (2744, 2744)]
    >>> [(r.rows.start, r.cols.start, r.shape) for r in sample_regions(300, 6000, (512, 512), 3)]
    [(0, 744, (300, 512)), (0, 2744, (300, 512)), (0, 4744, (300, 512))]
    >>> sample_regions(900, 900, (512, 512), 4)[0].shape
    (900, 900)
    >>> left = np.zeros((8, 8), bool); left[:, :4] = True  # imagery in the left half only
    >>> sorted({r.cols.start < 2000 for r in sample_regions(4000, 4000, (512, 512), 4, left)})
    [True]
    """
    sy, sx = min(side[0], height), min(side[1], width)
    if checked_whole(height, width, side, samples):
        return [Region.of(0, 0, height, width)]
    max_rows, max_cols = height // sy, width // sx
    if valid is not None and not valid.all() and valid.any():
        steered = _on_imagery(height, width, (sy, sx), samples, valid)
        if steered:
            return steered
    cols = max(1, min(max_cols, samples, round(math.sqrt(samples * width / height))))
    rows = max(1, min(max_rows, math.ceil(samples / cols)))
    ys, xs = _positions(height, rows, sy), _positions(width, cols, sx)
    cells = [(y, x) for y in ys for x in xs][:samples]
    return [Region.of(y, x, sy, sx) for y, x in cells]


def _on_imagery(
    height: int, width: int, side: tuple[int, int], samples: int, valid: np.ndarray
) -> list[Region]:
    """Windows of the area's tiling that hold the most imagery, spread (see sample_regions)."""
    sy, sx = side
    fy, fx = valid.shape[0] / height, valid.shape[1] / width
    scored = []
    for y in _positions(height, height // sy, sy):
        for x in _positions(width, width // sx, sx):
            part = valid[
                int(y * fy) : max(int(y * fy) + 1, math.ceil((y + sy) * fy)),
                int(x * fx) : max(int(x * fx) + 1, math.ceil((x + sx) * fx)),
            ]
            scored.append((float(part.mean()), y, x))
    good = [(y, x) for share, y, x in scored if share >= 0.5]
    if len(good) >= samples:
        cells = [good[((2 * i + 1) * len(good)) // (2 * samples)] for i in range(samples)]
    else:
        rest = sorted((c for c in scored if 0 < c[0] < 0.5), key=lambda c: (-c[0], c[1], c[2]))
        cells = sorted(good + [(y, x) for _, y, x in rest[: samples - len(good)]])
    return [Region.of(y, x, sy, sx) for y, x in cells]


def _imagery_map(job: RasterJob, side: tuple[int, int], samples: int) -> np.ndarray | None:
    """A coarse map of the job's output pixels that hold imagery (mask, nodata, polygons).

    One cell per eighth of a window side (at most 1024 a side). None, without reading any
    pixel, when the area is checked whole or every pixel counts (no nodata, alpha or mask
    declared, no polygons).
    """
    grid = job.out_grid
    if checked_whole(grid.height, grid.width, side, samples):
        return None
    ds = job.src.dataset
    all_valid = all(MaskFlags.all_valid in flags for flags in ds.mask_flag_enums)
    if all_valid and job.extent.geoms is None:
        return None
    cell = max(1, min(side) // 8, math.ceil(max(grid.height, grid.width) / 1024))
    shape = (math.ceil(grid.height / cell), math.ceil(grid.width / cell))
    valid = ds.dataset_mask(window=job.extent.window, out_shape=shape) > 0
    inside = job.extent.mask(grid.scaled(cell, cell))
    return valid & inside if inside is not None else valid


class _Discard:
    """A sink for finished rows that keeps nothing: a check counts, it does not write."""

    def push(
        self,
        first_row: int,
        classes: np.ndarray,
        proba: np.ndarray | None,
        valid: np.ndarray,
        col0: int = 0,
    ) -> None:
        """Drop the rows (their confidence was counted as they were finished)."""


def check_fit(
    rasters: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str] | tuple[RoadNet, ModelMeta] = "default",
    *,
    samples: int = DEFAULT_SAMPLES,
    sample_m: float = DEFAULT_SAMPLE_M,
    options: PredictOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    **overrides: Any,
) -> FitResult:
    """Rate how sure ``model`` is of each raster's imagery from a few predicted windows.

    >>> from roadseg import check_fit                                     # doctest: +SKIP
    >>> check_fit("ortho.tif").confidence.text()                         # doctest: +SKIP
    'poor (68 % of road-like pixels unsure)'

    Args:
        rasters: One raster or several (as :func:`~roadseg.prediction.predict` takes them).
        model: A model file, ``"default"`` or a loaded ``(network, meta)`` pair.
        samples: Windows per raster (1–64), spread evenly over its area.
        sample_m: Side of each window in metres (32–4096; a plain image's metres come from
            its ``gsd``).
        options: Prediction options (area, bands, scaling, working resolution, road
            threshold, device...); outputs, blocks and clusters are not taken.
        progress: Called with progress events (stage ``"check"``: tiles done/total).
        cancel: Returns True to stop (:class:`~roadseg.errors.CancelledError`).
        **overrides: Fields of :class:`PredictOptions` (``bbox=(...)``, ``road_threshold=0.4``).

    Returns:
        A :class:`FitResult`; each raster rated poor also gives an ``UnsureWarning``.

    Raises:
        ConfigError: ``samples`` or ``sample_m`` out of range, an output or block option given,
            or what :func:`~roadseg.prediction.predict` refuses in the options.

    """
    from roadseg.prediction.api import _as_paths, load_network

    t_start = time.perf_counter()
    check_range("samples", samples, 1, 64, integer=True, example=8)
    check_range("sample_m", sample_m, 32.0, 4096.0, example=256)
    opts = with_overrides(options, PredictOptions, overrides)
    for name in _NOT_FOR_CHECKS:
        if getattr(opts, name) not in (None, False):
            raise ConfigError(
                f"`{name}` is not an option of a fit check (it writes nothing and runs here)",
                param=name,
                value=getattr(opts, name),
                hint=f"leave `{name}` out, or run a prediction for it",
            )
    rep = Reporter(progress, cancel)
    paths = _as_paths(rasters)
    network = load_network(model, opts)
    meta, settings, policy = network.meta, network.settings, network.policy
    threshold = opts.threshold_for(meta.road_threshold)
    how = Streaming(meta.num_classes, settings.batch_size, threshold, detect_fill=opts.detect_fill)
    items: list[RasterFit] = []
    with torch_threads(opts.threads), gdal_env():
        for n, path in enumerate(paths, start=1):
            label = name_of(path) + (f" ({n}/{len(paths)})" if len(paths) > 1 else "")
            # Nothing is written: the output paths are never opened (the sink discards).
            nowhere = OutputPaths(path, Path(os.devnull), None, None)
            job = prepare_job(path, nowhere, meta, network.name, settings, opts)
            try:
                items.append(_check_one(job, network.predictor, how, samples, sample_m, rep, label))
            finally:
                job.src.close()
    return FitResult(
        items=tuple(items),
        model=network.name,
        device=str(policy.device),
        precision=policy.precision,
        seconds=time.perf_counter() - t_start,
        warnings=(
            *network.notes,
            *fit_warnings((name_of(i.raster), i.confidence) for i in items),
        ),
        settings={
            "samples": samples,
            "sample_m": sample_m,
            "road_threshold": threshold,
            "working_gsd_m": settings.gsd_m,
            "tile": settings.tile,
            "overlap": settings.overlap,
            "tta": opts.tta,
        },
    )


def _check_one(
    job: RasterJob,
    predictor: TilePredictor,
    how: Streaming,
    samples: int,
    sample_m: float,
    rep: Reporter,
    label: str,
) -> RasterFit:
    """Predict one raster's sample windows; count their confidence."""
    t0 = time.perf_counter()
    grid = job.out_grid
    gx, gy = grid.gsd_m()
    side = (max(1, math.ceil(sample_m / gy)), max(1, math.ceil(sample_m / gx)))
    imagery = _imagery_map(job, side, samples)
    regions = sample_regions(grid.height, grid.width, side, samples, imagery)
    total = sum(region_tiles(job, r) for r in regions)
    done = [0]

    def on_tiles(k: int) -> None:
        done[0] += k
        rep.update("check", done[0], total, label)

    rep.update("check", 0, total, label)
    sure, tiles_run = Confidence(), 0
    for region in regions:
        stats = predict_region(job, predictor, region, _Discard(), how, on_tiles)
        sure += stats.confidence
        tiles_run += stats.tiles_run
    px_m2 = gx * gy
    sampled = sum(r.shape[0] * r.shape[1] for r in regions)
    whole = len(regions) == 1 and regions[0].shape == grid.shape
    return RasterFit(
        raster=job.src.path,
        confidence=sure,
        samples=len(regions),
        whole=whole,
        sampled_megapixels=sampled / 1e6,
        megapixels=job.megapixels,
        area_km2=grid.height * grid.width * px_m2 / 1e6,
        sampled_km2=sampled * px_m2 / 1e6,
        tiles_run=tiles_run,
        seconds=time.perf_counter() - t0,
    )
