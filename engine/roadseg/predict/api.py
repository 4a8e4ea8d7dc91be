"""``roadseg.predict.predict``: the public prediction API (the CLI and the plugin call it)."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import NotGeoreferencedWarning

from roadseg._version import __version__
from roadseg.device import resolve_policy, torch_threads
from roadseg.errors import ConfigError, RoadsegError
from roadseg.geo.normalize import Scaling
from roadseg.models import ModelMeta, RoadNet, load_model
from roadseg.predict.job import RasterJob, TileSettings, prepare_job
from roadseg.predict.network import TilePredictor
from roadseg.predict.outputs import PredictionSink, plan_outputs
from roadseg.predict.result import PredictResult, RasterResult
from roadseg.predict.stream import stream_predict
from roadseg.progress import CancelCallback, ProgressCallback, Reporter

log = logging.getLogger(__name__)

#: GDAL block cache while predicting (bytes): bounds the memory used for reads and writes.
GDAL_CACHE_BYTES = 64 * 2**20


def _as_paths(rasters: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(rasters, str | os.PathLike):
        return [Path(rasters)]
    paths = [Path(r) for r in rasters]
    if not paths:
        raise ConfigError("no raster given; give at least one RASTER")
    return paths


def _parse_bands(bands: str | Sequence[int] | None) -> tuple[int, ...] | None:
    if bands is None:
        return None
    if isinstance(bands, str):
        try:
            return tuple(int(b) for b in bands.replace(" ", "").split(",") if b)
        except ValueError:
            raise ConfigError(f"--bands {bands!r}: give band numbers like 1,2,3") from None
    return tuple(int(b) for b in bands)


def predict(
    rasters: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str] | tuple[RoadNet, ModelMeta] = "default",
    out: str | os.PathLike[str] | None = None,
    *,
    probabilities: bool = False,
    cog: bool = False,
    bbox: Sequence[float] | None = None,
    bbox_crs: str | None = None,
    extent_file: str | os.PathLike[str] | None = None,
    bands: str | Sequence[int] | None = None,
    scaling: str | Scaling | None = None,
    gsd: float | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int | None = None,
    tta: bool = False,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    vectorize: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> PredictResult:
    """Map roads in rasters with a model: class rasters (and probabilities, vectors).

    Args:
        rasters: One raster or several (any GDAL raster, any CRS).
        model: A model file, ``"default"`` (the embedded model) or a loaded
            ``(network, meta)`` pair.
        out: Output class raster (one input) or folder (``<stem>_roads.tif`` each).
        probabilities: Also write ``<out>_proba.tif`` (uint8 probability × 255 per class).
        cog: Write Cloud-Optimised GeoTIFFs.
        bbox: Only predict ``(minx, miny, maxx, maxy)``.
        bbox_crs: CRS of ``bbox`` (default: the raster's).
        extent_file: Only predict inside these polygons (any CRS); outside is nodata.
        bands: 1-based bands to feed the model (default: the model's, else the
            raster's non-alpha bands).
        scaling: Raw → [0, 1] scaling (``"auto"``, ``"HIGH"``, ``"LOW,HIGH"``; default:
            the model's).
        gsd: Pixel size in metres of plain images without georeferencing.
        tile: Tile side at the model's resolution (default: the model's tile size).
        overlap: Overlap between tiles (default: tile / 4).
        batch_size: Tiles per network call (default 8 on CUDA, 2 elsewhere).
        tta: Average over flips (4× slower, slightly better).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16``.
        threads: CPU threads for the network (default: torch's default).
        vectorize: Also vectorise each class raster into this GeoPackage (or folder).
        progress: Called with progress events (stage ``"predict"``: tiles done/total,
            then the vectoriser's stages).
        cancel: Returns True to stop: :class:`~roadseg.errors.CancelledError` is
            raised and no partial output is left.

    Returns:
        A :class:`PredictResult`.

    """
    t_start = time.perf_counter()
    rep = Reporter(progress, cancel)
    if out is None:
        raise ConfigError("no output given; give --out OUT.tif (or a folder for several rasters)")
    paths = _as_paths(rasters)
    plans = plan_outputs(
        paths, Path(out), probabilities, Path(vectorize) if vectorize is not None else None
    )
    policy = resolve_policy(device, precision)
    if isinstance(model, tuple):
        net, meta = model
        model_name = f"{meta.arch}-{meta.encoder}"
    else:
        model_name = str(model)
        net, meta = load_model(model, device="cpu")
    predictor = TilePredictor(net, policy, tta=tta)
    settings = TileSettings.resolve(
        meta,
        tile,
        overlap,
        batch_size,
        predictor.output_stride,
        8 if policy.device.type == "cuda" else 2,
    )
    band_sel = _parse_bands(bands)
    jobs: list[RasterJob] = []
    try:
        for p, plan in zip(paths, plans, strict=True):
            jobs.append(
                prepare_job(
                    p,
                    plan,
                    meta,
                    model_name,
                    settings,
                    band_sel,
                    scaling,
                    gsd,
                    bbox,
                    bbox_crs,
                    extent_file,
                )
            )
        rep.check()
        total = sum(j.layout.n_tiles for j in jobs)
        done = 0
        rep.update("predict", 0, total, f"{len(jobs)} raster(s), {policy.describe()}")
        items: list[RasterResult] = []
        env = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": GDAL_CACHE_BYTES}
        with torch_threads(threads), rasterio.Env(**env):
            for n, job in enumerate(jobs, start=1):
                label = job.src.path.name + (f" ({n}/{len(jobs)})" if len(jobs) > 1 else "")

                def on_tiles(k: int, label: str = label) -> None:
                    nonlocal done
                    done += k
                    rep.update("predict", done, total, label)

                items.append(
                    _run_job(
                        job,
                        predictor,
                        meta,
                        model_name,
                        settings,
                        cog,
                        on_tiles,
                        rep,
                        progress,
                        cancel,
                    )
                )
    finally:
        for j in jobs:
            j.src.close()
    notes = tuple(w for j in jobs for w in j.warnings)
    return PredictResult(
        tuple(items),
        model_name,
        str(policy.device),
        policy.precision,
        time.perf_counter() - t_start,
        notes,
        {
            "tile": settings.tile,
            "overlap": settings.overlap,
            "batch_size": settings.batch_size,
            "tta": tta,
            "gsd_m": meta.gsd_m,
            "policy": policy.reason,
        },
    )


def _run_job(
    job: RasterJob,
    predictor: TilePredictor,
    meta: ModelMeta,
    model_name: str,
    settings: TileSettings,
    cog: bool,
    on_tiles: Any,
    rep: Reporter,
    progress: ProgressCallback | None,
    cancel: CancelCallback | None,
) -> RasterResult:
    """Predict one raster into its sink, commit, then vectorise if asked."""
    tags = {
        "ROADSEG_MODEL": Path(model_name).name,
        "ROADSEG_ENGINE_VERSION": __version__,
        "ROADSEG_MODEL_GSD_M": str(meta.gsd_m),
        "ROADSEG_ROAD_THRESHOLD": f"{meta.road_threshold:g}",
    }
    sink = PredictionSink(
        job.paths, job.out_grid, meta.classes, meta.colors, meta.widths_m, cog, tags
    )
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            mask_ds = rasterio.open(job.src.path)  # a second handle: reads run in another thread
        with mask_ds:

            def read_valid(win: Any) -> Any:
                return mask_ds.dataset_mask(window=win) > 0

            stats = stream_predict(
                job.src,
                job.out_grid,
                job.work,
                job.extent,
                job.layout,
                predictor,
                meta.num_classes,
                sink,
                settings.batch_size,
                read_valid,
                on_tiles,
                job.resampling,
                road_threshold=meta.road_threshold,
            )
        rep.check()
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    seconds = time.perf_counter() - t0  # reading, the network, blending, writing, committing
    vec_result = None
    if job.paths.vectors is not None:
        vec_result = _vectorize(job.paths.classes, job.paths.vectors, progress, cancel)
    return RasterResult(
        job.src.path,
        job.paths.classes,
        job.paths.probabilities,
        job.paths.vectors,
        job.megapixels,
        seconds,
        stats.tiles,
        stats.tiles_run,
        job.work.shape,
        vec_result,
    )


def _vectorize(
    classes: Path, out: Path, progress: ProgressCallback | None, cancel: CancelCallback | None
) -> dict[str, Any]:
    """Run the vectoriser on a class raster (imported lazily: optional heavy deps)."""
    try:
        from roadseg.vectorize import vectorize
    except ImportError as exc:
        raise RoadsegError(
            f"--vectorize: the vectoriser is not available in this installation ({exc}); "
            f"the class raster {str(classes)!r} was written: run `roadseg vectorize` later"
        ) from None
    result = vectorize(classes, out, progress=progress, cancel=cancel)
    return result.as_dict() if hasattr(result, "as_dict") else dict(result)
