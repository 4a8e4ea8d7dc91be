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


@pytest.mark.parametrize("angle_deg", [30.0, 45.0])
def test_a_road_crossing_the_edge_at_an_angle_ends_where_its_centreline_crosses_it(
    tmp_path, angle_deg
):
    # A 7 m road (14 px) crossing the left edge at (0, 60) px, ``angle_deg`` to the
    # edge, drawn past the raster so the edge cuts it; it ends in a cul-de-sac inside.
    # With the mask repeated straight out of the edge its skeleton turned to meet the
    # edge at a right angle: 3.8 m beside the crossing at 30°, 1.8 m at 45°.
    a = np.radians(angle_deg)
    u = np.array([np.sin(a), np.cos(a)])  # along the road, into the raster
    e = np.array([0.0, 60.0])
    road = [tuple(e - 40 * u), tuple(e + 110 * u)]
    src = write_class_raster(tmp_path / "x.tif", draw((200, 200), [(road, 14, 1)]))
    out = tmp_path / "x.gpkg"
    r = CliRunner(mix_stderr=False).invoke(
        cli, ["vectorize", str(src), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["metrics"]["cleaning"]["cleaning"]["edge_ends_straightened"] == 1
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
