"""The main job, `make demo` (scripts/demo.py), run as users run it: a real subprocess.

A small synthetic scene keeps it quick; the script, the engine and the embedded model
are the real ones.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scripts" / "demo.py"
OUTPUTS = ("scene/image.tif", "roads.tif", "roads.gpkg", "preview.png")


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--out", str(out), "--size", "256", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )


def digests(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in OUTPUTS}


def test_the_demo_maps_a_scene_and_a_second_run_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    first = run_demo(out)
    assert first.returncode == 0, first.stderr
    assert "km of centreline" in first.stdout and "MP/s" in first.stdout
    assert "confidence   : " in first.stdout and "of road-like pixels unsure" in first.stdout
    before = digests(out)

    # Without --overwrite the earlier outputs stay as they were, and the message says how.
    again = run_demo(out)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr
    assert digests(out) == before

    # `make demo` passes --overwrite: the second run replaces them, with the same bytes.
    replaced = run_demo(out, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert digests(out) == before


def test_make_demo_passes_overwrite():
    rule = (REPO / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/demo.py" in rule and "--overwrite" in rule


def test_an_out_that_is_a_file_is_refused_with_a_message(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    r = run_demo(afile)
    assert r.returncode == 2
    assert "--out" in r.stderr and "give a folder" in r.stderr and "Traceback" not in r.stderr
    assert afile.read_text() == "mine"
