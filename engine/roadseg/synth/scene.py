"""``make_scene``: a synthetic georeferenced road scene (image + road centrelines) in a folder."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.windows import Window

from roadseg.errors import ConfigError, OutputError, about
from roadseg.geo.atomic import check_writable
from roadseg.geo.grid import Grid
from roadseg.progress import CancelCallback, ProgressCallback, Reporter
from roadseg.synth.georef import parse_crs, scene_grid, to_crs
from roadseg.synth.model import ROAD_CLASSES, Layout
from roadseg.synth.render import render
from roadseg.synth.rural import rural
from roadseg.synth.style import STYLES, Style, sample_style
from roadseg.synth.suburban import suburban
from roadseg.synth.urban import urban

#: Layout builders by kind.
LAYOUTS: dict[str, Callable[[np.random.Generator, Style, float, float], Layout]] = {
    "urban": urban,
    "suburban": suburban,
    "rural": rural,
}
MIN_SIZE = 64
MAX_SIZE = 16384
GSD_RANGE = (0.05, 5.0)


@dataclass(frozen=True)
class SceneResult:
    """What :func:`make_scene` wrote.

    Attributes:
        image: The RGB GeoTIFF.
        roads: The GeoPackage of road centrelines (layer ``roads``).
        crs: The CRS as a string.
        size: Pixels per side.
        gsd: Pixel size in metres.
        seed: The seed.
        style: The style asked for.
        layout: The layout kind drawn (``urban``, ``suburban`` or ``rural``).
        counts: Roads per class (pieces inside the scene).
        km: Kilometres of centreline per class inside the scene.
        seconds: Time taken.

    """

    image: Path
    roads: Path
    crs: str
    size: int
    gsd: float
    seed: int
    style: str
    layout: str
    counts: dict[str, int] = field(default_factory=dict)
    km: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the CLI's JSON object: outputs and metrics."""
        return {
            "outputs": {"image": str(self.image), "roads": str(self.roads)},
            "metrics": {
                "km_per_class": self.km,
                "roads_per_class": self.counts,
                "layout": self.layout,
                "style": self.style,
                "size": self.size,
                "gsd_m": self.gsd,
                "crs": self.crs,
                "seed": self.seed,
                "seconds": round(self.seconds, 3),
            },
        }


def build_scene(size: int, seed: int, gsd: float, style: str) -> tuple[Layout, Style]:
    """Return the layout and style of a scene (pure: no files). Same arguments, same scene."""
    ss = np.random.SeedSequence(int(seed))
    style_rng, layout_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    st = sample_style(style, style_rng)
    extent = size * gsd
    return LAYOUTS[st.layout](layout_rng, st, extent, extent), st


def make_scene(
    out_dir: str | os.PathLike[str],
    size: int = 1024,
    seed: int = 0,
    crs: str | CRS = "EPSG:32611",
    gsd: float = 0.5,
    style: str = "random",
    origin: tuple[float, float] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> SceneResult:
    """Write a synthetic road scene: ``out_dir/image.tif`` and ``out_dir/roads.gpkg``.

    The image is a tiled, compressed, georeferenced RGB GeoTIFF; the GeoPackage
    holds the road centrelines (layer ``roads``: ``road_class`` major/minor/track,
    ``width_m``, ``paved``, ``lanes``, ``length_m``) in the same CRS, exactly
    on the rendered roads (roads under trees included). Deterministic: the same
    arguments give the same bytes.

    Args:
        out_dir: Output folder (created if missing).
        size: Pixels per side (64–16384).
        seed: Random seed.
        crs: Output CRS (any geographic or projected CRS).
        gsd: Pixel size on the ground in metres.
        style: ``random``, ``urban``, ``suburban`` or ``rural``.
        origin: Scene centre (lon, lat); default near Las Vegas, or the centre of
            the CRS's area of use when that does not cover Las Vegas.
        progress: Progress callback.
        cancel: Cancel callback.

    Raises:
        ConfigError: for a bad size, gsd, style or CRS.
        OutputError: when ``out_dir`` cannot be written.

    """
    t0 = time.perf_counter()
    rep = Reporter(progress, cancel)
    size, gsd = _check(size, gsd, style)
    the_crs = parse_crs(crs)
    grid = scene_grid(the_crs, (size, size), gsd, origin)
    out = Path(out_dir)
    with about("out_dir"):
        image_path = check_writable(out / "image.tif")
        roads_path = check_writable(out / "roads.gpkg")
    rep.update("layout", 0, 1, "placing roads and buildings")
    layout, st = build_scene(size, seed, gsd, style)
    rep.update("layout", 1, 1, f"{st.layout}, {len(layout.roads)} roads")
    pixels = render(layout, st, (size, size), gsd, seed, rep)
    rep.update("write", 0, 2, image_path.name)
    _write_image(image_path, grid, pixels, seed, st)
    del pixels
    rep.update("write", 1, 2, roads_path.name)
    counts, km = _write_roads(roads_path, layout, grid, gsd)
    rep.update("write", 2, 2, "done")
    return SceneResult(
        image_path,
        roads_path,
        the_crs.to_string(),
        size,
        gsd,
        int(seed),
        style,
        st.layout,
        counts,
        km,
        time.perf_counter() - t0,
    )


def _check(size: int, gsd: float, style: str) -> tuple[int, float]:
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise ConfigError(
            f"`size` {size} is out of range",
            param="size",
            value=size,
            hint=f"give {MIN_SIZE} to {MAX_SIZE} pixels",
        )
    if not (math.isfinite(gsd) and GSD_RANGE[0] <= gsd <= GSD_RANGE[1]):
        raise ConfigError(
            f"`gsd` {gsd} is out of range",
            param="gsd",
            value=gsd,
            hint=f"give {GSD_RANGE[0]} to {GSD_RANGE[1]} metres per pixel",
        )
    if style not in STYLES:
        raise ConfigError(
            f"unknown `style` {style!r}",
            param="style",
            value=style,
            hint=f"choose one of {', '.join(STYLES)}",
        )
    return int(size), float(gsd)


def _write_image(path: Path, grid: Grid, pixels: np.ndarray, seed: int, st: Style) -> None:
    from roadseg.geo.writer import GeoTiffWriter

    tags = {
        "ROADSEG_SYNTH": json.dumps(
            {"seed": int(seed), "style": st.name, "layout": st.layout, "biome": st.biome}
        )
    }
    try:
        with GeoTiffWriter(
            path,
            grid,
            count=3,
            dtype="uint8",
            blocksize=512,
            compress="deflate",
            descriptions=["red", "green", "blue"],
            tags=tags,
        ) as w:
            w.write(pixels, Window(0, 0, pixels.shape[2], pixels.shape[1]))
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(
            f"cannot write {str(path)!r}: {exc}",
            param="out_dir",
            value=str(path),
            hint="choose a writable `out_dir` with free space",
        ) from None


def _write_roads(
    path: Path, layout: Layout, grid: Grid, gsd: float
) -> tuple[dict[str, int], dict[str, float]]:
    """Clip centrelines to the scene, convert to the CRS and write the ``roads`` layer."""
    import geopandas as gpd
    import shapely

    from roadseg.geo.vectors import write_gpkg

    box = layout.box
    rows, geoms = [], []
    counts = dict.fromkeys(ROAD_CLASSES, 0)
    km = dict.fromkeys(ROAD_CLASSES, 0.0)
    for road in layout.roads:
        clipped = shapely.intersection(road.line, box)
        for part in getattr(clipped, "geoms", [clipped]):
            if part.is_empty or part.geom_type != "LineString" or part.length < 0.5:
                continue
            geoms.append(part)
            rows.append(
                {
                    "road_class": road.road_class,
                    "width_m": float(road.width_m),
                    "paved": int(road.paved),
                    "lanes": int(road.lanes),
                    "length_m": round(float(part.length), 2),
                }
            )
            counts[road.road_class] += 1
            km[road.road_class] += part.length / 1000.0
    geo = to_crs(geoms, grid, gsd)
    gdf = gpd.GeoDataFrame(rows, geometry=geo, crs=grid.crs)
    if not rows:
        gdf = gpd.GeoDataFrame(
            {"road_class": [], "width_m": [], "paved": [], "lanes": [], "length_m": []},
            geometry=[],
            crs=grid.crs,
        )
    # A fixed GeoPackage timestamp keeps the file byte-identical for a given seed.
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        with about("out_dir"):
            write_gpkg(path, {"roads": gdf})
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    return {str(k): v for k, v in counts.items()}, {k: round(v, 4) for k, v in km.items()}
