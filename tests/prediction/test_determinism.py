"""Same raster, model, options and machine → the same output bytes, run after run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from predict_helpers import write_scene
from roadseg.device import resolve_policy

ENGINE = str(Path(__file__).resolve().parents[2] / "engine")


def _predict(src: Path, model: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """One `roadseg predict` in a fresh process (start-up effects included)."""
    env = {**os.environ, "PYTHONPATH": ENGINE + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("ROADSEG_PRECISION", None)
    cmd = [sys.executable, "-m", "roadseg.cli.main", "predict", str(src), "--model", str(model)]
    cmd += ["--out", str(out), "--probabilities", "--tile", "64", "--overlap", "16", "--json"]
    cmd += ["--vectorize", str(out.with_suffix(".gpkg"))]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_two_predict_runs_write_identical_bytes(model_file, tmp_path):
    src = write_scene(tmp_path / "scene.tif", 150, 170)
    runs = [_predict(src, model_file, tmp_path / f"run{i}" / "roads.tif") for i in (1, 2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    a, b = tmp_path / "run1", tmp_path / "run2"
    for name in ("roads.tif", "roads_proba.tif", "roads.gpkg"):  # GeoPackage: no time stamp
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # The automatic precision is the rule's, in both runs (no start-up probe).
    auto = resolve_policy("cpu", "auto")
    assert f'"precision": "{auto.precision}"' in runs[0].stdout.splitlines()[-1]
