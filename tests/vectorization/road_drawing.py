"""Drawing synthetic class rasters for the vectorize tests (roads as buffered pixel lines)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry import LineString

GSD = 0.5
UTM = ("EPSG:32611", Affine(GSD, 0, 500_000.0, 0, -GSD, 4_000_000.0))
LAT = 36.2
WGS84 = (
    "EPSG:4326",
    Affine(GSD / (111_320.0 * math.cos(math.radians(LAT))), 0, -115.3, 0, -GSD / 111_320.0, LAT),
)
NAMES = ("background", "major", "minor")
WIDTHS = (0.0, 6.0, 4.0)


def draw(shape, roads, nodata_rows=None) -> np.ndarray:
    """Class ids: ``roads`` is a list of (pixel coords [(col, row), ...], width_px, class_id)."""
    shapes = []
    for coords, width, cid in roads:
        shapes.append(
            (LineString(coords).buffer(width / 2.0, cap_style="flat", join_style="mitre"), cid)
        )
    arr = np.zeros(shape, dtype=np.uint8)
    if shapes:
        # Lower class ids win (drawn last).
        shapes.sort(key=lambda s: -s[1])
        arr = rasterize(shapes, out_shape=shape, transform=Affine.identity(), dtype=np.uint8)
    if nodata_rows is not None:
        arr[nodata_rows] = 255
    return arr


def write_class_raster(
    path: Path, arr: np.ndarray, where=UTM, names=NAMES, widths=WIDTHS, tags=True
) -> Path:
    crs, transform = where
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=arr.shape[1],
        height=arr.shape[0],
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        nodata=255,
    ) as ds:
        ds.write(arr, 1)
        if tags:
            ds.update_tags(
                ROADSEG_CLASSES=json.dumps(list(names)),
                ROADSEG_COLORS=json.dumps([[0, 0, 0], [230, 85, 13], [253, 208, 35]][: len(names)]),
                ROADSEG_WIDTHS_M=json.dumps(list(widths)),
            )
    return path
