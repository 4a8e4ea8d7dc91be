"""Reading a vector file the user gave (labels, an area, an extent): one set of checks.

Every reader of a user's vector file needs the same things: the file exists, OGR can read
it, it has a CRS, its null and empty geometries are dropped, and (often) only some geometry
kinds count. :func:`read_vector` does them once, with errors that name the parameter and
the fix, so the readers keep only what is theirs (classes, widths, unions).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import geopandas as gpd

from roadseg.errors import CRSError, InputNotFoundError, LabelError, RoadsegError

#: Geometry kinds of polygon layers.
POLYGONS = ("Polygon", "MultiPolygon")
#: Geometry kinds of road layers (centrelines or surfaces).
LINES_AND_POLYGONS = ("LineString", "MultiLineString", *POLYGONS)


def read_vector(
    path: str | os.PathLike[str],
    *,
    what: str,
    param: str,
    layer: str | None = None,
    kinds: tuple[str, ...] | None = None,
    empty: str | None = None,
    error: type[RoadsegError] = LabelError,
    plural: bool = False,
) -> gpd.GeoDataFrame:
    """The features of ``path`` (its CRS kept), null/empty geometries and other kinds dropped.

    Args:
        path: Any OGR vector file (GeoPackage, GeoJSON, Shapefile, ...).
        what: How messages name the file, e.g. ``"labels"`` or ``"`area`"``.
        param: The parameter the errors name.
        layer: Layer to read (default: the first).
        kinds: Geometry types kept (default: all).
        empty: When given, a file with no feature left is an error; this is its hint.
        error: Error type for an unreadable or empty file.
        plural: ``what`` is a plural noun ("labels do not exist").

    Raises:
        InputNotFoundError: the file does not exist.
        CRSError: the file has no CRS.
        RoadsegError: (``error``) it cannot be read, or holds no feature of ``kinds``.

    """
    p = Path(path)
    does, has, holds = ("do", "have", "hold") if plural else ("does", "has", "holds")
    if not p.exists():
        raise InputNotFoundError(
            f"{what} {str(p)!r} {does} not exist", param=param, value=str(p), hint="check the path"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(p, layer=layer, engine="pyogrio")
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(
            f"cannot read {what} {str(p)!r} ({why})",
            param=param,
            value=str(p),
            hint="give a GeoPackage, GeoJSON or Shapefile",
        ) from None
    if gdf.crs is None:
        raise CRSError(
            f"{what} {str(p)!r} {has} no CRS",
            param=param,
            value=str(p),
            hint="set one (e.g. in QGIS, or ogr2ogr -a_srs EPSG:4326 out.gpkg in.gpkg)",
        )
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if kinds is not None:
        gdf = gdf[gdf.geometry.geom_type.isin(kinds)]
    if empty is not None and gdf.empty:
        held = "feature" if kinds is None else " or ".join(sorted({_noun(k) for k in kinds}))
        raise error(f"{what} {str(p)!r} {holds} no {held}", param=param, value=str(p), hint=empty)
    return gdf


def _noun(kind: str) -> str:
    """``"MultiLineString"`` → ``"line"``.

    >>> _noun("MultiLineString"), _noun("Polygon"), _noun("Point")
    ('line', 'polygon', 'point')
    """
    k = kind.removeprefix("Multi")
    return "line" if k == "LineString" else k.lower()
