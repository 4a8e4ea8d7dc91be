"""Helpers of the bad-input and fault catalogue: running the CLI, snapshots, message shape.

Every case asserts the same four things (the project's standard for bad input):
the exit status, one ``Error:`` line on stderr without a traceback, that the line
names the file or parameter and says the fix, and that no file was created,
changed or removed anywhere in the test's folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from affine import Affine
from click.testing import CliRunner
from roadseg.cli.main import cli

ROADSEG = Path(sys.executable).with_name("roadseg")

#: A fix in an error line: the hint after "; " or the usage pointer, starting with what to do.
FIX = re.compile(
    r"(; |\(see ')(e\.g\.|give|choose|use|try|set|check|remove|delete|pass|add|free|run|"
    r"convert|warp|install|rename|lower|raise|wait|continue|copy|start|train|georeference|"
    r"predict|upgrade|put|write|reproject|save|the file is damaged|restore|roadseg|valid|fix)",
    re.IGNORECASE,
)


@dataclass
class Outcome:
    """What one CLI run gave."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("Error:")]

    def json_error(self) -> dict:
        lines = [ln for ln in self.stdout.strip().splitlines() if ln.strip()]
        return json.loads(lines[-1])


def run_cli(*args: object, cwd: Path | None = None) -> Outcome:
    """Run ``roadseg ARGS`` in-process, as the console script would (sys.argv set)."""
    import os

    argv = [str(a) for a in args]
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["roadseg", *argv]  # the error contract reads --json from argv
    try:
        if cwd is not None:
            os.chdir(cwd)
        r = CliRunner(mix_stderr=False).invoke(cli, argv, obj={}, catch_exceptions=False)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return Outcome(r.exit_code, r.stdout, r.stderr)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (hidden ones too) → content hash ("dir" for folders)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_dir():
            out[rel + "/"] = "dir"
        elif p.is_file():
            out[rel] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def diff(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Files added, removed and changed between two snapshots."""
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def assert_refused(out: Outcome, code: int, names: tuple[str, ...]) -> str:
    """The shape of a refusal: exit status, one line, no traceback, names one of ``names``, a fix."""
    assert out.exit_code == code, (out.exit_code, out.stderr, out.stdout)
    assert "Traceback" not in out.stderr, out.stderr
    others = [ln for ln in out.stderr.splitlines() if ln.strip() and not ln.startswith("Warning:")]
    assert len(out.error_lines) == 1 and others == out.error_lines, out.stderr
    line = out.error_lines[0]
    assert any(n in line for n in names), (names, line)
    assert FIX.search(line), f"no fix in: {line}"
    return line


def write_tif(path: Path, array: np.ndarray, crs: str | None = "EPSG:32611", transform=None, **kw):
    """A small GeoTIFF (bands, H, W) at 0.5 m in UTM 11N by default."""
    import rasterio

    if array.ndim == 2:
        array = array[None]
    profile = dict(
        driver="GTiff",
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=array.dtype.name,
        transform=transform or Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0),
    )
    profile.update(kw)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array)
    return path


def road_image(h: int, w: int, seed: int = 1) -> np.ndarray:
    """uint8 (3, h, w): grey ground with dark roads."""
    rng = np.random.default_rng(seed)
    img = np.full((3, h, w), 150.0)
    y, x = np.mgrid[0:h, 0:w]
    for _ in range(3):
        img[:, np.abs(x - rng.integers(0, w)) < 3] = 60
        img[:, np.abs(y - rng.integers(0, h)) < 3] = 70
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def tiny_model(path: Path, tile: int = 64, encoder: str = "tu-mobilenetv3_small_050") -> Path:
    """A random small Unet model file (2 M weights): 3 bands, background/major/minor, 0.5 m."""
    from roadseg.models import ModelMeta, build_model, save_model

    torch.manual_seed(0)
    meta = ModelMeta(
        "Unet",
        encoder,
        3,
        ("background", "major", "minor"),
        ((0, 0, 0), (230, 60, 40), (250, 200, 60)),
        (0.0, 8.0, 5.0),
        0.5,
        tile_size=tile,
    )
    return save_model(path, build_model(meta), meta, half=True)
