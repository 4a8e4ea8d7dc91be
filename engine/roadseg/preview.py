"""A preview picture: the imagery with the road layers drawn over it (PNG).

Reads a decimated overview of the raster (never the full resolution of a big
raster) and draws the GeoPackage's polygon layers per class and the centreline
network in the model's class colours.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from roadseg.geo.atomic import atomic_output
from roadseg.geo.raster import open_raster


def _pyplot() -> Any:
    warnings.filterwarnings("ignore", message="Unable to import Axes3D")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render_preview(
    image: str | os.PathLike[str],
    roads_gpkg: str | os.PathLike[str] | None,
    out_png: str | os.PathLike[str],
    *,
    max_px: int = 1400,
    title: str | None = None,
    gsd: float | None = None,
    colors: Mapping[str, tuple[int, int, int]] | None = None,
) -> Path:
    """Draw ``image`` with the layers of ``roads_gpkg`` over it into ``out_png``.

    Args:
        image: The raster (RGB bands are shown; one band as grey).
        roads_gpkg: A GeoPackage written by :func:`roadseg.vectorization.vectorize` (or None).
        out_png: The PNG to write (atomically).
        max_px: Longest side of the picture's image in pixels.
        title: Optional title.
        gsd: Pixel size of plain images.
        colors: Class name → RGB (default: orange for every class).

    """
    import geopandas as gpd
    import pyogrio

    plt = _pyplot()
    with open_raster(image, gsd=gsd) as src:
        scale = max(src.width, src.height) / max_px
        out_shape = (
            max(1, round(src.height / max(scale, 1))),
            max(1, round(src.width / max(scale, 1))),
        )
        win = src.read(out_shape=out_shape, resampling="average")
        grid = src.grid
        bands = win.data[:3] if win.data.shape[0] >= 3 else np.repeat(win.data[:1], 3, axis=0)
    rgb = np.clip(bands.transpose(1, 2, 0), 0, 1)
    left, bottom, right, top = grid.bounds
    extent: tuple[float, float, float, float]
    if grid.crs is None:  # pixel coordinates, y down
        extent = (0, grid.width, grid.height, 0)
    else:
        extent = (left, right, bottom, top)
    h, w = rgb.shape[:2]
    fig = plt.figure(figsize=(w / 100, h / 100 + (0.4 if title else 0)), dpi=100)
    ax = fig.add_axes((0, 0, 1, h / (h + (40 if title else 0))))
    ax.imshow(rgb, extent=extent, interpolation="bilinear")
    if roads_gpkg is not None and Path(roads_gpkg).exists():
        layers = [name for name, _ in pyogrio.list_layers(roads_gpkg)]
        for name in layers:
            gdf = gpd.read_file(roads_gpkg, layer=name)
            if gdf.empty:
                continue
            if name.startswith("roads_"):
                color = _rgb((colors or {}).get(name[len("roads_") :], _ORANGE))
                gdf.plot(ax=ax, color=color, alpha=0.45, linewidth=0)
            elif name == "centerlines":
                names = gdf["class"] if "class" in gdf.columns else ["road"] * len(gdf)
                cols = [_rgb((colors or {}).get(str(n), _ORANGE)) for n in names]
                gdf.plot(ax=ax, color=cols, linewidth=1.4)
                gdf.plot(ax=ax, color="white", linewidth=0.4)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_axis_off()
    if title:
        fig.text(0.01, 1 - 0.3 / (h / 100 + 0.4), title, fontsize=11, va="center")
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(out_png)


_ORANGE = (255, 140, 0)


def _rgb(c: Sequence[int]) -> tuple[float, float, float]:
    """0–255 RGB → matplotlib 0–1.

    >>> _rgb((255, 0, 51))
    (1.0, 0.0, 0.2)
    """
    return (c[0] / 255, c[1] / 255, c[2] / 255)
