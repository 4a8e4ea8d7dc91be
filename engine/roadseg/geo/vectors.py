"""Writing vector layers: GeoPackage 1.3 (readable by QGIS 3.22), atomically.

Several layers go into one GeoPackage written under a temporary name and
renamed into place, so a failed run leaves no half-written file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pyogrio

from roadseg.geo.atomic import atomic_output


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
    with atomic_output(path) as tmp:
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
    return Path(path)
