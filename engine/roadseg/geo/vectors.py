"""Writing vector layers: GeoPackage 1.3 (readable by QGIS 3.22), atomically.

Several layers go into one GeoPackage written under a temporary name and
renamed into place, so a failed run leaves no half-written file.

Same layers, same bytes: GDAL stamps every GeoPackage layer with the time of writing
(``gpkg_contents.last_change``), which made two identical runs differ. The stamp is
fixed (:func:`stamp`) unless the user sets ``OGR_CURRENT_DATE`` themselves.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pyogrio

from roadseg.geo.atomic import atomic_output

#: ``last_change`` of every layer written (reproducible bytes), unless ``OGR_CURRENT_DATE``
#: or ``SOURCE_DATE_EPOCH`` is set.
FIXED_STAMP = "2000-01-01T00:00:00.000Z"


def stamp() -> str:
    """The ``last_change`` time stamp to write: the user's, else ``SOURCE_DATE_EPOCH``'s, else fixed."""
    own = os.environ.get("OGR_CURRENT_DATE")
    if own:
        return own
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        import datetime as dt

        t = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
        return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return FIXED_STAMP


def write_gpkg(
    path: str | os.PathLike[str],
    layers: Mapping[str, gpd.GeoDataFrame],
    geometry_types: Mapping[str, str] | None = None,
) -> Path:
    """Write ``layers`` (name → GeoDataFrame) into one GeoPackage, atomically.

    Empty layers are written too (with their schema), so every expected layer
    exists. The GeoPackage version is 1.3 for QGIS 3.22.

    Args:
        path: Output GeoPackage.
        layers: Layer name → GeoDataFrame, written in this order.
        geometry_types: Optional layer name → OGR geometry type ("Polygon",
            "LineString", ...) declared for the layer; useful for empty layers,
            whose type cannot be guessed from their rows.

    """
    types = dict(geometry_types or {})
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp()})
    try:
        _write(path, layers, types)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    return Path(path)


def _write(
    path: str | os.PathLike[str], layers: Mapping[str, gpd.GeoDataFrame], types: dict[str, str]
) -> None:
    with atomic_output(path) as tmp, warnings.catch_warnings():
        # Layers of a plain image (no georeferencing) are in its pixel coordinates without a
        # CRS, as documented; pyogrio's warning about the missing CRS is not for the user.
        warnings.filterwarnings("ignore", message=".*'crs' was not provided", category=UserWarning)
        for i, (name, gdf) in enumerate(layers.items()):
            pyogrio.write_dataframe(
                gdf,
                tmp,
                layer=name,
                driver="GPKG",
                append=i > 0,
                dataset_options={"VERSION": "1.3"} if i == 0 else None,
                layer_options={"SPATIAL_INDEX": "YES"},
                promote_to_multi=False,
                geometry_type=types.get(name),
            )
