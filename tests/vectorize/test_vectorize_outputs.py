"""GeoPackage 1.3 layers, GraphML, the CLI (JSON contract) and clear errors on bad input."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio
import pytest
import rasterio
from click.testing import CliRunner
from georasters import make_raster
from road_drawing import draw, write_class_raster
from roadseg.cli.main import cli
from roadseg.errors import DataError, InputNotFoundError, OutputError
from roadseg.vectorize import vectorize

S = 128


@pytest.fixture
def cross(tmp_path):
    arr = draw((S, S), [([(0, 64), (S, 64)], 10, 1), ([(64, 0), (64, S)], 8, 2)])
    return write_class_raster(tmp_path / "cross.tif", arr)


def test_geopackage_is_1_3_with_every_layer(tmp_path, cross):
    out = tmp_path / "o.gpkg"
    # A three-class raster where "track" is absent: its layer exists, empty, typed Polygon.
    arr = draw((S, S), [([(0, 64), (S, 64)], 10, 1)])
    src = write_class_raster(
        tmp_path / "c3.tif",
        arr,
        names=("background", "major", "minor", "track"),
        widths=(0, 6, 4, 3),
    )
    res = vectorize(src, out)
    assert res.layers == ("roads_major", "roads_minor", "roads_track", "centerlines")
    with sqlite3.connect(out) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
        types = dict(
            con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns")
        )
    assert types == {
        "roads_major": "POLYGON",
        "roads_minor": "POLYGON",
        "roads_track": "POLYGON",
        "centerlines": "LINESTRING",
    }
    layers = dict(pyogrio.list_layers(out))
    assert set(layers) == set(res.layers)
    empty = gpd.read_file(out, layer="roads_track")
    assert len(empty) == 0 and {"class", "class_id", "area_m2"} <= set(empty.columns)
    lines = gpd.read_file(out, layer="centerlines")
    assert {"class", "class_id", "width_m", "length_m", "node_u", "node_v"} <= set(lines.columns)
    assert lines.crs.to_epsg() == 32611
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_graphml_matches_the_layer(tmp_path, cross):
    res = vectorize(cross, tmp_path / "o.gpkg", graphml=tmp_path / "o.graphml")
    g = nx.read_graphml(tmp_path / "o.graphml")
    lines = gpd.read_file(tmp_path / "o.gpkg", layer="centerlines")
    assert g.number_of_edges() == len(lines) == res.edges == 4
    assert g.number_of_nodes() == res.nodes == 5
    degs = sorted(d["degree"] for _, d in g.nodes(data=True))
    assert degs == [1, 1, 1, 1, 4]
    hub = next(n for n, d in g.nodes(data=True) if d["degree"] == 4)
    x, y = g.nodes[hub]["x"], g.nodes[hub]["y"]
    assert 500_031 < x < 500_033 and 3_999_967 < y < 3_999_969
    total = sum(d["length_m"] for *_, d in g.edges(data=True))
    assert total == pytest.approx(lines.length_m.sum())
    assert g.graph["crs"] == "EPSG:32611"


def test_untagged_raster_gets_generic_class_names(tmp_path):
    arr = draw((S, S), [([(0, 64), (S, 64)], 10, 1), ([(64, 0), (64, S)], 8, 3)])
    src = write_class_raster(tmp_path / "u.tif", arr, tags=False)
    res = vectorize(src, tmp_path / "u.gpkg")
    assert res.layers == ("roads_class_1", "roads_class_3", "centerlines")
    lines = gpd.read_file(tmp_path / "u.gpkg", layer="centerlines")
    assert set(lines["class"]) == {"class_1", "class_3"}


def test_cli_json(tmp_path, cross):
    out = tmp_path / "sub" / "o.gpkg"
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "vectorize",
            str(cross),
            "--out",
            str(out),
            "--json",
            "--progress",
            "json",
            "--graphml",
            str(tmp_path / "o.graphml"),
            "--simplify",
            "0.5",
        ],
    )
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["outputs"] == [str(out), str(tmp_path / "o.graphml")]
    assert last["metrics"]["edges"] == 4 and last["metrics"]["components"] == 1
    assert last["metrics"]["per_class"]["major"]["km"] == pytest.approx(0.0635, abs=0.002)
    assert last["settings"]["simplify_m"] == 0.5
    assert "total" in last["timings"]
    assert out.exists()
    progress = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    assert progress and all(p["type"] == "progress" for p in progress)
    assert {p["stage"] for p in progress} >= {"vectorize", "write"}


def test_cli_text_output(tmp_path, cross):
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(cross), "--out", str(tmp_path / "o.gpkg"), "--progress", "none"]
    )
    assert r.exit_code == 0, r.output
    assert "centrelines" in r.stdout and "roads_major" in r.stdout


def test_missing_raster(tmp_path):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        vectorize(tmp_path / "nope.tif", tmp_path / "o.gpkg")
    # The real console script: the final JSON error line is part of the contract.
    exe = os.path.join(os.path.dirname(sys.executable), "roadseg")
    r = subprocess.run(
        [exe, "vectorize", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "o.gpkg"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert "does not exist" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["error"] == "InputNotFoundError"
    assert list(tmp_path.iterdir()) == []


def test_rgb_float_image_is_not_a_class_raster(tmp_path):
    img = make_raster(
        tmp_path / "rgb.tif", np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    )
    with pytest.raises(DataError, match="not a class raster"):
        vectorize(img, tmp_path / "o.gpkg")
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(img), "--out", str(tmp_path / "o.gpkg")]
    )
    assert r.exit_code == 1 and "not a class raster" in r.stderr and "prediction" in r.stderr
    assert r.stderr.startswith("Error: CLASS_RASTER ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rgb.tif"]


def test_output_under_a_file_is_refused(tmp_path, cross):
    blocker = tmp_path / "plain.txt"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create the folder"):
        vectorize(cross, blocker / "o.gpkg")
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(cross), "--out", str(blocker / "o.gpkg")]
    )
    assert r.exit_code == 1 and "--out" in r.stderr
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "vectorize",
            str(cross),
            "--out",
            str(tmp_path / "o.gpkg"),
            "--graphml",
            str(blocker / "g.graphml"),
        ],
    )
    assert r.exit_code == 1 and "--graphml" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cross.tif", "plain.txt"]


def test_unwritable_output_leaves_nothing(tmp_path, cross):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(OutputError, match="not writable"):
            vectorize(cross, ro / "o.gpkg")
        r = CliRunner(mix_stderr=False).invoke(
            cli, ["vectorize", str(cross), "--out", str(ro / "o.gpkg")]
        )
        assert r.exit_code == 1 and "--out" in r.stderr
        assert list(ro.iterdir()) == []
    finally:
        os.chmod(ro, 0o700)


def test_output_is_a_folder(tmp_path, cross):
    r = CliRunner(mix_stderr=False).invoke(cli, ["vectorize", str(cross), "--out", str(tmp_path)])
    assert r.exit_code == 1 and "is a folder" in r.stderr


def test_bad_option_value(tmp_path, cross):
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(cross), "--out", str(tmp_path / "o.gpkg"), "--prune", "-3"]
    )
    assert r.exit_code == 1 and "--prune" in r.stderr
    assert not (tmp_path / "o.gpkg").exists()


def test_all_nodata_mask_is_explained(tmp_path):
    arr = np.where(draw((S, S), [([(0, 64), (S, 64)], 10, 1)]) > 0, 255, 255).astype(np.uint8)
    src = write_class_raster(tmp_path / "m.tif", arr, tags=False)
    with pytest.raises(DataError, match="nodata"):
        vectorize(src, tmp_path / "o.gpkg")
    assert not (tmp_path / "o.gpkg").exists()


def test_empty_raster_gives_empty_layers(tmp_path):
    src = write_class_raster(tmp_path / "e.tif", np.zeros((S, S), np.uint8))
    res = vectorize(src, tmp_path / "e.gpkg")
    assert res.edges == 0 and res.centerline_km == 0
    assert len(gpd.read_file(tmp_path / "e.gpkg", layer="centerlines")) == 0
    with rasterio.open(src) as ds:
        assert ds.count == 1
