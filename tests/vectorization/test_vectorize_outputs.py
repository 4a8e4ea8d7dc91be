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
import shapely
from click.testing import CliRunner
from georasters import make_raster
from road_drawing import draw, write_class_raster
from roadseg.cli.main import cli
from roadseg.errors import DataError, InputNotFoundError, OutputError
from roadseg.vectorization import vectorize

S = 128


@pytest.fixture
def cross(tmp_path):
    arr = draw((S, S), [([(0, 64), (S, 64)], 10, 1), ([(64, 0), (64, S)], 8, 2)])
    return write_class_raster(tmp_path / "cross.tif", arr)


def test_geopackage_is_1_3_without_empty_layers(tmp_path, cross):
    out = tmp_path / "o.gpkg"
    # A three-class raster with only "major" roads: no empty minor/track layers are written.
    arr = draw((S, S), [([(0, 64), (S, 64)], 10, 1)])
    src = write_class_raster(
        tmp_path / "c3.tif",
        arr,
        names=("background", "major", "minor", "track"),
        widths=(0, 6, 4, 3),
    )
    res = vectorize(src, out)
    assert res.layers == ("roads_major", "centerlines")
    assert [c.polygons for c in res.classes] == [1, 0, 0]
    with sqlite3.connect(out) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
        types = dict(
            con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns")
        )
    assert types == {"roads_major": "POLYGON", "centerlines": "LINESTRING"}
    layers = dict(pyogrio.list_layers(out))
    assert set(layers) == set(res.layers)
    major = gpd.read_file(out, layer="roads_major")
    assert len(major) == 1 and {"class", "class_id", "area_m2"} <= set(major.columns)
    lines = gpd.read_file(out, layer="centerlines")
    assert {"class", "class_id", "width_m", "length_m", "node_u", "node_v"} <= set(lines.columns)
    assert lines.crs.to_epsg() == 32611
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_graphml_is_a_routable_directed_multigraph(tmp_path, cross):
    res = vectorize(
        cross, tmp_path / "o.gpkg", graphml=tmp_path / "o.graphml", edges=tmp_path / "e.geojson"
    )
    g = nx.read_graphml(tmp_path / "o.graphml", force_multigraph=True)
    lines = gpd.read_file(tmp_path / "o.gpkg", layer="centerlines")
    assert g.is_directed() and g.is_multigraph()
    assert g.number_of_edges() == 2 * len(lines) == 2 * res.edges == 8  # both directions
    assert g.number_of_nodes() == res.nodes == 5
    # Attributes are text, as osmnx writes them (osmnx.load_graphml restores the types).
    assert sorted(int(d["street_count"]) for _, d in g.nodes(data=True)) == [1, 1, 1, 1, 4]
    hub = next(n for n, d in g.nodes(data=True) if d["street_count"] == "4")
    x, y = float(g.nodes[hub]["x"]), float(g.nodes[hub]["y"])
    assert 500_031 < x < 500_033 and 3_999_967 < y < 3_999_969
    # osmnx's attribute names: length (m), highway, width, geometry (WKT, direction of travel).
    for u, v, d in g.edges(data=True):
        assert {"length", "highway", "width", "geometry", "oneway", "reversed", "osmid"} <= set(d)
        c = shapely.get_coordinates(shapely.from_wkt(d["geometry"]))
        assert c[0] == pytest.approx([float(g.nodes[u]["x"]), float(g.nodes[u]["y"])])
        assert c[-1] == pytest.approx([float(g.nodes[v]["x"]), float(g.nodes[v]["y"])])
    assert {d["highway"] for *_, d in g.edges(data=True)} == {"primary", "residential"}
    total = sum(float(d["length"]) for *_, d in g.edges(data=True))
    assert total == pytest.approx(2 * lines.length_m.sum())
    assert g.graph["crs"] == "EPSG:32611"
    # The edge list has the same attributes and both directions.
    e = gpd.read_file(tmp_path / "e.geojson")
    assert len(e) == 8 and {"u", "v", "length", "highway", "width"} <= set(e.columns)


def test_graphml_loads_in_osmnx(tmp_path, cross):
    ox = pytest.importorskip("osmnx")
    vectorize(cross, tmp_path / "o.gpkg", graphml=tmp_path / "o.graphml")
    g = ox.load_graphml(tmp_path / "o.graphml")
    assert g.number_of_edges() == 8 and g.graph["crs"] == "EPSG:32611"
    u, v, d = next(iter(g.edges(data=True)))
    assert isinstance(d["length"], float) and d["geometry"].geom_type == "LineString"
    assert isinstance(d["oneway"], bool) and isinstance(g.nodes[u]["x"], float)
    nodes, edges = ox.graph_to_gdfs(g)
    assert len(nodes) == 5 and len(edges) == 8
    ends = [n for n, c in g.nodes(data="street_count") if c == 1]
    route = ox.shortest_path(g, ends[0], ends[1], weight="length")
    assert route[0] == ends[0] and route[-1] == ends[1]


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
