"""``roadseg.prediction.predict``: the public prediction API (the CLI and the plugin call it)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadseg.device import ComputePolicy, resolve_policy, torch_threads
from roadseg.errors import ConfigError, RoadsegError, RoadsegWarning, about
from roadseg.geo.paths import RasterPath, as_source, name_of
from roadseg.geo.staging import staged_outputs
from roadseg.models import ModelMeta, RoadNet, load_model
from roadseg.options import with_overrides
from roadseg.prediction.confidence import fit_warnings
from roadseg.prediction.job import RasterJob, TileSettings, prepare_job, working_resolution
from roadseg.prediction.network import TilePredictor
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.outputs import (
    PredictionSink,
    declare_outputs,
    output_tags,
    plan_outputs,
)
from roadseg.prediction.result import PredictResult, RasterResult
from roadseg.prediction.stream import (
    Streaming,
    gdal_env,
    predict_region,
    region_tiles,
    whole_region,
)
from roadseg.progress import CancelCallback, ProgressCallback, Reporter

log = logging.getLogger(__name__)


def _as_paths(
    rasters: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> list[RasterPath]:
    """Local rasters as Paths (quoted globs expanded), GDAL paths as the strings GDAL reads.

    GDAL paths are ``/vsi…``, URLs and ``zip://…!/…``.
    """
    items = [rasters] if isinstance(rasters, str | os.PathLike) else list(rasters)
    paths: list[RasterPath] = []
    for r in items:
        src = as_source(r)
        paths.extend([src] if isinstance(src, str) else _expand(src))
    if not paths:
        raise ConfigError("no raster given", param="rasters", hint="give at least one raster")
    return paths


def _expand(path: Path) -> list[Path]:
    """A glob pattern (``tiles/*.tif``, quoted on the command line) → the files it matches.

    A path that exists, or has no wildcard, is itself.
    """
    text = str(path)
    if path.exists() or not any(c in text for c in "*?["):
        return [path]
    import glob

    found = sorted(Path(p) for p in glob.glob(text, recursive=True))
    if not found:
        raise ConfigError(
            f"`rasters` {text!r} matches no file",
            param="rasters",
            value=text,
            hint="check the pattern (quote it so the shell does not expand it)",
        )
    return found


def predict(
    rasters: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str] | tuple[RoadNet, ModelMeta] = "default",
    out: str | os.PathLike[str] | None = None,
    *,
    options: PredictOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    **overrides: Any,
) -> PredictResult:
    """Map roads in rasters with a model: class rasters (and probabilities, vectors).

    >>> from roadseg.api import predict                                  # doctest: +SKIP
    >>> r = predict("big.tif", out="roads.tif", tile=256)                # doctest: +SKIP

    Args:
        rasters: One raster or several (any GDAL raster, any CRS).
        model: A model file, ``"default"`` (the embedded model) or a loaded
            ``(network, meta)`` pair.
        out: Output class raster (one input) or folder (``<stem>_roads.tif`` each).
        options: A :class:`PredictOptions` (default: all defaults).
        progress: Called with progress events (stage ``"predict"``: tiles done/total,
            then the vectoriser's stages).
        cancel: Returns True to stop: :class:`~roadseg.errors.CancelledError` is
            raised and no partial output is left.
        **overrides: Fields of :class:`PredictOptions` (``tile=256``, ``bbox=(...)``,
            ``vectorize="roads.gpkg"``...), replacing those of ``options``.

    Returns:
        A :class:`PredictResult`.

    """
    t_start = time.perf_counter()
    opts = with_overrides(options, PredictOptions, overrides)
    rep = Reporter(progress, cancel)
    if out is None:
        raise ConfigError(
            "no output given",
            param="out",
            hint="give `out` OUT.tif (or a folder for several rasters)",
        )
    paths = _as_paths(rasters)
    if opts.blocked:  # blocks, resumable; on Ray with `cluster` (imported only then)
        from roadseg.prediction.blockrun import predict_blocks

        local = [p for p in paths if isinstance(p, Path)]
        if len(local) < len(paths):
            gdal = next(p for p in paths if not isinstance(p, Path))
            raise ConfigError(
                f"`rasters` {gdal!r}: blocks (`block_size`, `cluster`) need local raster files",
                param="rasters",
                value=str(gdal),
                hint="copy the raster to a local file first, or predict it without blocks",
            )
        with gdal_env():
            return predict_blocks(local, model, Path(out), opts, progress, cancel)
    inputs: dict[str, str | os.PathLike[str] | None] = {"extent_file": opts.extent_file}
    if not isinstance(model, tuple):
        inputs["model"] = str(model)
    plans = plan_outputs(paths, Path(out), opts.probabilities, opts.vectorize, inputs)
    jobs: list[RasterJob] = []
    with staged_outputs(opts.overwrite) as outs:
        declare_outputs(outs, plans)  # existing outputs refused before any work starts
        network = load_network(model, opts)
        policy, meta, settings, model_name = (
            network.policy,
            network.meta,
            network.settings,
            network.name,
        )
        run = _Run(network.predictor, meta, model_name, settings, opts, rep, progress, cancel)
        try:
            for p, plan in zip(paths, plans, strict=True):
                jobs.append(prepare_job(p, plan, meta, model_name, settings, opts))
            rep.check()
            run.total = sum(region_tiles(j, whole_region(j)) for j in jobs)
            rep.update("predict", 0, run.total, f"{len(jobs)} raster(s), {policy.describe()}")
            items: list[RasterResult] = []
            with torch_threads(opts.threads), gdal_env():
                for n, job in enumerate(jobs, start=1):
                    label = name_of(job.src.path) + (f" ({n}/{len(jobs)})" if len(jobs) > 1 else "")
                    items.append(_run_job(job, run, label))
            rep.check()  # a cancel during the last steps still leaves every old output as it was
        finally:
            for j in jobs:
                j.src.close()
    return PredictResult(
        items=tuple(items),
        model=model_name,
        device=str(policy.device),
        precision=policy.precision,
        seconds=time.perf_counter() - t_start,
        warnings=(
            *network.notes,
            *(w for j in jobs for w in j.warnings),
            *fit_warnings((name_of(i.raster), i.confidence) for i in items),
        ),
        settings={
            "tile": settings.tile,
            "overlap": settings.overlap,
            "batch_size": settings.batch_size,
            "tta": opts.tta,
            "road_threshold": opts.threshold_for(meta.road_threshold),
            "gsd_m": meta.gsd_m,
            "working_gsd_m": settings.gsd_m,
            "policy": policy.reason,
        },
    )


@dataclass(frozen=True)
class Network:
    """A model ready to run on tiles with a prediction's options.

    Attributes:
        predictor: Runs the network (device, precision, TTA).
        meta: The model's metadata.
        name: How results name the model (the file or name given, or arch-encoder).
        settings: Tile, overlap, batch and working resolution.
        policy: Device and precision chosen.
        notes: Warnings about the working resolution (already logged).

    """

    predictor: TilePredictor
    meta: ModelMeta
    name: str
    settings: TileSettings
    policy: ComputePolicy
    notes: tuple[RoadsegWarning, ...]


def load_network(
    model: str | os.PathLike[str] | tuple[RoadNet, ModelMeta], opts: PredictOptions
) -> Network:
    """Load ``model`` (a file, ``"default"`` or a loaded pair) and resolve its tile settings."""
    policy = resolve_policy(opts.device, opts.precision)
    if isinstance(model, tuple):
        net, meta = model
        name = f"{meta.arch}-{meta.encoder}"
    else:
        name = str(model)
        with about("model"):
            net, meta = load_model(model, device="cpu")
    predictor = TilePredictor(net, policy, tta=opts.tta)
    gsd, notes = working_resolution(meta, opts)
    settings = TileSettings.resolve(
        meta,
        opts.tile,
        opts.overlap,
        opts.batch_size,
        stride=predictor.output_stride,
        default_batch=8 if policy.device.type == "cuda" else 2,
        gsd_m=gsd,
    )
    return Network(predictor, meta, name, settings, policy, tuple(notes))


@dataclass
class _Run:
    """What every raster of one call shares (and the tiles done so far)."""

    predictor: TilePredictor
    meta: ModelMeta
    model_name: str
    settings: TileSettings
    options: PredictOptions
    reporter: Reporter
    progress: ProgressCallback | None
    cancel: CancelCallback | None
    total: int = 0
    done: int = 0


def _run_job(job: RasterJob, run: _Run, label: str) -> RasterResult:
    """Predict one raster into its sink, commit, then vectorise if asked."""
    meta = run.meta
    threshold = run.options.threshold_for(meta.road_threshold)
    tags = output_tags(run.model_name, meta, run.settings.gsd_m, threshold)
    with about("out"):
        sink = PredictionSink(
            job.paths, job.out_grid, meta.class_set, cog=run.options.cog, extra_tags=tags
        )

    def on_tiles(k: int) -> None:
        run.done += k
        run.reporter.update("predict", run.done, run.total, label)

    t0 = time.perf_counter()
    try:
        stats = predict_region(
            job,
            run.predictor,
            whole_region(job),
            sink,
            Streaming(
                meta.num_classes,
                run.settings.batch_size,
                threshold,
                probabilities=sink.proba is not None,
                detect_fill=run.options.detect_fill,
            ),
            on_tiles,
        )
        run.reporter.check()
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    seconds = time.perf_counter() - t0  # reading, the network, blending, writing, committing
    vec_result = None
    if job.paths.vectors is not None:
        # The class raster is still staged (committed with the vectors at the end of the run).
        staged = _staged(job.paths.classes)
        # A plain image's class raster has no georeferencing either: its pixel size goes along.
        gsd = None if job.src.georeferenced else run.options.gsd
        vec_result = _vectorize(staged, job.paths.vectors, run.progress, run.cancel, gsd)
    return RasterResult(
        raster=job.src.path,
        classes=job.paths.classes,
        probabilities=job.paths.probabilities,
        vectors=job.paths.vectors,
        megapixels=job.megapixels,
        seconds=seconds,
        tiles=stats.tiles,
        tiles_run=stats.tiles_run,
        working_shape=job.work.shape,
        vector_result=vec_result,
        fill_megapixels=stats.fill_pixels / 1e6,
        confidence=stats.confidence,
    )


def _staged(final: Path) -> Path:
    from roadseg.geo.staging import OutputSet, current

    outs = current()
    return outs.staged_path(final) if isinstance(outs, OutputSet) else final


def _vectorize(
    classes: Path,
    out: Path,
    progress: ProgressCallback | None,
    cancel: CancelCallback | None,
    gsd: float | None = None,
) -> dict[str, Any]:
    """Run the vectoriser on a class raster (imported lazily: optional heavy deps)."""
    try:
        from roadseg.vectorization import vectorize
    except ImportError as exc:
        raise RoadsegError(
            f"the vectoriser is not available in this installation ({exc})",
            param="vectorize",
            hint="install roadseg with its vector dependencies, or predict without `vectorize`",
        ) from None
    result = vectorize(classes, out, progress=progress, cancel=cancel, gsd=gsd)
    return result.as_dict()
