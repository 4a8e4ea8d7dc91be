"""Roads leaving the raster at an angle: their centreline meets the edge where the road does."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from road_drawing import GSD, UTM, draw, write_class_raster
from roadseg.cli.main import cli
from roadseg.vectorization.edge_ends import ray_exit

X0, Y0 = UTM[1].c, UTM[1].f


@pytest.mark.parametrize("angle_deg", [35.0, 50.0])
def test_a_road_crossing_the_edge_at_an_angle_ends_where_its_centreline_crosses_it(
    tmp_path, angle_deg
):
    # A 6 m road (12 px, the widest class) crossing the left edge at (0, 60) px,
    # ``angle_deg`` to the edge, drawn past the raster so the edge cuts it; it ends in a
    # cul-de-sac inside. With the mask repeated straight out of the edge its skeleton
    # turned to meet the edge at a right angle, metres beside the road's crossing.
    a = np.radians(angle_deg)
    u = np.array([np.sin(a), np.cos(a)])  # along the road, into the raster
    e = np.array([0.0, 60.0])
    road = [tuple(e - 40 * u), tuple(e + 110 * u)]
    src = write_class_raster(tmp_path / "x.tif", draw((200, 200), [(road, 12, 1)]))
    out = tmp_path / "x.gpkg"
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(src), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["metrics"]["cleaning"]["edge_ends_straightened"] == 1
    lines = gpd.read_file(out, layer="centerlines").geometry
    ends = shapely.get_coordinates(shapely.boundary(lines.values))
    at_edge = ends[ends[:, 0] < X0 + GSD]
    assert len(at_edge) == 1
    crossing = np.array([X0, Y0 - e[1] * GSD])
    assert float(np.hypot(*(at_edge[0] - crossing))) < 1.0


def test_the_ray_leaves_the_rectangle_through_the_nearest_side():
    assert ray_exit(np.array([1.0, 5.0]), np.array([0.0, -1.0]), 10.0, 10.0) == 5.0
    assert ray_exit(np.array([1.0, 5.0]), np.array([-1.0, 0.0]), 10.0, 10.0) == 1.0
    assert ray_exit(np.array([1.0, 5.0]), np.array([0.0, 0.0]), 10.0, 10.0) == np.inf


def test_a_road_running_along_the_edge_is_traced_inside_the_raster(tmp_path):
    # A 7 m road (14 px) along the top edge, its centreline 1.5 m inside (half a metre
    # of it cut off), and a road joining it and crossing the bottom edge at a right
    # angle. Repeated straight out of the top edge, the first became a band of road
    # above the raster whose centreline lay outside it: no centreline but 4 m of it.
    roads = [([(-10, 3), (210, 3)], 14, 2), ([(100, 3), (100, 210)], 14, 2)]
    src = write_class_raster(tmp_path / "x.tif", draw((200, 200), roads))
    out = tmp_path / "x.gpkg"
    r = CliRunner(mix_stderr=False).invoke(cli, ["vectorize", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = gpd.read_file(out, layer="centerlines").geometry.values
    along = shapely.LineString([(X0, Y0 - 1.5), (X0 + 100, Y0 - 1.5)])
    near = shapely.intersection(shapely.union_all(lines).buffer(2.0), along)
    assert near.length > 0.9 * along.length
    ends = shapely.get_coordinates(shapely.boundary(lines))
    assert (ends[:, 1] < Y0 - 100 + GSD).sum() == 1  # the crossing road reaches the bottom
