"""Helpers of the adaptation tests: a tiny model's metadata, label and area layers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from road_scenes import ORIGIN
from roadseg.models import ModelMeta

NAMES = ("background", "major", "minor", "track")
COLORS = ((0, 0, 0), (230, 85, 13), (253, 208, 35), (140, 81, 10))
WIDTHS = (0.0, 12.0, 7.0, 4.0)


def tiny_meta(tile: int = 64) -> ModelMeta:
    """Unet-resnet18, RGB, 0.5 m, the default model's classes, 64-px tiles."""
    return ModelMeta("Unet", "resnet18", 3, NAMES, COLORS, WIDTHS, 0.5, tile_size=tile)


def write_lines(path: Path, lines: list, crs: str = "EPSG:32611", **attrs: list) -> Path:
    """A GeoPackage of lines with attributes."""
    gpd.GeoDataFrame(attrs, geometry=lines, crs=crs).to_file(path, driver="GPKG")
    return path


def box_layer(path: Path, x0: float, y0: float, x1: float, y1: float) -> Path:
    """A GeoPackage with one rectangle (scene metres from its top-left corner, y down)."""
    ox, oy = ORIGIN
    g = shapely.box(ox + x0, oy - y1, ox + x1, oy - y0)
    gpd.GeoDataFrame({"name": ["checked"]}, geometry=[g], crs="EPSG:32611").to_file(
        path, driver="GPKG"
    )
    return path
