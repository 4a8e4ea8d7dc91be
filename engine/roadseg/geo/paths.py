"""Paths as GDAL reads them: local files, ``/vsi…`` virtual files, URLs and ``zip://`` archives.

Anything rasterio opens, roadseg opens. A GDAL path is kept as the string it was
given, never run through :class:`pathlib.Path` (which collapses ``//``, so
``https://host/a.tif`` would become ``https:/host/a.tif``); a local file becomes a
:class:`~pathlib.Path`. Names for outputs and messages come from :func:`name_of`
and :func:`stem_of`, which understand both.

>>> as_source("https://example.com/cog.tif?x=1")
'https://example.com/cog.tif?x=1'
>>> as_source("data/a.tif").as_posix()
'data/a.tif'
>>> stem_of("/vsizip//data/tiles.zip/t1.tif"), stem_of("zip://data/t.zip!/b/t2.tif")
('t1', 't2')
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

#: A URL-like path: ``scheme://…`` (http, https, s3, gs, zip, tar, file…).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

#: A raster as the engine keeps it: a local file, or a GDAL path string.
RasterPath = Path | str


def is_gdal_path(path: str | os.PathLike[str]) -> bool:
    """True for paths only GDAL understands: ``/vsi…/``, ``scheme://…``, GDAL's ``<VRTDataset``.

    >>> is_gdal_path("/vsimem/a.tif"), is_gdal_path("zip://a.zip!/b.tif"), is_gdal_path("a.tif")
    (True, True, False)
    >>> is_gdal_path(Path("/vsizip/a.zip/b.tif"))
    True
    """
    s = os.fspath(path)
    return s.startswith("/vsi") or bool(_SCHEME.match(s)) or s.lstrip().startswith("<")


def as_source(path: str | os.PathLike[str]) -> RasterPath:
    """A raster path as the engine keeps it: the string for GDAL paths, else a Path.

    A ``Path`` that already collapsed a URL's ``//`` (``https:/host/a.tif``) is
    repaired, since GDAL would not read it either.

    >>> as_source(Path("https://host/a.tif"))
    'https://host/a.tif'
    """
    s = os.fspath(path)
    fixed = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*):/(?!/)", r"\1://", s) if ":/" in s else s
    if fixed != s and _SCHEME.match(fixed) and not Path(s).exists():
        return fixed
    return s if is_gdal_path(s) else Path(s)


def name_of(path: str | os.PathLike[str]) -> str:
    """The file name of a local or GDAL path (a URL's query string left out).

    >>> name_of("https://h/x/cog.tif?sig=1"), name_of("/vsizip/a.zip/in/b.tif"), name_of("c.tif")
    ('cog.tif', 'b.tif', 'c.tif')
    """
    s = os.fspath(path)
    if not is_gdal_path(s):
        return Path(s).name
    s = s.split("?", 1)[0].split("#", 1)[0]
    s = s.rsplit("!", 1)[-1]  # zip://archive.zip!/inner/file.tif
    return PurePosixPath(s.rstrip("/")).name or s


def stem_of(path: str | os.PathLike[str]) -> str:
    """The file name without its last suffix.

    >>> stem_of("https://h/cog.tif"), stem_of("a/b.c.tif")
    ('cog', 'b.c')
    """
    name = name_of(path)
    return PurePosixPath(name).stem if "." in name else name


def file_key(path: str | os.PathLike[str]) -> str:
    """A key equal for two paths naming the same file (GDAL paths: their text).

    >>> file_key("a/../b.tif") == file_key("b.tif"), file_key("/vsimem/x.tif")
    (True, '/vsimem/x.tif')
    """
    s = os.fspath(path)
    return s if is_gdal_path(s) else os.path.realpath(s)
