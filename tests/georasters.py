"""Tiny georeferenced test rasters (imported by tests as `from georasters import make_raster`).

A plain module, not a conftest: several conftest.py files exist and share the
module name ``conftest``, so importing helpers from one of them is unreliable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_raster(
    path: Path,
    array: np.ndarray,
    crs: str | None = "EPSG:32611",
    transform=None,
    nodata=None,
    **extra,
) -> Path:
    """Write a small GeoTIFF (bands, H, W) with a projected CRS by default."""
    import rasterio
    from affine import Affine

    if array.ndim == 2:
        array = array[None]
    if transform is None:
        transform = Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0)
    profile = dict(
        driver="GTiff",
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=array.dtype.name,
        transform=transform,
        nodata=nodata,
    )
    if crs is not None:
        profile["crs"] = crs
    profile.update(extra)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array)
    return path
