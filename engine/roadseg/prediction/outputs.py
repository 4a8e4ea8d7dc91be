"""Output files of a prediction: their names, and block-aligned writing of finished rows.

The files follow the class raster format of :mod:`roadseg.geo.classraster`: a
uint8 class raster (0 background, 1..K-1 road classes, nodata 255, palette, class
tags) and optionally a probability raster with one uint8 band per class
(probability × 255) and an internal mask for nodata, since every value 0–255 is a
probability.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rasterio.windows import Window

from roadseg._version import __version__
from roadseg.errors import ConfigError
from roadseg.geo.classes import Classes
from roadseg.geo.classraster import (
    NODATA,
    class_raster_writer,
    probability_writer,
)
from roadseg.geo.grid import Grid
from roadseg.geo.paths import RasterPath, file_key, is_gdal_path, stem_of
from roadseg.geo.staging import OutputSet
from roadseg.geo.writer import GeoTiffWriter

if TYPE_CHECKING:
    from roadseg.models.modelfile import ModelMeta

PROBA_SUFFIX = "_proba"
ROADS_SUFFIX = "_roads"
#: Names a class raster may have (it is a GeoTIFF).
RASTER_SUFFIXES = (".tif", ".tiff")
#: Names the vectoriser's output may have (it is a GeoPackage).
VECTOR_SUFFIXES = (".gpkg",)


@dataclass(frozen=True)
class OutputPaths:
    """Files written for one input raster.

    Attributes:
        raster: The input raster.
        classes: Class raster.
        probabilities: Probability raster (None when not asked for).
        vectors: GeoPackage of road polygons and centrelines (None when not asked for).

    """

    raster: RasterPath
    classes: Path
    probabilities: Path | None
    vectors: Path | None


def output_tags(
    model_name: str, meta: ModelMeta, working_gsd_m: float, road_threshold: float | None = None
) -> dict[str, str]:
    """The run's metadata on every class and probability raster it writes.

    ``road_threshold`` is the one the class decision used (default: the model's).
    """
    threshold = meta.road_threshold if road_threshold is None else road_threshold
    return {
        "ROADSEG_MODEL": Path(model_name).name,
        "ROADSEG_ENGINE_VERSION": __version__,
        "ROADSEG_MODEL_GSD_M": str(meta.gsd_m),
        "ROADSEG_WORKING_GSD_M": str(working_gsd_m),
        "ROADSEG_ROAD_THRESHOLD": f"{threshold:g}",
    }


def proba_path_for(classes: Path) -> Path:
    """Return the probability raster path beside a class raster.

    >>> proba_path_for(Path("out/roads.tif")).as_posix()
    'out/roads_proba.tif'
    """
    return classes.with_name(f"{classes.stem}{PROBA_SUFFIX}.tif")


def _is_folder(path: Path) -> bool:
    return path.is_dir() or not path.suffix or str(path).endswith(os.sep)


def _check_kind(path: Path, param: str, suffixes: tuple[str, ...], kind: str) -> None:
    """Refuse GDAL paths and file names of another format for an output."""
    if is_gdal_path(path):
        raise ConfigError(
            f"`{param}` {str(path)!r} is not a local path",
            param=param,
            value=str(path),
            hint="write outputs to a local file or folder",
        )
    if not _is_folder(path) and path.suffix.lower() not in suffixes:
        raise ConfigError(
            f"`{param}` {str(path)!r} must be a {kind} ({' or '.join(suffixes)}) or a folder",
            param=param,
            value=str(path),
            hint=f"give a {suffixes[0]} file name (or a folder)",
        )


def plan_outputs(
    rasters: Sequence[RasterPath],
    out: Path,
    probabilities: bool = False,
    vectorize: Path | None = None,
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> list[OutputPaths]:
    """Name the outputs: ``out`` is a file for one raster, else a folder of ``<stem>_roads.tif``.

    Outputs must be distinct from each other and from every input (``rasters`` and
    the files in ``inputs``, parameter → path).

    >>> [p.classes.as_posix() for p in plan_outputs([Path("a.tif"), Path("b.png")], Path("o"))]
    ['o/a_roads.tif', 'o/b_roads.tif']
    >>> plan_outputs([Path("a.tif")], Path("x.tif"), True)[0].probabilities.as_posix()
    'x_proba.tif'
    >>> plan_outputs([Path("a.tif")], Path("x.tif"), vectorize=Path("x.tif"))
    Traceback (most recent call last):
    roadseg.errors.ConfigError: vectorize 'x.tif' must be a GeoPackage (.gpkg) or a folder; give a .gpkg file name (or a folder)
    """
    several = len(rasters) > 1
    _check_kind(out, "out", RASTER_SUFFIXES, "GeoTIFF")
    if vectorize is not None:
        _check_kind(vectorize, "vectorize", VECTOR_SUFFIXES, "GeoPackage")
    if several and out.suffix.lower() in RASTER_SUFFIXES and not out.is_dir():
        raise ConfigError(
            f"`out` {str(out)!r} names a file but {len(rasters)} rasters were given",
            param="out",
            value=str(out),
            hint="give a folder as `out`",
        )
    if several and vectorize is not None and vectorize.suffix.lower() in VECTOR_SUFFIXES:
        raise ConfigError(
            f"`vectorize` {str(vectorize)!r} names a file but {len(rasters)} rasters were given",
            param="vectorize",
            value=str(vectorize),
            hint="give a folder as `vectorize`",
        )
    out_folder = several or _is_folder(out)
    vec_folder = vectorize is not None and (several or _is_folder(vectorize))
    stems = [stem_of(r) for r in rasters]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if (out_folder or vec_folder) and dupes:
        raise ConfigError(
            f"several inputs are named {dupes[0]!r}; their outputs in {str(out)!r} would clash",
            param="rasters",
            hint="predict them in separate runs or rename them",
        )
    plans = []
    for r, stem in zip(rasters, stems, strict=True):
        cls = out / f"{stem}{ROADS_SUFFIX}.tif" if out_folder else out
        vec = None
        if vectorize is not None:
            vec = vectorize / f"{stem}{ROADS_SUFFIX}.gpkg" if vec_folder else vectorize
        plans.append(OutputPaths(r, cls, proba_path_for(cls) if probabilities else None, vec))
    _check_distinct(plans, inputs or {})
    return plans


def _check_distinct(
    plans: list[OutputPaths], inputs: Mapping[str, str | os.PathLike[str] | None]
) -> None:
    """Refuse an output that is an input, or two outputs that are one file."""
    named: list[tuple[str, Path]] = []
    for p in plans:
        named.append(("out", p.classes))
        if p.probabilities is not None:
            named.append(("probabilities", p.probabilities))
        if p.vectors is not None:
            named.append(("vectorize", p.vectors))
    ins: list[tuple[str, str | os.PathLike[str]]] = [("rasters", p.raster) for p in plans]
    ins += [(k, v) for k, v in inputs.items() if v is not None]
    in_keys = {file_key(src): param for param, src in ins}
    seen: dict[str, str] = {}
    for param, path in named:
        key = file_key(path)
        if key in in_keys:
            raise ConfigError(
                f"`{param}` {str(path)!r} is the input `{in_keys[key]}`",
                param=param,
                value=str(path),
                hint="choose another name; inputs are never overwritten",
            )
        if key in seen:
            raise ConfigError(
                f"`{param}` {str(path)!r} is also the `{seen[key]}` output",
                param=param,
                value=str(path),
                hint="give each output its own name",
            )
        seen[key] = param


def declare_outputs(outs: OutputSet, plans: Sequence[OutputPaths]) -> None:
    """Claim every output of a prediction before any work starts (see :class:`OutputSet`)."""
    for p in plans:
        outs.declare(p.classes, "out")
        if p.probabilities is not None:
            outs.declare(p.probabilities, "out")
        if p.vectors is not None:
            outs.declare(p.vectors, "vectorize")


class PredictionSink:
    """Receives finished rows of probabilities on the output grid; writes both rasters.

    Rows come panel by panel (column ranges, left to right; each panel top to bottom).
    They are buffered to whole rows of TIFF blocks so every block is written once,
    complete (no partially written compressed blocks, bounded GDAL cache; panels
    start on block columns).

    Args:
        paths: Where to write.
        grid: Output grid.
        classes: The model's classes (names, colours, widths go into the files).
        cog: Write Cloud-Optimised GeoTIFFs.
        extra_tags: More metadata (model name, engine version...).
        blocksize: TIFF block side.

    """

    def __init__(
        self,
        paths: OutputPaths,
        grid: Grid,
        classes: Classes,
        *,
        cog: bool = False,
        extra_tags: dict[str, str] | None = None,
        blocksize: int = 256,
    ) -> None:
        self.grid = grid
        self.k = classes.num_classes
        self.blocksize = blocksize
        self._writers: list[GeoTiffWriter] = []
        kw = {"cog": cog, "blocksize": blocksize, "extra_tags": extra_tags}
        self.classes = class_raster_writer(paths.classes, grid, classes, **kw)  # type: ignore[arg-type]
        self._writers.append(self.classes)
        self.proba: GeoTiffWriter | None = None
        if paths.probabilities is not None:
            self.proba = probability_writer(paths.probabilities, grid, classes, **kw)  # type: ignore[arg-type]
            self._writers.append(self.proba)
        self._pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._pending_rows = 0
        self._written = 0
        self._col0 = 0  # first column of the panel being written
        self._panel_w = 0  # its width (0: nothing pushed yet)

    def push(
        self,
        first_row: int,
        classes: np.ndarray,
        proba: np.ndarray | None,
        valid: np.ndarray,
        col0: int = 0,
    ) -> None:
        """Add output rows from ``first_row``: classes (n, w) and probabilities (K, n, w), uint8.

        ``col0`` is the first column of the panel (the whole width when 0 and ``w`` is
        the grid's). Pixels where ``valid`` (n, w) is False become nodata (255;
        probabilities 0 and masked).
        """
        if col0 != self._col0:
            self._finish_panel(col0)
        if first_row != self._written + self._pending_rows:
            raise RuntimeError(
                f"rows out of order: got {first_row}, expected {self._written + self._pending_rows}"
            )
        if classes.shape[0] == 0:
            return
        self._panel_w = classes.shape[1]
        classes[~valid] = NODATA
        pu8 = None
        if self.proba is not None:
            if proba is None:
                raise ValueError("this sink writes probabilities: pass them")
            pu8 = proba
            pu8[:, ~valid] = 0
        self._pending.append((classes, pu8))
        self._pending_rows += classes.shape[0]
        if self._pending_rows >= self.blocksize:
            self._flush(whole_blocks=True)

    def _flush(self, whole_blocks: bool) -> None:
        if not self._pending:
            return
        cls = np.concatenate([c for c, _ in self._pending], axis=0)
        pu8 = (
            np.concatenate([p for _, p in self._pending if p is not None], axis=1)
            if self.proba is not None
            else None
        )
        n = cls.shape[0]
        take = (n // self.blocksize) * self.blocksize if whole_blocks else n
        if take == 0:
            return
        win = Window(self._col0, self._written, cls.shape[1], take)
        self.classes.write(cls[:take], win)
        if self.proba is not None and pu8 is not None:
            self.proba.write(pu8[:, :take], win)
            self.proba.write_mask(cls[:take] != NODATA, win)
        self._written += take
        rest_c = cls[take:]
        rest_p = pu8[:, take:] if pu8 is not None else None
        self._pending = [(rest_c, rest_p)] if rest_c.shape[0] else []
        self._pending_rows = rest_c.shape[0]

    def _finish_panel(self, next_col0: int) -> None:
        """Write the rest of the current panel (all its rows) and start the one at ``next_col0``."""
        self._flush(whole_blocks=False)
        if self._written != self.grid.height:
            raise RuntimeError(f"wrote {self._written} of {self.grid.height} rows")
        if next_col0 != self._col0 + self._panel_w:
            raise RuntimeError(f"panels out of order: got column {next_col0}")
        self._col0, self._panel_w, self._written = next_col0, 0, 0

    def commit(self) -> None:
        """Write what is left and move the files into place (probabilities first)."""
        self._finish_panel(self.grid.width)
        for w in reversed(self._writers):
            w.commit()

    def abort(self) -> None:
        """Delete the temporary files; existing outputs stay untouched."""
        for w in self._writers:
            w.abort()
