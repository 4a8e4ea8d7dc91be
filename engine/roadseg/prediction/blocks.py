"""Blocks of a large prediction: the unit of work one process (or one Ray task) does.

A raster's output grid is cut into blocks of ``block_size`` × ``block_size`` pixels
(:func:`~roadseg.vectorization.blocks.block_layout`: the same blocks the vectoriser
uses). A block is predicted by streaming the tiles of the **whole raster's** layout
that touch it (its halo: up to one tile beyond each edge, at least the tile overlap),
with the whole raster's blending weights (:mod:`roadseg.prediction.tiles2d`), so
the blocks join without seams and together equal the one-process result exactly.
Each block is written as its own class raster (a COG, and probabilities when asked).

Vectorising runs per block too (:func:`~roadseg.vectorization.api.vectorize_block`,
reading the mosaic of all class blocks with its margin) and the pieces are merged
at the end (:func:`~roadseg.vectorization.api.vectorize_pieces`).

Everything here is picklable and self-contained: a worker on another machine gets
a :class:`PredictBlock` and the model, and needs nothing else but the input files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roadseg.device import resolve_policy, torch_threads
from roadseg.geo.grid import Grid
from roadseg.models import ModelMeta, RoadNet
from roadseg.prediction.job import TileSettings, prepare_job
from roadseg.prediction.network import TilePredictor
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.outputs import OutputPaths, PredictionSink, proba_path_for
from roadseg.prediction.stream import Streaming, gdal_env, predict_region
from roadseg.prediction.tiles2d import Region
from roadseg.vectorization.blocks import Block, block_layout

#: Default block side (output pixels): the vectoriser's block, 4096² ≈ 4 km² at 0.5 m.
DEFAULT_BLOCK_SIZE = 4096


def block_name(block: Block, size: int) -> str:
    """A block's name from its place in the block grid.

    >>> block_name(Block(4096, 8192, 4096, 4096, 0, 9000, 9000), 4096)
    'r001c002'
    """
    return f"r{block.row0 // size:03d}c{block.col0 // size:03d}"


def plan_blocks(grid: Grid, size: int) -> list[Block]:
    """The blocks of an output grid, row by row (the last ones smaller).

    >>> from affine import Affine
    >>> [(b.rows, b.cols) for b in plan_blocks(Grid(None, Affine.identity(), 300, 200), 128)]
    [(128, 128), (128, 128), (128, 44), (72, 128), (72, 128), (72, 44)]
    """
    return block_layout(grid.width, grid.height, size, 0)


def block_files(folder: Path, name: str, probabilities: bool) -> OutputPaths:
    """The files of one block: ``<folder>/<name>.tif`` (and ``<name>_proba.tif``)."""
    cls = folder / f"{name}.tif"
    return OutputPaths(cls, cls, proba_path_for(cls) if probabilities else None, None)


@dataclass(frozen=True)
class PredictBlock:
    """One block to predict (everything a worker needs besides the model).

    Attributes:
        key: ``<stem>/<name>``, unique in the run.
        raster: The input raster.
        block: The block on the raster's output grid.
        files: Where to write it.
        options: The run's options.
        settings: Tile, overlap, batch size.
        tiles: Tiles the block runs (progress).
        tags: Metadata written into the block's files.
        threads: CPU threads for the network (None: torch's default).

    """

    key: str
    raster: Path
    block: Block
    files: OutputPaths
    options: PredictOptions
    settings: TileSettings
    tiles: int
    tags: dict[str, str] = field(default_factory=dict)
    threads: int | None = None


@dataclass(frozen=True)
class BlockDone:
    """What predicting a block did.

    Attributes:
        key: The block's key.
        tiles_run: Tiles run through the network.
        seconds: Wall time in the worker.
        device: Where the network ran (``cpu``, ``cuda:0``...).
        precision: Its precision.
        host: The machine.
        confidence: The block's :class:`~roadseg.prediction.confidence.Confidence` counts
            (pixels, road-like, unsure).

    """

    key: str
    tiles_run: int
    seconds: float
    device: str
    precision: str
    host: str
    confidence: tuple[int, int, int] = (0, 0, 0)


def run_predict_block(
    work: PredictBlock,
    net: RoadNet,
    meta: ModelMeta,
    on_tiles: Callable[[int], None] | None = None,
    predictor: TilePredictor | None = None,
) -> BlockDone:
    """Predict one block into its files (written atomically: a killed worker leaves none).

    Args:
        work: The block.
        net: The network.
        meta: Its metadata.
        on_tiles: Called with the number of tiles done after each batch (may raise to stop).
        predictor: A predictor to reuse (default: one made for ``net`` from the options).

    """
    import socket

    t0 = time.perf_counter()
    opts = work.options
    if predictor is None:
        predictor = TilePredictor(net, resolve_policy(opts.device, opts.precision), tta=opts.tta)
    job = prepare_job(
        work.raster, work.files, meta, work.tags.get("ROADSEG_MODEL", ""), work.settings, opts
    )
    try:
        b = work.block
        grid = job.out_grid.window_grid(b.core)
        sink = PredictionSink(work.files, grid, meta.class_set, cog=True, extra_tags=work.tags)
        how = Streaming(
            meta.num_classes,
            work.settings.batch_size,
            opts.threshold_for(meta.road_threshold),
            probabilities=work.files.probabilities is not None,
            detect_fill=opts.detect_fill,
        )
        callback = on_tiles if on_tiles is not None else (lambda n: None)
        try:
            with torch_threads(work.threads), gdal_env():
                stats = predict_region(
                    job, predictor, Region.of(b.row0, b.col0, b.rows, b.cols), sink, how, callback
                )
            sink.commit()
        except BaseException:
            sink.abort()
            raise
    finally:
        job.src.close()
    policy = predictor.policy
    return BlockDone(
        work.key,
        stats.tiles_run,
        time.perf_counter() - t0,
        str(policy.device),
        policy.precision,
        socket.gethostname(),
        (stats.confidence.pixels, stats.confidence.road_like, stats.confidence.unsure),
    )


@dataclass(frozen=True)
class VectorBlock:
    """One block to vectorise: its pieces go to ``pieces``.

    Attributes:
        key: ``<stem>/<name>``.
        mosaic: The class raster (the VRT of all blocks).
        index: The block's number in the vectoriser's layout.
        pieces: The ``.npz`` file to write.
        block_size: The vectoriser's block size (the prediction's).
        gsd: Pixel size in metres when the mosaic has no georeferencing (a plain image's).

    """

    key: str
    mosaic: Path
    index: int
    pieces: Path
    block_size: int
    gsd: float | None = None


def run_vector_block(work: VectorBlock) -> str:
    """Vectorise one block of a mosaic and save its pieces; returns the key."""
    from roadseg.vectorization import VectorizeOptions
    from roadseg.vectorization.api import vectorize_block
    from roadseg.vectorization.pieces import save_pieces

    opts = VectorizeOptions(block_size=work.block_size, gsd=work.gsd)
    save_pieces(work.pieces, vectorize_block(work.mosaic, work.index, opts))
    return work.key
