"""Which raster sources the engine can read: files on disk and the paths GDAL opens itself.

The engine opens anything rasterio opens: local files, ``/vsizip/…``, ``/vsicurl/…``
(and the other ``/vsi…`` handlers), URLs (``https://…``) and ``zip://…!/…``. A QGIS
layer's source is one of those, possibly followed by ``|option=…``.
"""

from __future__ import annotations

import re
from pathlib import Path

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def source_path(source: str) -> str:
    """The raster path of a GDAL layer source (options after ``|`` dropped).

    >>> source_path("/data/a.tif|option:x")
    '/data/a.tif'
    """
    return source.split("|", 1)[0]


def is_engine_raster(path: str) -> bool:
    """Whether the engine can be given ``path``: an existing file, or a GDAL virtual path or URL.

    >>> is_engine_raster("/vsizip//data/a.zip/b.tif"), is_engine_raster("https://h/cog.tif")
    (True, True)
    >>> is_engine_raster("/nonexistent/a.tif"), is_engine_raster("/vsimem/x.tif")
    (False, False)
    """
    if path.startswith("/vsimem/"):
        return False  # QGIS's memory is not the engine's (another process)
    if path.startswith("/vsi") or _SCHEME.match(path):
        return True
    return Path(path).is_file()
