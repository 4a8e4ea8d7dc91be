"""The CLI's shape: -v after any subcommand, one-line usage errors, the tqdm progress bar."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine
from catalogue import road_image, run_cli, tiny_model, write_tif
from roadseg.cli.main import COMMANDS
from roadseg.cli.options import ProgressRenderer
from roadseg.progress import ProgressEvent


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_takes_verbose_and_overwrite_where_it_writes(command):
    r = run_cli(command, "--help")
    assert r.exit_code == 0 and "-v, --verbose" in r.stdout
    writes = command in ("predict", "vectorize", "evaluate", "synth", "train", "adapt")
    assert ("--overwrite" in r.stdout) == writes


def test_verbose_after_the_subcommand_shows_the_traceback(tmp_path):
    quiet = run_cli("info", tmp_path / "nope.tif")
    loud = run_cli("info", tmp_path / "nope.tif", "-v")
    before = run_cli("-v", "info", tmp_path / "nope.tif")
    assert quiet.exit_code == loud.exit_code == before.exit_code == 1
    assert "Traceback" not in quiet.stderr and len(quiet.stderr.splitlines()) == 1
    assert "Traceback" in loud.stderr and "Traceback" in before.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["predict"],
        ["predict", "a.tif", "--out"],
        ["vectorize", "c.tif", "--out", "o.gpkg", "--carriageways", "sideways"],
        ["nonsense"],
    ],
)
def test_usage_errors_are_one_line_with_the_help_pointer(argv):
    r = run_cli(*argv)
    assert r.exit_code == 2
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("Error: ")
    assert "--help')" in r.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_has_rate_and_eta_on_a_terminal(monkeypatch):
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with ProgressRenderer("bar") as bar:
        for i in range(0, 11):
            bar(ProgressEvent("predict", i, 10, "scene.tif"))
        bar(ProgressEvent("vectorize", 1, 2, "blocks"))
    text = err.getvalue()
    assert "predict" in text and "10/10" in text and "tile/s" in text and "scene.tif" in text
    assert "vectorize" in text and "<" in text  # tqdm's elapsed<remaining


def test_no_bar_and_no_extra_lines_in_a_log(monkeypatch, capsys):
    with ProgressRenderer("bar") as bar:
        bar(ProgressEvent("predict", 0, 10))
        bar(ProgressEvent("predict", 10, 10))
    assert capsys.readouterr().err == ""


def test_a_rotated_raster_is_predicted_on_its_north_up_grid(tmp_path):
    """A rotated geotransform is read through a north-up warp; the output says so and covers it."""
    rot = Affine(0.4, 0.3, 500_000.0, 0.3, -0.4, 4_000_000.0)
    src = write_tif(tmp_path / "rotated.tif", road_image(64, 64), transform=rot)
    model = tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "o.tif"
    r = run_cli("predict", src, "--model", model, "--out", out, "--vectorize",
                tmp_path / "o.gpkg", "--tile", "64", "--precision", "fp32", "--progress", "none")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "rotated or sheared geotransform" in r.stderr and "north-up grid" in r.stderr
    with rasterio.open(out) as ds:
        t = ds.transform
        assert t.b == 0 and t.d == 0 and ds.crs.to_epsg() == 32611
        classes = ds.read(1)
        x0, y0 = t * (0, 0)
        x1, y1 = t * (ds.width, ds.height)
    corners = [rot * (c, r) for c in (0, 64) for r in (0, 64)]
    xs, ys = zip(*corners, strict=True)
    assert x0 == pytest.approx(min(xs), abs=1) and x1 == pytest.approx(max(xs), abs=1)
    assert y0 == pytest.approx(max(ys), abs=1) and y1 == pytest.approx(min(ys), abs=1)
    assert classes[0, 0] == 255 and (classes != 255).mean() > 0.4  # corners outside: nodata
    assert (tmp_path / "o.gpkg").exists()
    info = run_cli("info", src, "--json")
    assert info.exit_code == 0 and '"north_up_warp": true' in info.stdout
    assert np.isfinite(np.asarray(corners)).all()
