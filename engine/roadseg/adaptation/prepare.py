"""Turning the user's rasters and labels into an adaptation's training and hold-out data.

For every raster the labels are rasterised once, strip by strip (memory bounded by a
strip), into a uint8 GeoTIFF of the model's codes on the raster's own grid, cropped to
where the labels are complete (``labels_<i>.tif`` in the work folder):

* ``0`` background, ``1…`` the model's road classes, ``254`` road of unknown class,
  ``255`` ignored: outside the area, no imagery, or not a road (footways...);
* the area is ``area`` (polygons, any CRS), else the labels' convex hull widened by
  half the widest road (:func:`roadseg.geo.area.default_area`); raster masks and plain
  images count as complete over the whole image;
* label features follow :mod:`roadseg.adaptation.classmap`; masks follow ``mask_values``,
  ``mask_colors`` or ``mask_threshold`` as in ``roadseg.train``.

The crop is cut into blocks of one model tile and counted (labelled and road pixels): the
hold-out is chosen from them (:mod:`.holdout`) and written by :mod:`.training_data`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.windows import Window

from roadseg.adaptation.holdout import Block
from roadseg.adaptation.roads import RoadLayer, read_roads
from roadseg.data.catalog import resolve_scheme
from roadseg.data.labelmap import ANY_ROAD, IGNORE, class_lut
from roadseg.errors import ConfigError, DataError, LabelError, about, warn
from roadseg.geo.area import area_mask, default_area, pixel_window, read_area
from roadseg.geo.grid import Grid, metric_crs_for
from roadseg.geo.labels import RASTER_SUFFIXES, MaskLabels
from roadseg.geo.raster import RasterSource, open_raster
from roadseg.models import ModelMeta

#: Rows of label codes rasterised at a time (rounded to whole blocks).
STRIP_ROWS = 1024
#: Mask codes of the files training reads: the model's classes, unknown-class road, ignore.
MODEL_CODES_NOTE = "0 background, 1… model classes, 254 road of unknown class, 255 ignored"


@dataclass(frozen=True)
class LabelOptions:
    """How the labels are read (the options of ``roadseg adapt``).

    Attributes:
        area: Polygons where the labels are complete.
        class_field: Attribute holding the road class of vector labels.
        class_map: ``value=class,...`` for that attribute.
        mask_colors: Colour-coded masks: ``"110,193,228=road; 155,155,155=ignore"``.
        mask_values: Index masks: ``"0=background,1=road,255=ignore"``.
        mask_threshold: Soft masks: values ≥ this are road.
        gsd: Pixel size (m) of plain images without georeferencing.

    """

    area: Path | None = None
    class_field: str | None = None
    class_map: str | None = None
    mask_colors: str | None = None
    mask_values: str | None = None
    mask_threshold: float | None = None
    gsd: float | None = None


@dataclass
class LabelledCrop:
    """One raster's labelled crop, its codes file and its blocks."""

    index: int
    image: Path
    labels: Path
    codes: Path
    window: Window
    full: bool
    block_px: tuple[int, int]
    blocks: list[Block]
    georeferenced: bool
    pixel_m2: float
    area_source: str
    area_px: int
    layer: dict[str, Any] = field(default_factory=dict)

    @property
    def labelled(self) -> int:
        """Labelled source pixels."""
        return sum(b.labelled for b in self.blocks)

    @property
    def road(self) -> int:
        """Road source pixels."""
        return sum(b.road for b in self.blocks)

    def summary(self) -> dict[str, Any]:
        """JSON-able description (no absolute paths beyond the inputs)."""
        return {
            "image": str(self.image),
            "labels": str(self.labels),
            "area": self.area_source,
            "area_m2": round(self.area_px * self.pixel_m2, 1),
            "labelled_m2": round(self.labelled * self.pixel_m2, 1),
            "road_m2": round(self.road * self.pixel_m2, 1),
            "crop": [int(self.window.col_off), int(self.window.row_off)]
            + [int(self.window.width), int(self.window.height)],
            **({"layer": self.layer} if self.layer else {}),
        }


def model_codes(meta: ModelMeta) -> tuple[str, str]:
    """The class preset and ``mask_values`` that read the codes files as the model's classes.

    >>> from roadseg.models import read_meta
    >>> model_codes(read_meta("default"))
    ('roads3', '0=background,1=major,2=minor,3=track,254=road,255=ignore')
    """
    names = [n.lower() for n in meta.classes]
    if names == ["background", "major", "minor", "track"]:
        preset = "roads3"
    elif names == ["background", "road"]:
        preset = "binary"
    else:
        preset = "auto"
    parts = [f"{i}={n}" for i, n in enumerate(meta.classes)]
    if preset != "auto" and len(names) > 2:
        parts.append(f"{ANY_ROAD}=road")
    return preset, ",".join(parts + [f"{IGNORE}=ignore"])


def _block_px(raster: RasterSource, meta: ModelMeta, tile: int) -> tuple[int, int]:
    gx, gy = raster.gsd_m()
    return (
        max(1, int(math.floor(tile * meta.gsd_m / gx + 1e-6))),
        max(1, int(math.floor(tile * meta.gsd_m / gy + 1e-6))),
    )


class _Labels:
    """Codes of one raster's labels on any strip grid (vector or mask labels)."""

    def __init__(
        self, path: Path, raster: RasterSource, meta: ModelMeta, opts: LabelOptions
    ) -> None:
        self.path = path
        self.layer: RoadLayer | None = None
        self.mask: MaskLabels | None = None
        self.lut: np.ndarray | None = None
        if path.suffix.lower() in RASTER_SUFFIXES:
            scheme, mask = resolve_scheme(
                "auto",
                path,
                mask_colors=opts.mask_colors,
                mask_values=opts.mask_values,
                mask_threshold=opts.mask_threshold,
                target=meta.scheme,
            )
            gsd = raster.grid.pixel_m if raster.grid.crs is None else None
            self.mask = MaskLabels(path, scheme, gsd=gsd, **mask.as_kwargs())
            grid = self.mask.grid
            if raster.grid.crs is None and (grid.width, grid.height) != (
                raster.width,
                raster.height,
            ):
                raise DataError(
                    f"mask {str(path)!r} is {grid.width}x{grid.height} px but image "
                    f"{str(raster.path)!r} is {raster.width}x{raster.height}",
                    param="labels",
                    value=str(path),
                    hint="pair each image with its own mask",
                )
            self.lut = class_lut(scheme.names, meta.classes, f"mask {str(path)!r}")
        else:
            if raster.grid.crs is None:
                raise ConfigError(
                    f"vector labels {str(path)!r} need georeferenced imagery, but "
                    f"{str(raster.path)!r} has no CRS",
                    param="labels",
                    value=str(path),
                    hint="georeference the image or give a mask",
                )
            self.layer = read_roads(
                path,
                raster.grid.crs,
                metric_crs_for(raster.grid),
                meta.classes,
                meta.widths_m,
                opts.class_field,
                opts.class_map,
            )
            self.tree = shapely.STRtree(self.layer.surfaces)

        # A model whose classes are not a preset cannot read "road of unknown class".
        self.unknown_to_ignore = model_codes(meta)[0] == "auto" and len(meta.classes) > 2
        if self.unknown_to_ignore:
            warn(
                f"the model's classes ({', '.join(meta.classes)}) are no preset: roads of "
                "unknown class are ignored; map every road to a class with `class_field` "
                "and `class_map`"
            )

    def codes(self, grid: Grid) -> np.ndarray:
        """Codes (uint8, H×W) on ``grid``."""
        if self.mask is not None:
            out = self.mask.rasterize(grid)
            if self.lut is not None:
                out = self.lut[out]
        else:
            assert self.layer is not None
            out = np.zeros(grid.shape, dtype=np.uint8)
            idx = np.sort(self.tree.query(shapely.box(*grid.bounds)))
            if idx.size:
                shapes = zip(self.layer.surfaces[idx], self.layer.codes[idx], strict=True)
                rasterize(shapes, out_shape=grid.shape, transform=grid.transform, out=out)
        if self.unknown_to_ignore:
            out[out == ANY_ROAD] = IGNORE
        return out


def _area(
    raster: RasterSource, labels: _Labels, opts: LabelOptions, meta: ModelMeta
) -> tuple[shapely.Geometry | None, str]:
    """The area in the raster's CRS (None: the whole image) and how it was chosen."""
    if opts.area is not None:
        if raster.grid.crs is None:
            raise ConfigError(
                f"`area` needs georeferenced imagery; {str(raster.path)!r} has no CRS "
                "(plain images are taken as labelled everywhere)",
                param="area",
                value=str(opts.area),
            )
        return read_area(opts.area, raster.grid.crs), "file"
    if labels.layer is None:
        return None, "whole image"
    roads = labels.layer.geoms[labels.layer.codes != IGNORE]
    if roads.size == 0:
        raise LabelError(
            f"labels {str(labels.path)!r} hold only ways that are not roads (footways, paths...)",
            param="labels",
            value=str(labels.path),
        )
    metric = metric_crs_for(raster.grid)
    import geopandas as gpd

    g = gpd.GeoSeries(roads, crs=raster.grid.crs).to_crs(metric)
    hull = default_area(np.asarray(g.values), max(meta.widths_m) / 2)
    return gpd.GeoSeries([hull], crs=metric).to_crs(raster.grid.crs).iloc[0], "convex hull"


def label_crop(
    index: int,
    image: Path,
    labels_path: Path,
    meta: ModelMeta,
    tile: int,
    opts: LabelOptions,
    work: Path,
    bands: Sequence[int] | None = None,
) -> LabelledCrop:
    """Rasterise one raster's labels into ``work/labels_<index>.tif`` and count its blocks."""
    with about("rasters"):
        raster = open_raster(image, bands=bands, gsd=opts.gsd)
    try:
        raster.require_georeference("gsd")
        labels = _Labels(labels_path, raster, meta, opts)
        geom, how = _area(raster, labels, opts, meta)
        if geom is None:
            c0, r0, c1, r1 = 0, 0, raster.width, raster.height
        else:
            win = pixel_window(geom, raster.grid)
            if win is None:
                param = "area" if opts.area is not None else "labels"
                what = "`area`" if opts.area is not None else f"labels {str(labels_path)!r}"
                raise LabelError(
                    f"{what} does not overlap raster {str(image)!r}",
                    param=param,
                    hint="give an area and labels over the imagery",
                )
            c0, r0, c1, r1 = win
        window = Window(c0, r0, c1 - c0, r1 - r0)
        bw, bh = _block_px(raster, meta, tile)
        codes_path = work / f"labels_{index}.tif"
        blocks, area_px = _write_codes(raster, labels, geom, window, (bw, bh), codes_path, index)
        gx, gy = raster.gsd_m()
        return LabelledCrop(
            index,
            Path(image),
            Path(labels_path),
            codes_path,
            window,
            (c0, r0, c1, r1) == (0, 0, raster.width, raster.height),
            (bw, bh),
            blocks,
            raster.grid.crs is not None,
            gx * gy,
            how,
            area_px,
            labels.layer.as_dict() if labels.layer is not None else {},
        )
    finally:
        raster.close()


def _profile(grid: Grid, nodata: int | None = IGNORE) -> dict[str, Any]:
    prof: dict[str, Any] = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "uint8",
        "nodata": nodata,
        "compress": "deflate",
    }
    if grid.width >= 256 and grid.height >= 256:
        prof.update(tiled=True, blockxsize=256, blockysize=256)
    if grid.crs is not None:
        prof.update(crs=grid.crs, transform=grid.transform)
    return prof


def _write_codes(
    raster: RasterSource,
    labels: _Labels,
    geom: shapely.Geometry | None,
    window: Window,
    block: tuple[int, int],
    out: Path,
    index: int,
) -> tuple[list[Block], int]:
    bw, bh = block
    w, h = int(window.width), int(window.height)
    strip = bh * max(1, STRIP_ROWS // bh)
    crop_grid = raster.grid.window_grid(window)
    blocks: list[Block] = []
    area_px = 0
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(out, "w", **_profile(crop_grid)) as dst:
            for y in range(0, h, strip):
                sh = min(strip, h - y)
                g = raster.grid.window_grid(Window(window.col_off, window.row_off + y, w, sh))
                codes = labels.codes(g)
                inside = np.ones(g.shape, dtype=bool) if geom is None else area_mask(geom, g)
                valid = (
                    raster.dataset.dataset_mask(
                        window=Window(window.col_off, window.row_off + y, w, sh)
                    )
                    > 0
                )
                inside &= valid
                area_px += int(inside.sum())
                codes[~inside] = IGNORE
                dst.write(codes[None], window=Window(0, y, w, sh))
                blocks += _count_blocks(codes, index, y // bh, bw, bh)
    return blocks, area_px


def _count_blocks(codes: np.ndarray, index: int, row0: int, bw: int, bh: int) -> list[Block]:
    """Labelled and road pixels of every block of a strip.

    >>> c = np.zeros((4, 6), np.uint8); c[:, 5] = 255; c[0, 0] = 1
    >>> [(b.row, b.col, b.pixels, b.labelled, b.road) for b in _count_blocks(c, 0, 3, 3, 4)]
    [(3, 0, 12, 12, 1), (3, 1, 12, 8, 0)]
    """
    out = []
    h, w = codes.shape
    for r in range(0, h, bh):
        for c in range(0, w, bw):
            sub = codes[r : r + bh, c : c + bw]
            lab = sub != IGNORE
            out.append(
                Block(
                    index,
                    row0 + r // bh,
                    c // bw,
                    int(sub.size),
                    int(lab.sum()),
                    int((lab & (sub > 0)).sum()),
                )
            )
    return out


def labelled_working_px(crops: Sequence[LabelledCrop], gsd_m: float) -> int:
    """Labelled pixels of all crops at the model's resolution.

    >>> labelled_working_px([], 0.5)
    0
    """
    return int(sum(c.labelled * c.pixel_m2 for c in crops) / (gsd_m * gsd_m))


def pair_inputs(
    rasters: Sequence[str | os.PathLike[str]], labels: Sequence[str | os.PathLike[str]]
) -> list[tuple[Path, Path]]:
    """Pair rasters with labels: one label file for all, or one per raster in order.

    >>> pair_inputs(["a.tif", "b.tif"], ["roads.gpkg"])
    [(PosixPath('a.tif'), PosixPath('roads.gpkg')), (PosixPath('b.tif'), PosixPath('roads.gpkg'))]
    """
    if not rasters:
        raise ConfigError(
            "no imagery", param="rasters", hint="give `rasters` with `labels`, or a `dataset`"
        )
    if not labels:
        raise ConfigError(
            "no labels",
            param="labels",
            hint="give road lines or polygons (e.g. OpenStreetMap) or a mask as `labels`",
        )
    if len(labels) == 1:
        return [(Path(r), Path(labels[0])) for r in rasters]
    if len(labels) != len(rasters):
        raise ConfigError(
            f"{len(rasters)} raster(s) but {len(labels)} `labels`",
            param="labels",
            hint="give one label file for all rasters or one per raster, in the same order",
        )
    return [(Path(r), Path(lab)) for r, lab in zip(rasters, labels, strict=True)]
