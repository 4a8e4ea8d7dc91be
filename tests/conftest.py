"""Shared fixtures: tiny georeferenced rasters and the real sample folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from georasters import make_raster
from road_scenes import road_scene

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("ROADSEG_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real road samples in ../shared/data/real (skip when absent)."""
    if not (REAL / "spacenet_vegas_img0" / "image.tif").exists():
        pytest.skip(
            f"real road samples not found at {REAL} (../shared/data/real beside the checkout)"
        )
    return REAL


@pytest.fixture
def tiny_utm(tmp_path: Path) -> Path:
    """A 3-band uint8 64x64 raster in UTM 11N at 0.5 m with a gradient."""
    y, x = np.mgrid[0:64, 0:64]
    arr = np.stack([x * 4, y * 4, (x + y) * 2]).astype(np.uint8)
    return make_raster(tmp_path / "utm.tif", arr)


@pytest.fixture(scope="session")
def train_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The 128² synthetic road scene (GeoTIFF, GeoPackage) the training tests read, never write."""
    return road_scene(tmp_path_factory.mktemp("train_scene"), size=128)
