"""Fixtures of the adaptation tests: a tiny model file, a tiny georeferenced road scene."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from adapt_helpers import tiny_meta
from road_scenes import road_scene
from roadseg.models import build_model, save_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny model file with random weights (fast steps on a CPU)."""
    torch.manual_seed(0)
    meta = tiny_meta()
    path = tmp_path_factory.mktemp("adapt_models") / "tiny.safetensors"
    save_model(path, build_model(meta), meta)
    return path


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> tuple[Path, Path]:
    """A 256² px (128 m) UTM scene at 0.5 m with bright roads and their centrelines."""
    return road_scene(tmp_path_factory.mktemp("adapt_scene"), size=256, n_roads=6)
