"""The class raster format: written by prediction, read by vectorising and evaluation.

A class raster is a single-band uint8 GeoTIFF: 0 background, 1..K-1 road
classes, 255 nodata, a palette of the class colours (nodata transparent) and
the tags ``ROADSEG_CLASSES`` (JSON list of names, ``[0] == "background"``),
``ROADSEG_COLORS`` and ``ROADSEG_WIDTHS_M``. Rasters without the tags are read
too: every non-zero value below 255 is a road class named ``class_<id>``.
The optional probability raster beside it has one uint8 band per class
(probability × 255) and an internal mask for nodata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from roadseg.errors import CRSError, DataError, RasterReadError, about
from roadseg.geo.classes import DEFAULT_COLOR, DEFAULT_WIDTH_M, Classes
from roadseg.geo.grid import Grid
from roadseg.geo.raster import dataset_grid, open_dataset
from roadseg.geo.writer import GeoTiffWriter

#: Nodata / ignore value of class rasters.
NODATA = 255
#: Tag holding the class names (JSON list).
CLASSES_TAG = "ROADSEG_CLASSES"
#: Tag holding the class colours (JSON list of RGB lists).
COLORS_TAG = "ROADSEG_COLORS"
#: Tag holding the class widths in metres (JSON list).
WIDTHS_TAG = "ROADSEG_WIDTHS_M"
#: Tag holding a plain image's pixel size in metres on its class and probability rasters,
#: which have no georeferencing either: reading them needs no ``gsd`` again.
PIXEL_SIZE_TAG = "ROADSEG_PIXEL_SIZE_M"
#: Integer types a class raster may have (uint8 as written; others are read too).
CLASS_DTYPES = ("uint8", "int8", "uint16", "int16", "int32", "uint32")


def grid_tags(grid: Grid) -> dict[str, str]:
    """Tags a raster on ``grid`` needs besides its georeferencing: a plain grid's pixel size.

    >>> from affine import Affine
    >>> grid_tags(Grid(None, Affine.identity(), 4, 4, 1.5))
    {'ROADSEG_PIXEL_SIZE_M': '1.5'}
    >>> grid_tags(Grid("EPSG:32611", Affine(0.5, 0, 0, 0, -0.5, 0), 4, 4))
    {}
    """
    if grid.crs is None and grid.pixel_m is not None:
        return {PIXEL_SIZE_TAG: f"{grid.pixel_m:g}"}
    return {}


def tagged_pixel_size(tags: Mapping[str, str]) -> float | None:
    """The pixel size a plain prediction's raster carries (None: none, or not a size).

    >>> tagged_pixel_size({PIXEL_SIZE_TAG: "1.5"}), tagged_pixel_size({PIXEL_SIZE_TAG: "x"})
    (1.5, None)
    """
    try:
        v = float(tags[PIXEL_SIZE_TAG])
    except (KeyError, ValueError):
        return None
    return v if 0 < v < float("inf") else None


def class_tags(classes: Classes) -> dict[str, str]:
    """The class raster's metadata tags.

    >>> class_tags(Classes.untagged(1))["ROADSEG_CLASSES"]
    '["background", "class_1"]'
    """
    return {
        CLASSES_TAG: json.dumps(list(classes.names)),
        COLORS_TAG: json.dumps([list(c) for c in classes.colors]),
        WIDTHS_TAG: json.dumps(list(classes.widths_m)),
    }


def parse_class_tags(tags: Mapping[str, str]) -> Classes | None:
    """The classes in a raster's tags (None when absent or unusable).

    Missing or malformed colours and widths get defaults; a width ≤ 0 becomes the
    default width.

    >>> parse_class_tags({"ROADSEG_CLASSES": '["background", "road"]'}).widths_m
    (0.0, 6.0)
    >>> parse_class_tags({}) is None
    True
    """
    try:
        names = tuple(str(n) for n in json.loads(tags.get(CLASSES_TAG) or "[]"))
    except (ValueError, TypeError):
        return None
    if len(names) < 2:
        return None
    k = len(names)
    try:
        colors = tuple(tuple(int(v) for v in c) for c in json.loads(tags.get(COLORS_TAG, "[]")))
    except (ValueError, TypeError):
        colors = ()
    if len(colors) != k or any(len(c) < 3 for c in colors):
        colors = ((0, 0, 0), *(DEFAULT_COLOR,) * (k - 1))
    try:
        widths = tuple(float(w) for w in json.loads(tags.get(WIDTHS_TAG, "[]")))
    except (ValueError, TypeError):
        widths = ()
    if len(widths) != k:
        widths = (0.0, *(DEFAULT_WIDTH_M,) * (k - 1))
    widths = (0.0, *(w if w > 0 else DEFAULT_WIDTH_M for w in widths[1:]))
    return Classes.of(names, colors, widths)


def palette(classes: Classes) -> dict[int, tuple[int, int, int, int]]:
    """Band-1 colour table: class colours, nodata transparent.

    >>> palette(Classes.untagged(1))[1], palette(Classes.untagged(1))[255]
    ((255, 140, 0, 255), (0, 0, 0, 0))
    """
    cmap = {i: (c[0], c[1], c[2], 255) for i, c in enumerate(classes.colors)}
    cmap[NODATA] = (0, 0, 0, 0)
    return cmap


def class_raster_writer(
    path: str | os.PathLike[str],
    grid: Grid,
    classes: Classes,
    *,
    cog: bool = False,
    blocksize: int = 256,
    extra_tags: Mapping[str, str] | None = None,
) -> GeoTiffWriter:
    """A writer of the class raster format (uint8, nodata 255, palette, class tags)."""
    return GeoTiffWriter(
        path,
        grid,
        1,
        "uint8",
        nodata=NODATA,
        cog=cog,
        blocksize=blocksize,
        colormap=palette(classes),
        descriptions=["class"],
        tags={**class_tags(classes), **grid_tags(grid), **(extra_tags or {})},
    )


def probability_writer(
    path: str | os.PathLike[str],
    grid: Grid,
    classes: Classes,
    *,
    cog: bool = False,
    blocksize: int = 256,
    extra_tags: Mapping[str, str] | None = None,
) -> GeoTiffWriter:
    """A writer of the probability raster beside a class raster (uint8 × 255 per class)."""
    return GeoTiffWriter(
        path,
        grid,
        classes.num_classes,
        "uint8",
        nodata=None,
        cog=cog,
        blocksize=blocksize,
        descriptions=[f"p({c})" for c in classes.names],
        tags={
            **class_tags(classes),
            **grid_tags(grid),
            **(extra_tags or {}),
            "ROADSEG_PROBABILITY_SCALE": "255",
        },
    )


def read_class_tags(path: str | os.PathLike[str]) -> Classes | None:
    """The classes tagged in any raster (None without tags), reading nothing else."""
    _, ds = open_dataset(path)
    with ds:
        return parse_class_tags(ds.tags())


class ClassRaster:
    """An open class raster: grid, classes and windowed reads of class ids.

    Args:
        path: The class raster (single band, integer values 0..255).
        param: The parameter naming it, for messages.
        gsd: Pixel size in metres for rasters without georeferencing (default: the
            :data:`PIXEL_SIZE_TAG` a plain image's prediction carries).

    Attributes:
        classes: The tagged classes, or ``class_1`` for an untagged raster (see
            :meth:`Classes.untagged`; the vectoriser widens them to the highest id).
        tagged: Whether the raster carries the class tags.

    Raises:
        InputNotFoundError: the file does not exist.
        RasterReadError: GDAL cannot read it.
        DataError: it is not a class raster (several bands, float values...).
        CRSError: no georeferencing, no ``gsd`` and no pixel size tag.

    """

    def __init__(
        self, path: str | os.PathLike[str], param: str = "class_raster", gsd: float | None = None
    ) -> None:
        hint = "give the class GeoTIFF written by prediction"
        with about(param):
            self.path, self._ds = open_dataset(path, f"`{param}`", hint, nodata_fill=NODATA)
        ds = self._ds
        name = f"`{param}` {str(self.path)!r}"
        if ds.count != 1 or ds.dtypes[0] not in CLASS_DTYPES:
            kind = f"{ds.count} band(s) of {ds.dtypes[0]}"
            ds.close()
            raise DataError(
                f"{name} is not a class raster ({kind})",
                param=param,
                value=str(path),
                hint="give the single-band uint8 class raster written by prediction "
                "(0 background, 1.. road classes, 255 nodata)",
            )
        # A plain image's prediction carries its pixel size (``gsd`` given wins).
        grid = dataset_grid(ds, gsd if gsd is not None else tagged_pixel_size(ds.tags()))
        if grid is None:
            ds.close()
            raise CRSError(
                f"{name} has no georeferencing",
                param=param,
                value=str(path),
                hint="georeference it or give its pixel size in metres as `gsd`",
            )
        self.grid = grid
        tagged = parse_class_tags(ds.tags())
        self.tagged = tagged is not None
        self.classes = tagged or Classes.untagged(1)
        self.nodata = ds.nodata if ds.nodata is not None else NODATA

    def read(self, window: Window) -> np.ndarray:
        """Class ids (uint8, H×W) in a window inside the raster; nodata and values > 254 → 255."""
        try:
            a = self._ds.read(1, window=window)
        except RasterioIOError as exc:
            raise RasterReadError(
                f"cannot read {str(self.path)!r}: {str(exc).splitlines()[0]}"
            ) from None
        out = np.where((a < 0) | (a > 254), NODATA, a).astype(np.uint8)
        if self.nodata != NODATA and 0 <= float(self.nodata) <= 254:
            out[a == self.nodata] = NODATA
        return out

    def close(self) -> None:
        """Close the file."""
        self._ds.close()

    def __enter__(self) -> ClassRaster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_class_raster(
    path: str | os.PathLike[str], param: str = "class_raster", gsd: float | None = None
) -> ClassRaster:
    """Open and check a class raster (see :class:`ClassRaster`)."""
    return ClassRaster(path, param=param, gsd=gsd)


__all__ = [
    "CLASSES_TAG",
    "NODATA",
    "PIXEL_SIZE_TAG",
    "ClassRaster",
    "class_raster_writer",
    "class_tags",
    "grid_tags",
    "open_class_raster",
    "palette",
    "parse_class_tags",
    "probability_writer",
    "read_class_tags",
    "tagged_pixel_size",
]
