"""Blocked prediction: many rasters and huge mosaics, block by block, resumable.

``predict(rasters, model, out=FOLDER, block_size=N)`` (or ``cluster=...``) cuts every
output into blocks (:mod:`roadseg.prediction.blocks`) and writes, in ``FOLDER``:

* ``<stem>_blocks/<rNNNcNNN>.tif`` — one class raster (COG) per block (and
  ``…_proba.tif`` with ``probabilities``), ``<rNNNcNNN>.npz`` — its vector pieces;
* ``<stem>_roads.vrt`` — the whole class raster, a VRT of the blocks (and
  ``<stem>_roads_proba.vrt``); ``<stem>_roads.tif`` — one COG of the whole with ``merge``;
* the GeoPackage of ``vectorize``: the blocks' vector pieces merged across their edges,
  equal to vectorising the whole class raster in one process;
* ``roadseg-manifest.json`` (:mod:`roadseg.prediction.manifest`): rerunning the same
  command after a crash or a kill does only the blocks that are missing.

The blocks run in this process one after the other, or as Ray tasks with
``cluster`` (:mod:`roadseg.prediction.cluster`; Ray is imported only then).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from roadseg._version import __version__
from roadseg.device import resolve_policy
from roadseg.errors import ConfigError, about
from roadseg.geo.classraster import NODATA, class_raster_writer, probability_writer
from roadseg.geo.paths import name_of
from roadseg.geo.vrt_mosaic import VrtBands, VrtSource, write_mosaic
from roadseg.models import ModelMeta, RoadNet, load_model, resolve_model_path, save_model
from roadseg.prediction.blocks import (
    DEFAULT_BLOCK_SIZE,
    BlockDone,
    PredictBlock,
    VectorBlock,
    block_files,
    block_name,
    plan_blocks,
    run_predict_block,
    run_vector_block,
)
from roadseg.prediction.confidence import Confidence, fit_warnings
from roadseg.prediction.job import RasterJob, TileSettings, prepare_job, working_resolution
from roadseg.prediction.manifest import (
    MANIFEST,
    Manifest,
    RasterEntry,
    file_sha256,
    raster_identity,
)
from roadseg.prediction.network import TilePredictor
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.outputs import OutputPaths, output_tags, plan_outputs, proba_path_for
from roadseg.prediction.result import PredictResult, RasterResult
from roadseg.prediction.stream import region_tiles
from roadseg.prediction.tiles2d import Region
from roadseg.progress import CancelCallback, ProgressCallback, Reporter

#: Callback of an executor: (block key, tiles newly done).
TilesCallback = Callable[[str, int], None]


class Executor(Protocol):
    """Runs blocks: in this process (:class:`InProcess`) or on Ray (:mod:`.cluster`)."""

    #: Where blocks run, for reports (``"this process"``, ``"ray local, 2 workers"``...).
    description: str

    def predict(
        self,
        works: Sequence[PredictBlock],
        on_done: Callable[[PredictBlock, BlockDone], None],
        on_tiles: TilesCallback,
    ) -> None:
        """Predict every block, calling ``on_done`` as each finishes (any order)."""
        ...

    def vectorize(
        self, works: Sequence[VectorBlock], on_done: Callable[[VectorBlock], None]
    ) -> None:
        """Vectorise every block, calling ``on_done`` as each finishes."""
        ...


@dataclass(frozen=True)
class ModelRef:
    """The model of a run: loaded here, identified by its hash, shippable as file bytes.

    Attributes:
        net: The network.
        meta: Its metadata.
        name: How the user named it (file or ``default``).
        sha256: SHA-256 of the model file (or of the weights and metadata of a loaded pair).
        path: The model file (None for a pair loaded by the caller).

    """

    net: RoadNet
    meta: ModelMeta
    name: str
    sha256: str
    path: Path | None

    @classmethod
    def load(cls, model: str | os.PathLike[str] | tuple[RoadNet, ModelMeta]) -> ModelRef:
        """Load a model file or take a loaded pair; hash it."""
        if isinstance(model, tuple):
            net, meta = model
            h = hashlib.sha256(meta.to_json().encode())
            for k, v in sorted(net.state_dict().items()):
                h.update(k.encode())
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
            return cls(net, meta, f"{meta.arch}-{meta.encoder}", h.hexdigest(), None)
        with about("model"):
            net, meta = load_model(model, device="cpu")
            path = resolve_model_path(model)
        return cls(net, meta, str(model), file_sha256(path), path)

    def file_bytes(self, scratch: Path) -> bytes:
        """The model as a model file's bytes (saved to ``scratch`` first for a loaded pair)."""
        if self.path is not None:
            return self.path.read_bytes()
        tmp = scratch / f".model-{self.sha256[:12]}.safetensors"
        save_model(tmp, self.net, self.meta)
        try:
            return tmp.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)


@dataclass
class _Raster:
    """One input raster of a blocked run, planned."""

    stem: str
    job: RasterJob
    paths: OutputPaths
    folder: Path
    entry: RasterEntry
    works: list[PredictBlock] = field(default_factory=list)

    @property
    def vrt(self) -> Path:
        return self.paths.classes.with_suffix(".vrt")

    @property
    def proba_vrt(self) -> Path | None:
        p = self.paths.probabilities
        return p.with_suffix(".vrt") if p is not None else None


def predict_blocks(
    paths: Sequence[Path],
    model: str | os.PathLike[str] | tuple[RoadNet, ModelMeta],
    out: Path,
    opts: PredictOptions,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> PredictResult:
    """Predict rasters block by block (see the module docstring); resumable."""
    t_start = time.perf_counter()
    rep = Reporter(progress, cancel)
    folder = _out_folder(out)
    size = opts.block_size or DEFAULT_BLOCK_SIZE
    ref = ModelRef.load(model)
    executor: Executor | None = None
    cluster = None
    if opts.cluster is not None:
        from roadseg.prediction.cluster import RayCluster

        cluster = RayCluster.connect(opts.cluster, opts.workers, opts.threads)
    try:
        gpu = cluster.uses_gpu(opts.device) if cluster is not None else False
        policy = None if cluster is not None else resolve_policy(opts.device, opts.precision)
        predictor = None if policy is None else TilePredictor(ref.net, policy, tta=opts.tta)
        stride = int(getattr(ref.net, "output_stride", 32))
        on_gpu = gpu or (policy is not None and policy.device.type == "cuda")
        gsd, notes = working_resolution(ref.meta, opts)
        settings = TileSettings.resolve(
            ref.meta,
            opts.tile,
            opts.overlap,
            opts.batch_size,
            stride=stride,
            default_batch=8 if on_gpu else 2,
            gsd_m=gsd,
        )
        manifest, resumed = Manifest.open(
            folder, _run_key(ref, opts, settings, size), _vector_key(opts, size), opts.overwrite
        )
        rasters = _plan(paths, folder, ref, opts, settings, size, manifest)
        if cluster is not None:
            executor = cluster.executor(ref.sha256, ref.file_bytes(folder), gpu, rep.check)
        else:
            assert predictor is not None
            executor = InProcess(ref.net, ref.meta, predictor, rep)
        todo = [w for r in rasters for w in r.works if _missing(r, w)]
        total = sum(len(r.works) for r in rasters)
        stats = _predict_phase(rasters, todo, executor, manifest, rep)
        items = [_finish_raster(r, ref, opts, size, executor, manifest, rep) for r in rasters]
        manifest.complete = True
        manifest.outputs = {r.stem: _outputs(r, opts) for r in rasters}
        manifest.save()
    finally:
        if cluster is not None:
            cluster.close()
    return PredictResult(
        items=tuple(items),
        model=ref.name,
        device=stats.device or "",
        precision=stats.precision or opts.precision,
        seconds=time.perf_counter() - t_start,
        warnings=(
            *notes,
            *(w for r in rasters for w in r.job.warnings),
            *fit_warnings((name_of(i.raster), i.confidence) for i in items),
        ),
        settings={
            "tile": settings.tile,
            "overlap": settings.overlap,
            "batch_size": settings.batch_size,
            "tta": opts.tta,
            "road_threshold": opts.threshold_for(ref.meta.road_threshold),
            "gsd_m": ref.meta.gsd_m,
            "working_gsd_m": settings.gsd_m,
        },
        blocks={
            "size": size,
            "total": total,
            "run": len(todo),
            "skipped": total - len(todo),
            "resumed": resumed,
            "manifest": str(manifest.path),
            "executor": executor.description,
        },
    )


def _out_folder(out: Path) -> Path:
    if out.suffix.lower() in (".tif", ".tiff", ".vrt") and not out.is_dir():
        raise ConfigError(
            f"`out` {str(out)!r} names a file, but a blocked prediction writes a folder",
            param="out",
            value=str(out),
            hint="give a folder as `out`",
        )
    with about("out"):
        from roadseg.geo.atomic import check_writable

        check_writable(out / MANIFEST)
    return out


def _run_key(
    ref: ModelRef, opts: PredictOptions, settings: TileSettings, size: int
) -> dict[str, Any]:
    """Everything that changes the pixels of a block (results with another key never mix)."""
    extent_sha = file_sha256(opts.extent_file) if opts.extent_file is not None else None
    return {
        "engine_version": __version__,
        "model_sha256": ref.sha256,
        "block_size": size,
        "tile": settings.tile,
        "overlap": settings.overlap,
        "batch_size": settings.batch_size,
        "tta": opts.tta,
        "detect_fill": opts.detect_fill,
        "bands": list(opts.bands) if opts.bands else None,
        "scaling": str(opts.scaling) if opts.scaling is not None else None,
        "gsd": opts.gsd,
        # null at the model's own resolution: manifests written before the option resume
        "working_gsd_m": None if settings.gsd_m == ref.meta.gsd_m else settings.gsd_m,
        # null at the model's own threshold, likewise
        "road_threshold": (
            None
            if opts.threshold_for(ref.meta.road_threshold) == ref.meta.road_threshold
            else opts.road_threshold
        ),
        "bbox": list(opts.bbox) if opts.bbox else None,
        "bbox_crs": opts.bbox_crs,
        "extent_file_sha256": extent_sha,
        "device": opts.device,
        "precision": opts.precision,
        "probabilities": opts.probabilities,
    }


def _vector_key(opts: PredictOptions, size: int) -> dict[str, Any]:
    from roadseg.vectorization import VectorizeOptions

    if opts.vectorize is None:
        return {}
    return json.loads(json.dumps(asdict(VectorizeOptions(block_size=size)), default=str))


def _plan(
    paths: Sequence[Path],
    folder: Path,
    ref: ModelRef,
    opts: PredictOptions,
    settings: TileSettings,
    size: int,
    manifest: Manifest,
) -> list[_Raster]:
    """Check every raster and lay out its blocks (before any compute starts)."""
    plans = plan_outputs(list(paths), folder, opts.probabilities, opts.vectorize)
    tags = output_tags(
        ref.name, ref.meta, settings.gsd_m, opts.threshold_for(ref.meta.road_threshold)
    )
    out: list[_Raster] = []
    try:
        for p, plan in zip(paths, plans, strict=True):
            job = prepare_job(p, plan, ref.meta, ref.name, settings, opts)
            stem = Path(p).stem
            identity = {**raster_identity(Path(job.src.path)), "grid": list(job.out_grid.shape)}
            entry = manifest.entry(stem, identity, opts.overwrite)
            r = _Raster(stem, job, plan, folder / f"{stem}_blocks", entry)
            for b in plan_blocks(job.out_grid, size):
                name = block_name(b, size)
                r.works.append(
                    PredictBlock(
                        key=f"{stem}/{name}",
                        raster=Path(job.src.path),
                        block=b,
                        files=block_files(r.folder, name, opts.probabilities),
                        options=opts,
                        settings=settings,
                        tiles=region_tiles(job, Region.of(b.row0, b.col0, b.rows, b.cols)),
                        tags=tags,
                        threads=opts.threads,
                    )
                )
            out.append(r)
    finally:
        for r in out:
            r.job.src.close()
    return out


def _missing(r: _Raster, w: PredictBlock) -> bool:
    """Whether a block still has to run (not in the manifest, or its files are gone)."""
    name = w.key.rpartition("/")[2]
    if name not in r.entry.blocks:
        return True
    files = [w.files.classes] + ([w.files.probabilities] if w.files.probabilities else [])
    return not all(f.exists() for f in files)


@dataclass
class _PhaseStats:
    device: str | None = None
    precision: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def _predict_phase(
    rasters: list[_Raster],
    todo: list[PredictBlock],
    executor: Executor,
    manifest: Manifest,
    rep: Reporter,
) -> _PhaseStats:
    """Run the missing blocks; record each in the manifest as it finishes."""
    by_key = {w.key: r for r in rasters for w in r.works}
    total = sum(w.tiles for r in rasters for w in r.works)
    state = {"done": total - sum(w.tiles for w in todo), "blocks": 0}
    stats = _PhaseStats()
    n = len(todo)
    rep.update("predict", state["done"], total, f"{n} block(s) to predict, {executor.description}")

    def on_tiles(key: str, k: int) -> None:
        state["done"] += k
        rep.update("predict", state["done"], total, f"block {key} ({state['blocks']}/{n} done)")

    def on_done(w: PredictBlock, done: BlockDone) -> None:
        r = by_key[w.key]
        record = {
            "seconds": round(done.seconds, 3),
            "tiles_run": done.tiles_run,
            "device": done.device,
            "precision": done.precision,
            "host": done.host,
            "confidence": list(done.confidence),
        }
        manifest.record(r.stem, "blocks", w.key.rpartition("/")[2], record)
        state["blocks"] += 1
        stats.device, stats.precision = done.device, done.precision
        stats.seconds[r.stem] = stats.seconds.get(r.stem, 0.0) + done.seconds
        rep.update("predict", state["done"], total, f"block {w.key} ({state['blocks']}/{n} done)")

    if todo:
        executor.predict(todo, on_done, on_tiles)
    rep.update("predict", total, total, f"{n} block(s) predicted")
    for r in rasters:  # blocks done by earlier runs: their device and precision
        for rec in r.entry.blocks.values():
            stats.device = stats.device or rec.get("device")
            stats.precision = stats.precision or rec.get("precision")
    return stats


def _finish_raster(
    r: _Raster,
    ref: ModelRef,
    opts: PredictOptions,
    size: int,
    executor: Executor,
    manifest: Manifest,
    rep: Reporter,
) -> RasterResult:
    """Mosaic a raster's blocks (VRT, merged COG), vectorise them, merge the vectors."""
    grid = r.job.out_grid
    sources = [VrtSource(w.files.classes, w.block.core) for w in r.works]
    tags, colormap = _tags(r.works[0].files.classes)
    with about("out"):
        write_mosaic(r.vrt, grid, sources, VrtBands(1, "uint8", NODATA, colormap, ["class"], tags))
        if r.proba_vrt is not None:
            psrc = [VrtSource(proba_path_for(w.files.classes), w.block.core) for w in r.works]
            names = [f"p({c})" for c in ref.meta.classes]
            ptags, _ = _tags(psrc[0].path)
            bands = VrtBands(len(names), "uint8", None, None, names, ptags, mask=True)
            write_mosaic(r.proba_vrt, grid, psrc, bands)
        if opts.merge:
            rep.update("merge", 0, 1, r.paths.classes.name)
            _merge_cog(r, ref, opts)
            rep.update("merge", 1, 1, r.paths.classes.name)
    vec = None
    if r.paths.vectors is not None:
        vec = _vectorize(r, size, executor, manifest, rep, opts.gsd)
    classes = r.paths.classes if opts.merge else r.vrt
    proba = r.paths.probabilities if opts.merge else r.proba_vrt
    done = r.entry.blocks.values()
    return RasterResult(
        raster=r.job.src.path,
        classes=classes,
        probabilities=proba,
        vectors=r.paths.vectors,
        megapixels=r.job.megapixels,
        seconds=sum(float(b.get("seconds", 0.0)) for b in done),
        tiles=sum(w.tiles for w in r.works),
        tiles_run=sum(int(b.get("tiles_run", 0)) for b in done),
        working_shape=r.job.work.shape,
        vector_result=vec,
        confidence=_confidence(done),
    )


def _confidence(blocks: Iterable[dict[str, Any]]) -> Confidence | None:
    """The raster's counts from its blocks' records (None if a block was recorded without)."""
    total = Confidence()
    for b in blocks:
        counts = b.get("confidence")
        if not (isinstance(counts, list) and len(counts) == 3):
            return None  # recorded by an engine that did not count
        total += Confidence(*(int(v) for v in counts))
    return total


def _tags(path: Path) -> tuple[dict[str, str], dict[int, tuple[int, ...]] | None]:
    """A block file's metadata and palette (the mosaic carries the same)."""
    import rasterio

    with rasterio.open(path) as ds:
        try:
            cmap = {int(k): tuple(int(c) for c in v) for k, v in ds.colormap(1).items()}
        except ValueError:  # no palette
            cmap = None
        return dict(ds.tags()), cmap


def _merge_cog(r: _Raster, ref: ModelRef, opts: PredictOptions) -> None:
    """Write one COG of the whole (and of the probabilities), block by block."""
    import rasterio

    grid, classes = r.job.out_grid, ref.meta.class_set
    tags = r.works[0].tags
    writers = [class_raster_writer(r.paths.classes, grid, classes, cog=True, extra_tags=tags)]
    if r.paths.probabilities is not None:
        writers.append(
            probability_writer(r.paths.probabilities, grid, classes, cog=True, extra_tags=tags)
        )
    try:
        for w in r.works:
            with rasterio.open(w.files.classes) as ds:
                writers[0].write(ds.read(), w.block.core)
            if len(writers) > 1 and w.files.probabilities is not None:
                with rasterio.open(w.files.probabilities) as ds:
                    writers[1].write(ds.read(), w.block.core)
                    writers[1].write_mask(ds.read_masks(1) > 0, w.block.core)
        for wr in reversed(writers):
            wr.commit()
    except BaseException:
        for wr in writers:
            wr.abort()
        raise


def _vectorize(
    r: _Raster,
    size: int,
    executor: Executor,
    manifest: Manifest,
    rep: Reporter,
    gsd: float | None = None,
) -> dict[str, Any]:
    """Vectorise the missing blocks of a raster, then merge every block's pieces.

    ``gsd`` (the plain image's pixel size) is used only when the raster has no georeferencing.
    """
    from roadseg.vectorization import VectorizeOptions
    from roadseg.vectorization.api import block_count, vectorize_pieces
    from roadseg.vectorization.pieces import load_pieces, pieces_readable

    plain = None if r.job.src.georeferenced else gsd
    opts = VectorizeOptions(block_size=size, gsd=plain)
    n = block_count(r.vrt, opts)
    if n != len(r.works):  # the vectoriser's blocks are the prediction's: same size, same grid
        raise RuntimeError(f"{n} vector blocks for {len(r.works)} prediction blocks")
    works = [
        VectorBlock(w.key, r.vrt, i, w.files.classes.with_suffix(".npz"), size, plain)
        for i, w in enumerate(r.works)
    ]
    todo = [  # not recorded, or the file is gone or damaged (a disk error, a hand edit)
        v
        for v in works
        if v.key.rpartition("/")[2] not in r.entry.vector_blocks or not pieces_readable(v.pieces)
    ]
    state = {"done": len(works) - len(todo)}
    rep.update("vectorize", state["done"], len(works), f"{r.stem}: {len(todo)} block(s)")

    def on_done(v: VectorBlock) -> None:
        manifest.record(r.stem, "vector_blocks", v.key.rpartition("/")[2], {"file": v.pieces.name})
        state["done"] += 1
        rep.update("vectorize", state["done"], len(works), f"block {v.key}")

    if todo:
        executor.vectorize(todo, on_done)
    assert r.paths.vectors is not None
    rep.update("vectorize", len(works), len(works), f"{r.stem}: merging the blocks")
    res = vectorize_pieces(
        r.vrt,
        (load_pieces(v.pieces) for v in works),
        r.paths.vectors,
        options=opts,
        progress=None,
        cancel=None,
    )
    return res.as_dict()


def _outputs(r: _Raster, opts: PredictOptions) -> dict[str, Any]:
    return {
        "raster": str(r.paths.classes if opts.merge else r.vrt),
        "vrt": str(r.vrt),
        "probabilities": str(r.proba_vrt) if r.proba_vrt else None,
        "vectors": str(r.paths.vectors) if r.paths.vectors else None,
    }


class InProcess:
    """Runs the blocks one after the other in this process (progress and cancel per batch)."""

    description = "this process"

    def __init__(
        self, net: RoadNet, meta: ModelMeta, predictor: TilePredictor, rep: Reporter
    ) -> None:
        self.net, self.meta, self.predictor, self.rep = net, meta, predictor, rep

    def predict(
        self,
        works: Sequence[PredictBlock],
        on_done: Callable[[PredictBlock, BlockDone], None],
        on_tiles: TilesCallback,
    ) -> None:
        """Predict the blocks in order."""
        for w in works:
            self.rep.check()
            done = run_predict_block(
                w, self.net, self.meta, partial(on_tiles, w.key), self.predictor
            )
            on_done(w, done)

    def vectorize(
        self, works: Sequence[VectorBlock], on_done: Callable[[VectorBlock], None]
    ) -> None:
        """Vectorise the blocks in order."""
        for v in works:
            self.rep.check()
            run_vector_block(v)
            on_done(v)
