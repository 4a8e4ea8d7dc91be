"""The class raster contract (output of ``predict``, input of ``vectorize``/``evaluate``).

A class raster is a single-band uint8 GeoTIFF: 0 background, 1..K-1 road
classes, 255 nodata, with the tags ``ROADSEG_CLASSES`` (JSON list of names,
``[0] == "background"``), ``ROADSEG_COLORS`` and ``ROADSEG_WIDTHS_M``. Rasters
without the tags are accepted: every non-zero value below 255 is a road class
named ``class_<id>``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from roadseg.errors import CRSError, DataError, InputNotFoundError, RasterReadError
from roadseg.geo.grid import Grid

#: Nodata / ignore value of class rasters.
NODATA = 255
#: Width assumed for road classes of a raster without ``ROADSEG_WIDTHS_M`` (metres).
DEFAULT_WIDTH_M = 6.0


@dataclass(frozen=True)
class ClassInfo:
    """Classes of a class raster.

    Attributes:
        names: Class names, ``names[0] == "background"``.
        colors: RGB colour per class.
        widths_m: Typical road width per class in metres (``[0]`` unused).
        tagged: False when the raster had no ROADSEG tags (names were made up).

    """

    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    widths_m: tuple[float, ...]
    tagged: bool = True

    @property
    def num_classes(self) -> int:
        """Number of classes, background included."""
        return len(self.names)

    @property
    def max_width_m(self) -> float:
        """Widest road class in metres."""
        return max(self.widths_m[1:], default=DEFAULT_WIDTH_M)

    def layer_name(self, class_id: int) -> str:
        """GeoPackage polygon layer name of a class.

        >>> ClassInfo(("background", "Major road"), ((0, 0, 0),) * 2, (0.0, 8.0)).layer_name(1)
        'roads_major_road'
        """
        return "roads_" + safe_name(self.names[class_id])

    @classmethod
    def untagged(cls, max_class: int) -> ClassInfo:
        """Classes ``class_1..class_<max_class>`` for a raster without tags.

        >>> ClassInfo.untagged(2).names
        ('background', 'class_1', 'class_2')
        """
        n = max(1, int(max_class))
        names = ("background", *(f"class_{i}" for i in range(1, n + 1)))
        colors = ((0, 0, 0), *((255, 140, 0),) * n)
        return cls(names, colors, (0.0, *(DEFAULT_WIDTH_M,) * n), tagged=False)

    def with_max_class(self, max_class: int) -> ClassInfo:
        """For untagged rasters: extend to the highest class id seen; tagged: unchanged."""
        if self.tagged or max_class < self.num_classes:
            return self
        return ClassInfo.untagged(max_class)


def safe_name(name: str) -> str:
    """Return a lowercase identifier for layer and column names.

    >>> safe_name("Minor road (paved)")
    'minor_road_paved'
    """
    s = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower()).strip("_")
    return s or "class"


def parse_class_tags(tags: dict[str, str]) -> ClassInfo | None:
    """Read ``ROADSEG_CLASSES``/``COLORS``/``WIDTHS_M`` tags (None when absent or unusable).

    >>> parse_class_tags({"ROADSEG_CLASSES": '["background", "road"]'}).widths_m
    (0.0, 6.0)
    >>> parse_class_tags({}) is None
    True
    """
    raw = tags.get("ROADSEG_CLASSES")
    if not raw:
        return None
    try:
        names = tuple(str(n) for n in json.loads(raw))
    except (ValueError, TypeError):
        return None
    if len(names) < 2:
        return None
    k = len(names)
    try:
        colors = tuple(
            tuple(int(v) for v in c) for c in json.loads(tags.get("ROADSEG_COLORS", "[]"))
        )
    except (ValueError, TypeError):
        colors = ()
    if len(colors) != k:
        colors = ((0, 0, 0), *((255, 140, 0),) * (k - 1))
    try:
        widths = tuple(float(w) for w in json.loads(tags.get("ROADSEG_WIDTHS_M", "[]")))
    except (ValueError, TypeError):
        widths = ()
    if len(widths) != k:
        widths = (0.0, *(DEFAULT_WIDTH_M,) * (k - 1))
    widths = tuple(w if w > 0 else DEFAULT_WIDTH_M for w in widths)
    return ClassInfo(names, colors, (0.0, *widths[1:]), tagged=True)  # type: ignore[arg-type]


class ClassRaster:
    """An open class raster: grid, classes and windowed reads of class ids.

    Args:
        path: The class raster (single band, integer values 0..255).
        param: The parameter naming it, for messages.
        gsd: Pixel size in metres for rasters without georeferencing.

    Raises:
        InputNotFoundError: the file does not exist.
        RasterReadError: GDAL cannot read it.
        DataError: it is not a class raster (several bands, float values...).
        CRSError: no georeferencing and no ``gsd``.

    """

    def __init__(
        self, path: str | os.PathLike[str], param: str = "class_raster", gsd: float | None = None
    ) -> None:
        self.path = Path(path)
        name = f"`{param}` {str(self.path)!r}"
        if not self.path.exists():
            raise InputNotFoundError(
                f"{name} does not exist", param=param, value=str(path), hint="check the path"
            )
        if self.path.is_dir():
            raise RasterReadError(
                f"{name} is a folder", param=param, value=str(path), hint="give a class raster file"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(self.path)
        except RasterioIOError:
            raise RasterReadError(
                f"{name} is not a raster GDAL can read",
                param=param,
                value=str(path),
                hint="give the class GeoTIFF written by prediction",
            ) from None
        ds = self._ds
        if ds.count != 1 or ds.dtypes[0] not in (
            "uint8",
            "int8",
            "uint16",
            "int16",
            "int32",
            "uint32",
        ):
            kind = f"{ds.count} band(s) of {ds.dtypes[0]}"
            ds.close()
            raise DataError(
                f"{name} is not a class raster ({kind})",
                param=param,
                value=str(path),
                hint="give the single-band uint8 class raster written by prediction "
                "(0 background, 1.. road classes, 255 nodata)",
            )
        georef = ds.crs is not None and not ds.transform.is_identity
        if georef:
            self.grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
        elif gsd is not None:
            self.grid = Grid(None, ds.transform, ds.width, ds.height, float(gsd))
        else:
            ds.close()
            raise CRSError(
                f"{name} has no georeferencing",
                param=param,
                value=str(path),
                hint="georeference it or give its pixel size in metres as `gsd`",
            )
        self.classes = parse_class_tags(ds.tags()) or ClassInfo.untagged(1)
        self.nodata = ds.nodata if ds.nodata is not None else NODATA

    @property
    def tagged(self) -> bool:
        """True when the raster carries the ROADSEG class tags."""
        return self.classes.tagged

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
