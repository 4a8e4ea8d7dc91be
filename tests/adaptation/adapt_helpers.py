"""Helpers and fixtures of the adaptation tests: a tiny model file, a tiny scene, layers.

(Fixtures live here, imported by the test modules, rather than in a ``conftest.py``: the
test tree's other ``conftest.py`` files share that module name.)
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import torch
from road_scenes import ORIGIN, road_scene
from roadseg.models import ModelMeta, build_model, save_model

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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model file with random weights (fast steps on a CPU)."""
    torch.manual_seed(0)
    meta = tiny_meta()
    path = tmp_path_factory.mktemp("adapt_models") / "tiny.safetensors"
    save_model(path, build_model(meta), meta)
    return path


@pytest.fixture(scope="session")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 256² px (128 m) UTM scene at 0.5 m with bright roads and their centrelines."""
    return road_scene(tmp_path_factory.mktemp("adapt_scene"), size=256, n_roads=6)
