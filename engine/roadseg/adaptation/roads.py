"""Reading a road layer for adaptation: features, their class codes and their surfaces.

Any OGR vector file in any CRS: road centrelines (buffered by their class width in
metres) or road polygons (drawn as they are). In a GeoPackage written by ``roadseg
predict(..., vectorize=...)`` the ``centerlines`` layer is read (the corrected centrelines of
*correct and retrain*); in other files the first layer with lines or polygons. Class
codes follow :mod:`roadseg.adaptation.classmap`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from rasterio.crs import CRS

from roadseg.adaptation.classmap import (
    ClassRule,
    class_rule,
    code_summary,
    feature_codes,
    feature_widths,
)
from roadseg.errors import CRSError, LabelError
from roadseg.geo.labels import road_surfaces
from roadseg.geo.vector_input import LINES_AND_POLYGONS, read_vector

#: Layer of roadseg's vectorised output holding the centrelines.
CENTERLINES = "centerlines"


@dataclass
class RoadLayer:
    """A road layer ready to rasterise on one raster.

    Attributes:
        path: The file.
        layer: The layer read.
        rule: How its attribute became class codes.
        geoms: Features in the raster's CRS (lines and polygons).
        codes: Class code per feature (class index, ANY_ROAD or IGNORE).
        surfaces: Road surfaces in the raster's CRS (lines buffered by width).
        summary: Features per class name.

    """

    path: Path
    layer: str | None
    rule: ClassRule
    geoms: np.ndarray
    codes: np.ndarray
    surfaces: np.ndarray
    summary: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able description."""
        return {
            "path": str(self.path),
            "layer": self.layer,
            "class_rule": self.rule.as_dict(),
            "features": self.summary,
        }


def pick_layer(path: Path) -> str | None:
    """``centerlines`` when the file has it, else the first layer with lines or polygons."""
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types
        raise LabelError(
            f"cannot read labels {str(path)!r} ({str(exc).splitlines()[0]})",
            param="labels",
            value=str(path),
            hint="give a GeoPackage, GeoJSON or Shapefile of road lines or polygons, or a mask",
        ) from None
    names = [str(n) for n, _ in layers]
    if CENTERLINES in names:
        return CENTERLINES
    for name, kind in layers:
        if kind is None or any(k in str(kind) for k in ("Line", "Polygon", "Unknown")):
            return str(name)
    raise LabelError(
        f"labels {str(path)!r} hold no line or polygon layer (layers: {', '.join(names)})",
        param="labels",
        value=str(path),
        hint="give road lines or polygons",
    )


def read_roads(
    path: str | os.PathLike[str],
    crs: CRS,
    metric_crs: CRS | None,
    names: tuple[str, ...],
    widths_m: tuple[float, ...],
    class_field: str | None = None,
    class_map: str | None = None,
) -> RoadLayer:
    """Read a road layer, choose its class rule, reproject to ``crs``, buffer in ``metric_crs``.

    Raises:
        InputNotFoundError: the file does not exist.
        LabelError: it cannot be read or holds no road feature.
        CRSError: it has no CRS.

    """
    p = Path(path)
    if metric_crs is None:
        raise CRSError(
            "vector labels need georeferenced imagery",
            param="labels",
            value=str(p),
            hint="for plain images give masks",
        )
    layer = pick_layer(p) if p.exists() else None  # read_vector names a missing file
    gdf = read_vector(
        p,
        what="labels",
        plural=True,
        param="labels",
        layer=layer,
        kinds=LINES_AND_POLYGONS,
        empty="draw some roads first",
    )
    rule = class_rule([str(c) for c in gdf.columns], names, class_field, class_map)
    raw = gdf[rule.field].to_numpy() if rule.field else np.full(len(gdf), None, dtype=object)
    codes = feature_codes(raw, rule)
    widths = feature_widths(codes, widths_m)
    metric = np.asarray(gdf.to_crs(metric_crs).geometry.values)
    surf = gpd.GeoSeries(road_surfaces(metric, widths), crs=metric_crs).to_crs(crs)
    surfaces = np.asarray(surf.values)
    geoms = np.asarray(gdf.to_crs(crs).geometry.values)
    order = np.argsort(-codes.astype(np.int16), kind="stable")  # drawn last wins: major on top
    return RoadLayer(
        p,
        layer,
        rule,
        geoms[order],
        codes[order],
        np.asarray(shapely.make_valid(surfaces[order])),
        code_summary(codes, names),
    )
