"""``roadseg synth`` through the real click group."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner
from roadseg.cli.main import cli


def _run(*args: str):
    return CliRunner(mix_stderr=False).invoke(cli, ["synth", *args], catch_exceptions=False)


def test_json_last_line_names_outputs_and_metrics(tmp_path: Path) -> None:
    out = tmp_path / "scene"
    res = _run(str(out), "--size", "128", "--seed", "4", "--style", "urban", "--json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(obj["outputs"]["image"]) == out / "image.tif"
    assert Path(obj["outputs"]["roads"]) == out / "roads.gpkg"
    assert Path(obj["outputs"]["image"]).exists() and Path(obj["outputs"]["roads"]).exists()
    m = obj["metrics"]
    assert set(m["km_per_class"]) == {"major", "minor", "track"}
    assert all(v > 0 for v in m["km_per_class"].values())
    assert (m["layout"], m["size"], m["gsd_m"], m["crs"], m["seed"]) == (
        "urban",
        128,
        0.5,
        "EPSG:32611",
        4,
    )


def test_options_crs_gsd_origin(tmp_path: Path) -> None:
    res = _run(
        str(tmp_path),
        "--size",
        "64",
        "--crs",
        "EPSG:4326",
        "--gsd",
        "1.0",
        "--origin",
        "2.35,48.85",
    )
    assert res.exit_code == 0, res.output
    assert "wrote" in res.stdout
    with rasterio.open(tmp_path / "image.tif") as ds:
        assert ds.crs.to_epsg() == 4326
        left, bottom, right, top = ds.bounds
        assert left < 2.35 < right and bottom < 48.85 < top


def test_unwritable_outdir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    # A real process: the final JSON error line is part of the contract.
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "roadseg.cli.main",
            "synth",
            str(blocker / "scene"),
            "--size",
            "64",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert "Error:" in res.stderr and "OUTDIR" in res.stderr and "file.txt" in res.stderr
    assert "Traceback" not in res.stdout and "Traceback" not in res.stderr
    err = json.loads(res.stdout.strip().splitlines()[-1])
    assert err["type"] == "error" and err["error"] == "OutputError"


@pytest.mark.parametrize(
    "args,hint",
    [
        (["--size", "8"], "--size"),
        (["--gsd", "-1"], "--gsd"),
        (["--style", "moon"], "--style"),
        (["--origin", "abc"], "--origin"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], hint: str) -> None:
    res = CliRunner(mix_stderr=False).invoke(cli, ["synth", str(tmp_path / "o"), *args])
    assert res.exit_code == 2
    assert hint in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_bad_crs_is_one_line_error(tmp_path: Path) -> None:
    res = CliRunner(mix_stderr=False).invoke(
        cli, ["synth", str(tmp_path / "o"), "--size", "64", "--crs", "NOT:A:CRS"]
    )
    assert res.exit_code == 1
    assert "--crs" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_progress_json_lines_on_stderr(tmp_path: Path) -> None:
    res = CliRunner(mix_stderr=False).invoke(
        cli, ["synth", str(tmp_path), "--size", "64", "--progress", "json", "--json"]
    )
    assert res.exit_code == 0, res.output
    events = [json.loads(line) for line in res.stderr.strip().splitlines()]
    assert events and all(e["type"] == "progress" for e in events)
    assert {"layout", "render", "write"} <= {e["stage"] for e in events}
    assert json.loads(res.stdout.strip().splitlines()[-1])["outputs"]["image"].endswith("image.tif")
