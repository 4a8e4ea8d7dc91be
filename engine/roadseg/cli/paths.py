"""Raster arguments as GDAL reads them (click's own Path type would collapse ``https://``)."""

from __future__ import annotations

from typing import Any

import click

from roadseg.geo.paths import RasterPath, as_source


class RasterPathType(click.ParamType):
    """A raster: a local file (a ``Path``) or a GDAL path (``/vsi…``, a URL, ``zip://…!/…``).

    Nothing is checked here: the engine opens it and says what is wrong.

    >>> RASTER_PATH.convert("https://h/a.tif", None, None)
    'https://h/a.tif'
    >>> RASTER_PATH.convert("a.tif", None, None).as_posix()
    'a.tif'
    """

    name = "raster"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> RasterPath:
        """Keep GDAL paths as text, make local ones Paths."""
        return as_source(value)


RASTER_PATH = RasterPathType()
