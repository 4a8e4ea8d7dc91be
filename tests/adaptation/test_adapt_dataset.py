"""`roadseg adapt --dataset`: plain image/mask folders, through the real CLI in a subprocess.

A subprocess, not click's runner: Python's own warning output (which pytest would capture)
is part of what the user sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import adapt_helpers
import numpy as np
from PIL import Image

tiny_model = adapt_helpers.tiny_model  # fixtures shared by the adapt tests

ROADSEG = [sys.executable, "-m", "roadseg.cli.main"]


def _pair(root: Path, name: str, seed: int) -> int:
    """A 256² plain PNG with bright roads and its index mask; returns its ignored pixels."""
    rng = np.random.default_rng(seed)
    img = rng.integers(20, 90, (256, 256, 3), dtype=np.uint8)
    mask = np.zeros((256, 256), np.uint8)
    for k in range(3):
        y = 30 + 80 * k + int(rng.integers(0, 20))
        img[y : y + 10] = 210
        mask[y : y + 10] = 1
        img[:, y : y + 8] = 200
        mask[:, y : y + 8] = 1
    mask[:, 240:] = 255  # a no-data strip, as Massachusetts' white fill
    for sub, arr in (("images", img), ("masks", mask)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / sub / f"{name}.png")
    return int((mask == 255).sum())


def test_plain_folders_adapt_quietly(tiny_model, tmp_path):
    data = tmp_path / "data"
    ignored = _pair(data, "a", 0) + _pair(data, "b", 1)
    out = tmp_path / "m.safetensors"
    cmd = ROADSEG + ["adapt", "--dataset", str(data), "--gsd", "0.5"]
    cmd += ["--mask-values", "0=background,1=road,255=ignore", "--model", str(tiny_model)]
    cmd += ["--steps", "2", "--threads", "1", "--out", str(out), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout.strip().splitlines()[-1])
    assert out.exists() and js["kept"] in ("adapted", "threshold", "starting")
    assert js["data"]["images"] == 2
    # 255 is ignored: the labelled ground is the rest of both images (0.25 m² per pixel)
    assert js["data"]["labelled_km2"] == round((2 * 256 * 256 - ignored) * 0.25 / 1e6, 4)
    assert js["holdout"]["blocks"] >= 1
    # plain images have no georeferencing; rasterio's warning about it is not the user's
    assert "NotGeoreferencedWarning" not in r.stderr, r.stderr
    # nor is matplotlib's about Axes3D (Debian's mpl_toolkits beside the venv's matplotlib)
    assert "Axes3D" not in r.stderr, r.stderr


def test_colour_coded_masks_without_their_colours_are_refused(tiny_model, tmp_path):
    """Read as one band, every colour of a colour-coded mask was road: the run learnt nothing."""
    data = tmp_path / "data"
    img = np.full((128, 128, 3), 60, np.uint8)
    mask = np.empty((128, 128, 3), np.uint8)
    mask[:] = (132, 41, 246)  # land
    mask[50:60] = (110, 193, 228)  # road
    for sub, arr in (("images", img), ("masks", mask)):
        (data / sub).mkdir(parents=True)
        Image.fromarray(arr).save(data / sub / "a.png")
    out = tmp_path / "m.safetensors"
    cmd = ROADSEG + ["adapt", "--dataset", str(data), "--gsd", "0.5", "--model", str(tiny_model)]
    r = subprocess.run([*cmd, "--steps", "1", "--out", str(out)], capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert "colour-coded" in err and "--mask-colors" in err and "110,193,228" in err, err
    assert not out.exists()
