"""Short lone pieces of network (the dashes a model traces along field edges and roof
lines) are dropped after bridging; pieces touching the raster's edge stay."""

from __future__ import annotations

import json

from click.testing import CliRunner
from road_drawing import draw, write_class_raster
from roadseg.cli.main import cli
from roadseg.vectorization import VectorizeOptions
from roadseg.vectorization.params import cleaning_params


def scene(path):
    """128 m square at 0.5 m (widest class 6 m: default 30 m): a road across the raster,
    an 18 m dash and a 48 m dash inside it, a 15 m dash leaving its top edge (4 m wide)."""
    roads = [([(0, 128), (256, 128)], 8, 2)]  # touches the left and right edges
    roads += [([(40, 60), (80, 60)], 8, 2)]  # lone dash, ~18 m of centreline
    roads += [([(60, 200), (160, 200)], 8, 2)]  # lone dash, ~48 m
    roads += [([(220, 0), (220, 30)], 8, 2)]  # short, but on the raster's edge
    return write_class_raster(path, draw((256, 256), roads))


def run(src, out, *flags):
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(src), "--out", str(out), "--json", "--overwrite", *flags]
    )
    return r


def test_short_lone_pieces_go_by_default_and_the_flag_sets_the_length(tmp_path):
    src, out = scene(tmp_path / "x.tif"), tmp_path / "x.gpkg"
    r = run(src, out)
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["settings"]["cleaning"]["drop_pieces_m"] == 30.0  # 5 × the 6 m class
    assert d["metrics"]["cleaning"]["pieces_dropped"] == 1
    assert d["metrics"]["components"] == 3  # the road, the 48 m dash, the edge dash
    r = run(src, out, "--min-piece", "60")
    d = json.loads(r.stdout)
    assert d["metrics"]["cleaning"]["pieces_dropped"] == 2
    assert d["metrics"]["components"] == 2  # the edge dash is a road leaving the raster
    for flags in (["--min-piece", "0"], ["--no-cleaning"]):
        d = json.loads(run(src, out, *flags).stdout)
        assert d["metrics"]["components"] == 4, flags
        assert d["metrics"]["cleaning"]["pieces_dropped"] == 0, flags


def test_min_piece_is_range_checked_and_named_as_the_flag(tmp_path):
    src = scene(tmp_path / "x.tif")
    r = run(src, tmp_path / "x.gpkg", "--min-piece", "-1")
    assert r.exit_code != 0 and "--min-piece" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.gpkg").exists()


def test_no_cleaning_turns_the_step_off():
    assert cleaning_params(False)["min_piece_m"] == 0.0
    assert VectorizeOptions(cleaning=False, min_piece_m=50).min_piece_m == 0.0
