"""Reading the truth: vector labels or a raster, on the prediction's grid and classes.

Per-class metrics need the truth in the prediction's classes. Vector labels
are rasterised with a class scheme whose names match the prediction's (a preset
chosen by ``scheme`` or found from the label attributes); a class raster with
the same ``ROADSEG_CLASSES`` is used as is. Otherwise both sides are compared as
road / not road (``mode == "binary"``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from rasterio.windows import Window

from roadseg.data.catalog import MaskOptions
from roadseg.errors import InputNotFoundError, LabelError, RasterReadError
from roadseg.geo.classes import PRESETS, Classes, ClassScheme
from roadseg.geo.classraster import NODATA, ClassRaster, read_class_tags
from roadseg.geo.grid import Grid
from roadseg.geo.labels import RASTER_SUFFIXES, MaskLabels, VectorLabels


@dataclass
class Truth:
    """Truth labels ready for evaluation.

    Attributes:
        path: The truth file.
        kind: ``"vector"`` or ``"raster"``.
        labels: Rasterises class ids into any grid.
        mode: ``"classes"`` (per-class comparison) or ``"binary"`` (road / not road).
        classes: The classes compared.
        scheme: Name of the class scheme used for vector labels (None for rasters).
        lines: Truth centrelines in the raster CRS (vector truth made of lines), else None.

    """

    path: Path
    kind: str
    labels: VectorLabels | MaskLabels
    mode: str
    classes: Classes
    scheme: str | None = None
    lines: gpd.GeoDataFrame | None = None

    @property
    def binary(self) -> bool:
        """True when road / not road is compared (class ids are collapsed to 0/1)."""
        return self.classes.num_classes == 2


def binary_classes(pred: Classes) -> Classes:
    """Road / not road, with the widest predicted width."""
    return pred.road_or_not()


def to_binary(a: np.ndarray) -> np.ndarray:
    """Any road class → 1; background and nodata kept.

    >>> to_binary(np.array([0, 1, 3, 255], np.uint8)).tolist()
    [0, 1, 1, 255]
    """
    return np.where((a > 0) & (a != NODATA), 1, a).astype(np.uint8)


def open_truth(
    path: str | os.PathLike[str],
    pred: ClassRaster,
    class_field: str | None = None,
    scheme: str | None = None,
    mask: tuple[ClassScheme, MaskOptions] | None = None,
) -> Truth:
    """Open the truth for a prediction raster (see the module docstring).

    ``mask`` (from :meth:`EvaluateOptions.truth_mask`) reads a truth mask through a
    colour or value map or a threshold: road / background / ignored, compared as
    road / not road.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(
            f"`truth` {str(p)!r} does not exist", param="truth", value=str(p), hint="check the path"
        )
    if p.suffix.lower() in RASTER_SUFFIXES:
        return _raster_truth(p, pred, mask)
    if mask is not None:
        raise LabelError(
            f"`truth` {str(p)!r} is a vector file; a colour or value map or a threshold reads "
            "a truth mask",
            param="truth",
            value=str(p),
            hint="leave out `mask_colors`, `mask_values` and `mask_threshold` for road vectors",
        )
    return _vector_truth(p, pred, class_field, scheme)


def _raster_truth(
    p: Path, pred: ClassRaster, mask: tuple[ClassScheme, MaskOptions] | None
) -> Truth:
    try:
        tagged = read_class_tags(p)
    except RasterReadError:
        raise LabelError(
            f"`truth` {str(p)!r} is not a raster GDAL can read",
            param="truth",
            value=str(p),
            hint="give a class raster or a mask",
        ) from None
    pc = pred.classes
    if mask is None and pc.num_classes > 2 and tagged is not None and tagged.names == pc.names:
        scheme = ClassScheme(pc.names, pc.colors, pc.widths_m)
        return Truth(p, "raster", MaskLabels(p, scheme, gsd=pred.grid.pixel_m), "classes", pc)
    binary, opts = mask if mask is not None else (PRESETS["binary"], MaskOptions())
    labels = MaskLabels(p, binary, gsd=pred.grid.pixel_m, **opts.as_kwargs())
    return Truth(
        p, "raster", labels, "binary" if pc.num_classes > 2 else "classes", binary_classes(pc)
    )


def _choose_scheme(
    columns: list[str], class_field: str | None, scheme: str | None
) -> ClassScheme | None:
    if scheme is not None:
        s = ClassScheme.preset(scheme)
        return s.with_field(class_field) if class_field else s
    for name in ("synth", "spacenet", "osm"):
        s = PRESETS[name]
        if class_field is not None and s.field == class_field and class_field in columns:
            return s
        if class_field is None and s.field in columns:
            return s
    return None


def _vector_truth(p: Path, pred: ClassRaster, class_field: str | None, scheme: str | None) -> Truth:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pyogrio

            columns = list(pyogrio.read_info(p)["fields"])
    except Exception:  # noqa: BLE001 - pyogrio raises several types
        raise LabelError(
            f"`truth` {str(p)!r} is neither a raster nor a vector file GDAL can read",
            param="truth",
            value=str(p),
            hint="give a GeoPackage/GeoJSON/Shapefile of roads or a class raster",
        ) from None
    if class_field is not None and class_field not in columns:
        raise LabelError(
            f"`truth` {str(p)!r} has no attribute {class_field!r}",
            param="class_field",
            value=class_field,
            hint=f"give `class_field`, one of: {', '.join(columns) or '(none)'}",
        )
    chosen = _choose_scheme(columns, class_field, scheme)
    pc = pred.classes
    if chosen is not None and pc.num_classes > 2 and chosen.names == pc.names:
        mode, classes = "classes", pc
    else:
        mode, classes = ("binary" if pc.num_classes > 2 else "classes"), binary_classes(pc)
    if chosen is None:
        chosen = ClassScheme(classes.names, classes.colors, classes.widths_m)
    labels = VectorLabels(p, chosen, pred.grid, class_field=class_field, on_unknown="ignore")
    name = scheme or next((k for k, v in PRESETS.items() if v is chosen), None)
    line_kinds = labels.lines.geometry.geom_type.isin(["LineString", "MultiLineString"])
    lines = labels.lines if bool(line_kinds.all()) else None
    return Truth(p, "vector", labels, mode, classes, name, lines)


class TruthSource:
    """A class source (for :func:`roadseg.vectorization.extract.extract`) over rasterised truth."""

    def __init__(self, truth: Truth, grid: Grid) -> None:
        self.truth = truth
        self.grid = grid
        self.classes = truth.classes

    def read(self, window: Window) -> np.ndarray:
        """Truth class ids in a window of the prediction grid."""
        a = self.truth.labels.rasterize(self.grid.window_grid(window))
        return to_binary(a) if self.truth.binary else a
