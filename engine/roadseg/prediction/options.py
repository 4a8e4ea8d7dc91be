"""The options of a prediction, as one frozen value checked at construction."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roadseg.device import PRECISIONS
from roadseg.errors import ConfigError
from roadseg.geo.normalize import Scaling
from roadseg.options import check_range

#: Largest tile side accepted (pixels): a 16384² tile already needs gigabytes per class.
MAX_TILE = 16384
#: Largest batch accepted.
MAX_BATCH = 4096

#: An existing Ray cluster: ``ray://HOST:PORT`` (Ray Client, from anywhere) or ``HOST:PORT``
#: (the head's GCS address, from a machine of the cluster).
CLUSTER_ADDRESS = re.compile(r"(ray://)?[A-Za-z0-9._\-\[\]:]+:\d+")


def parse_bands(bands: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """1-based band numbers from ``"1,2,3"`` or a sequence.

    >>> parse_bands("3, 2,1"), parse_bands([4]), parse_bands(None)
    ((3, 2, 1), (4,), None)
    """
    if bands is None:
        return None
    try:
        if isinstance(bands, str):
            out = tuple(int(b) for b in bands.replace(" ", "").split(",") if b)
        else:
            out = tuple(int(b) for b in bands)
    except (TypeError, ValueError):
        out = ()
    if not out or min(out) < 1:
        raise ConfigError(
            f"`bands` {bands!r} are not band numbers",
            param="bands",
            value=bands,
            hint="give 1-based band numbers like 1,2,3",
        )
    return out


@dataclass(frozen=True, kw_only=True)
class PredictOptions:
    """How to predict (every field optional; see :func:`roadseg.prediction.predict`).

    Attributes:
        probabilities: Also write ``<out>_proba.tif`` (uint8 probability × 255 per class).
        cog: Write Cloud-Optimised GeoTIFFs.
        bbox: Only predict ``(minx, miny, maxx, maxy)``.
        bbox_crs: CRS of ``bbox`` (default: the raster's).
        extent_file: Only predict inside these polygons (any CRS); outside is nodata.
        bands: 1-based bands to feed the model (default: the model's, else the raster's
            non-alpha bands); ``"1,2,3"`` or a sequence.
        scaling: Raw → [0, 1] scaling (``"auto"``, ``"HIGH"``, ``"LOW,HIGH"``; default: the
            model's).
        gsd: Pixel size in metres of plain images without georeferencing.
        working_gsd: Ground resolution (m/px) the network runs at (default: the model's
            own); from 0.5 to 2 × the model's (see :mod:`roadseg.prediction.working`). A finer
            one (0.4 m for a 0.5 m model) can connect roads better, at (model / working)²
            times the network pixels. Outputs stay on the raster's grid.
        tile: Tile side in pixels at the working resolution (default: the model's tile size).
        overlap: Overlap between tiles (default: tile / 4).
        batch_size: Tiles per network call (default 8 on CUDA, 2 elsewhere).
        tta: Average over flips (4× slower, slightly better).
        road_threshold: Road where the road classes' probabilities together reach this
            (default: the model's ``road_threshold``, chosen on validation when it was
            trained; 0.5 for the default model). Lower maps more road (fewer gaps, more
            false road), higher less; the probabilities output does not change.
        detect_fill: Treat large areas of pure black or pure white as nodata when the raster
            declares no nodata, alpha or mask (:mod:`roadseg.prediction.fill`).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: ``auto`` (the rule of :mod:`roadseg.device`), ``fp32``, ``bf16``, ``fp16``.
        threads: CPU threads for the network (default: torch's default).
        vectorize: Also vectorise each class raster into this GeoPackage (or folder).
        block_size: Cut each output into blocks of this many pixels a side (a multiple of
            256) and predict block by block, resumably: per-block COGs, a VRT of the whole
            and a manifest in the ``out`` folder (see :mod:`roadseg.prediction.blockrun`).
        cluster: Predict the blocks on a Ray cluster: ``local`` (started on this machine),
            ``auto`` (the cluster this machine belongs to), ``ray://HOST:PORT`` (Ray Client) or
            ``HOST:PORT`` (the head node's address, from a machine of the cluster); implies
            blocks (of 4096 pixels unless ``block_size`` says otherwise).
        workers: Blocks predicted at once on the cluster (default: one per GPU, else one
            per machine).
        merge: In block mode, also write one COG of the whole (``<stem>_roads.tif``).
        overwrite: Replace existing outputs; in block mode, start afresh instead of
            refusing to mix with the blocks of another run.

    >>> PredictOptions(tile=256, bands="1,2,3").bands
    (1, 2, 3)
    >>> PredictOptions(batch_size=0)
    Traceback (most recent call last):
    roadseg.errors.ConfigError: batch_size 0 must be from 1 to 4096; e.g. batch_size 2

    """

    probabilities: bool = False
    cog: bool = False
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: str | None = None
    extent_file: Path | None = None
    bands: tuple[int, ...] | None = None
    scaling: str | Scaling | None = None
    gsd: float | None = None
    working_gsd: float | None = None
    tile: int | None = None
    overlap: int | None = None
    batch_size: int | None = None
    tta: bool = False
    road_threshold: float | None = None
    detect_fill: bool = True
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    vectorize: Path | None = None
    block_size: int | None = None
    cluster: str | None = None
    workers: int | None = None
    merge: bool = False
    overwrite: bool = False

    def threshold_for(self, model_threshold: float) -> float:
        """The road threshold in use: ``road_threshold`` if given, else the model's.

        >>> PredictOptions().threshold_for(0.5), PredictOptions(road_threshold=0.35).threshold_for(0.5)
        (0.5, 0.35)
        """
        return model_threshold if self.road_threshold is None else self.road_threshold

    @property
    def blocked(self) -> bool:
        """Whether the prediction runs block by block (``block_size`` or ``cluster`` given)."""
        return self.block_size is not None or self.cluster is not None

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "bands", parse_bands(self.bands))
        for name in ("extent_file", "vectorize"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Path):
                fix(self, name, Path(os.fspath(v)))
        if self.bbox is not None:
            try:
                box = tuple(float(v) for v in self.bbox)
            except (TypeError, ValueError):
                box = ()
            if len(box) != 4 or not all(math.isfinite(v) for v in box):
                raise ConfigError(
                    f"`bbox` {self.bbox!r} is not 4 numbers",
                    param="bbox",
                    value=self.bbox,
                    hint="give minx miny maxx maxy",
                )
            fix(self, "bbox", box)
        if self.tile is not None:
            check_range("tile", self.tile, 32, MAX_TILE, integer=True, example=256)
        if self.overlap is not None:
            check_range("overlap", self.overlap, 0, integer=True, example=64)
            if self.tile is not None and self.overlap > self.tile // 2:
                raise ConfigError(
                    f"`overlap` {self.overlap} must be at most half the tile ({self.tile // 2})",
                    param="overlap",
                    value=self.overlap,
                    hint=f"e.g. `overlap` {self.tile // 4}",
                )
        if self.batch_size is not None:
            check_range("batch_size", self.batch_size, 1, MAX_BATCH, integer=True, example=2)
        if self.threads is not None:
            check_range("threads", self.threads, 1, 1024, integer=True, example=os.cpu_count() or 1)
        if self.gsd is not None:
            check_range("gsd", self.gsd, 0, 10_000, low_open=True, unit="metres", example=0.5)
        if self.working_gsd is not None:  # against the model's resolution: resolve_working_gsd
            check_range(
                "working_gsd", self.working_gsd, 0, low_open=True, unit="metres", example=0.4
            )
            fix(self, "working_gsd", float(self.working_gsd))
        if self.road_threshold is not None:
            check_range(
                "road_threshold",
                self.road_threshold,
                0,
                1,
                low_open=True,
                high_open=True,
                example=0.4,
            )
            fix(self, "road_threshold", float(self.road_threshold))
        if self.bbox_crs is not None and not str(self.bbox_crs).strip():
            raise ConfigError(
                "`bbox_crs` is empty", param="bbox_crs", hint="give a CRS such as EPSG:4326"
            )
        p = (self.precision or "auto").lower()
        if p not in PRECISIONS:
            raise ConfigError(
                f"`precision` {self.precision!r} is not valid",
                param="precision",
                value=self.precision,
                hint=f"valid: {', '.join(PRECISIONS)}",
            )
        fix(self, "precision", p)
        self._check_blocks()

    def _check_blocks(self) -> None:
        if self.workers is not None:
            check_range("workers", self.workers, 1, 4096, integer=True, example=2)
        b = self.block_size
        if b is not None:
            check_range("block_size", b, 256, integer=True, example=4096)
        if b is not None and int(b) % 256:
            lo = int(b) // 256 * 256
            raise ConfigError(
                f"`block_size` {b} must be a multiple of 256 pixels",
                param="block_size",
                value=b,
                hint=f"try `block_size` {lo} or {lo + 256}",
            )
        c = self.cluster
        if c is not None and not (
            c in ("local", "auto") or (isinstance(c, str) and CLUSTER_ADDRESS.fullmatch(c))
        ):
            raise ConfigError(
                f"`cluster` {c!r} is not a Ray cluster",
                param="cluster",
                value=c,
                hint="valid: local, auto, ray://HOST:PORT (Ray Client) or HOST:PORT (the head's address)",
            )
        if self.workers is not None and c is None:
            raise ConfigError(
                f"`workers` {self.workers} needs a cluster",
                param="workers",
                value=self.workers,
                hint="give `cluster` local (or auto, ray://HOST:PORT)",
            )
        if self.merge and not self.blocked:
            raise ConfigError(
                "`merge` joins the blocks of a blocked prediction",
                param="merge",
                hint="give `block_size` or `cluster` too, or leave `merge` out",
            )
