"""`roadseg info`, `--version`, and the error contract (one line, exit code, JSON error)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from roadseg._version import __version__
from roadseg.cli.main import cli

ROADSEG = Path(sys.executable).with_name("roadseg")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROADSEG), *args], capture_output=True, text=True, timeout=120)


def test_version():
    r = run("--version")
    assert r.returncode == 0 and __version__ in r.stdout


def test_info_json_utm(tiny_utm):
    res = CliRunner().invoke(cli, ["info", str(tiny_utm), "--json"], obj={})
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    assert info["crs"] == "EPSG:32611"
    assert info["width"] == 64 and info["count"] == 3
    assert info["gsd_m"] == [0.5, 0.5]
    assert info["dtypes"] == ["uint8"] * 3


def test_info_text(tiny_utm):
    res = CliRunner().invoke(cli, ["info", str(tiny_utm)], obj={})
    assert res.exit_code == 0
    assert "0.500 x 0.500 m/px" in res.output


def test_info_real_4326_tile_reports_30cm(real_data):
    r = run("info", str(real_data / "spacenet_vegas_img0" / "image.tif"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["crs"] == "EPSG:4326"
    assert info["gsd_m"][1] == pytest.approx(0.30, abs=0.01)
    assert 0.2 < info["gsd_m"][0] < 0.31


def test_missing_file_is_one_clear_line(tmp_path):
    r = run("info", str(tmp_path / "nope.tif"))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"Error: raster '{tmp_path / 'nope.tif'}' does not exist; check the path"
    ]
    assert "Traceback" not in r.stderr


def test_not_a_raster_json_error_line(tmp_path):
    junk = tmp_path / "notes.tif"
    junk.write_text("hello")
    r = run("info", str(junk), "--json")
    assert r.returncode == 1
    err = json.loads(r.stdout.strip().splitlines()[-1])
    assert err["type"] == "error" and err["error"] == "RasterReadError"
    assert "notes.tif" in err["message"] and "GeoTIFF" in err["message"]
    assert "Traceback" not in r.stderr


def test_verbose_shows_traceback(tmp_path):
    r = run("-v", "info", str(tmp_path / "nope.tif"))
    assert r.returncode == 1 and "Traceback" in r.stderr
