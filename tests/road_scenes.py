"""Tiny synthetic road scenes for the data and training tests (georeferenced and plain)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from georasters import make_raster
from PIL import Image
from rasterio.features import rasterize

WIDTHS = {"major": 12.0, "minor": 7.0, "track": 4.0}
ORIGIN = (500_000.0, 4_000_000.0)


def road_scene(
    folder: Path,
    size: int = 128,
    px: float = 0.5,
    seed: int = 0,
    n_roads: int = 4,
    classes: tuple[str, ...] = ("major", "minor", "track"),
    nodata_corner: int = 0,
) -> tuple[Path, Path]:
    """A uint8 RGB GeoTIFF (UTM 11N) with bright roads and a GeoPackage of their centrelines.

    Roads alternate horizontal and vertical; attribute ``road_class`` cycles
    through ``classes``. With ``nodata_corner`` > 0 the top-left square of that
    size has nodata (0).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x0, y0 = ORIGIN
    t = Affine(px, 0, x0, 0, -px, y0)
    ext = size * px
    lines, cls = [], []
    for i in range(n_roads):
        f = rng.uniform(0.15, 0.85)
        if i % 2 == 0:
            y = y0 - f * ext
            lines.append(shapely.LineString([(x0 - 5, y), (x0 + ext + 5, y)]))
        else:
            x = x0 + f * ext
            lines.append(shapely.LineString([(x, y0 + 5), (x, y0 - ext - 5)]))
        cls.append(classes[i % len(classes)])
    gpkg = folder / "roads.gpkg"
    gpd.GeoDataFrame({"road_class": cls}, geometry=lines, crs="EPSG:32611").to_file(
        gpkg, driver="GPKG"
    )
    img = rng.normal(90, 12, (3, size, size)).clip(1, 255)
    surf = [
        (ln.buffer(WIDTHS.get(c, 7.0) / 2, cap_style="flat"), 1)
        for ln, c in zip(lines, cls, strict=True)
    ]
    m = rasterize(surf, out_shape=(size, size), transform=t)
    img[:, m > 0] = 200
    nodata = None
    if nodata_corner:
        img[:, :nodata_corner, :nodata_corner] = 0
        nodata = 0
    tif = make_raster(folder / "image.tif", img.astype(np.uint8), transform=t, nodata=nodata)
    return tif, gpkg


def plain_pair(
    image: Path,
    mask: Path,
    size: tuple[int, int] = (96, 80),
    seed: int = 0,
    color: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A plain JPEG/PNG image with a road stripe and its mask (binary 0/255 or colour-coded).

    Returns the boolean road mask.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    road = np.zeros((h, w), dtype=bool)
    c = int(rng.integers(10, w - 20))
    road[:, c : c + 8] = True
    r = int(rng.integers(10, h - 20))
    road[r : r + 6, :] = True
    img = rng.normal(90, 10, (h, w, 3)).clip(0, 255).astype(np.uint8)
    img[road] = 210
    image.parent.mkdir(parents=True, exist_ok=True)
    mask.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(image)
    if color is None:
        Image.fromarray((road * 255).astype(np.uint8)).save(mask)
    else:
        rgb = np.full((h, w, 3), (155, 155, 155), dtype=np.uint8)
        rgb[road] = color
        Image.fromarray(rgb).save(mask)
    return road
