"""Block processing gives the same network and polygons as processing the raster whole."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from road_drawing import WGS84, draw, write_class_raster
from roadseg.vectorization import vectorize


def network_raster(size: int = 512, seed: int = 0) -> np.ndarray:
    """Roads of several widths and classes: a grid, diagonals, a curve, a ring, specks."""
    rng = np.random.default_rng(seed)
    roads = []
    for y in (70, 200, 333, 460):
        roads.append(([(0, y), (size, y + rng.integers(-20, 20))], int(rng.integers(8, 13)), 1))
    for x in (50, 190, 300, 430):
        roads.append(([(x, 0), (x + rng.integers(-30, 30), size)], int(rng.integers(6, 10)), 2))
    roads.append(([(0, 0), (size, size)], 8, 2))
    t = np.linspace(0, size, 60)
    roads.append((list(zip(t, 260 + 60 * np.sin(t / 50), strict=True)), 7, 2))
    ring = [(330, 380), (400, 380), (400, 440), (330, 440), (330, 380)]
    roads.append((ring, 8, 1))
    roads.append(([(128, 128), (128, 140)], 6, 2))  # on a seam line: short stub
    arr = draw((size, size), roads)
    arr[rng.integers(0, size, 30), rng.integers(0, size, 30)] = 2  # single-pixel specks
    arr[127:129, :] = np.where(arr[127:129, :] > 0, 1, 0)  # a road edge along a seam row
    return arr


def summary(lines: gpd.GeoDataFrame) -> dict:
    g = nx.MultiGraph()
    for r in lines.itertuples():
        g.add_edge(r.node_u, r.node_v)
    return {
        "length": float(lines.length_m.sum()),
        "components": nx.number_connected_components(g),
        "degrees": sorted(d for _, d in g.degree()),
        "edges": len(lines),
    }


@pytest.mark.parametrize("where", ["utm", "wgs84"])
def test_blocks_match_whole(tmp_path, where):
    arr = network_raster()
    kw = {} if where == "utm" else {"where": WGS84}
    src = write_class_raster(tmp_path / "c.tif", arr, **kw)
    whole = vectorize(src, tmp_path / "whole.gpkg")
    blocks = vectorize(src, tmp_path / "blocks.gpkg", block_size=128)
    lw = gpd.read_file(tmp_path / "whole.gpkg", layer="centerlines")
    lb = gpd.read_file(tmp_path / "blocks.gpkg", layer="centerlines")
    sw, sb = summary(lw), summary(lb)
    assert sw["edges"] > 20
    assert sb["components"] == sw["components"]
    assert sb["degrees"] == sw["degrees"]
    assert sb["length"] == pytest.approx(sw["length"], rel=0.01)
    assert blocks.nodes == whole.nodes and blocks.edges == whole.edges
    # No duplicates at seams, no zero-length pieces.
    geoms = lb.geometry.values
    assert len({shapely.normalize(g).wkb for g in geoms}) == len(geoms)
    assert (lb.length_m > 0).all()
    # Same attributes per edge (matched by node pairs).
    key = ["node_u", "node_v", "class"]
    m = lw.merge(lb, on=key, suffixes=("_w", "_b"))
    assert len(m) == len(lw)
    np.testing.assert_allclose(m.width_m_w, m.width_m_b, atol=1e-6)
    np.testing.assert_allclose(m.length_m_w, m.length_m_b, rtol=0.03)
    # Polygons: the same area per class, pieces joined across seams.
    for layer in ("roads_major", "roads_minor"):
        pw = gpd.read_file(tmp_path / "whole.gpkg", layer=layer)
        pb = gpd.read_file(tmp_path / "blocks.gpkg", layer=layer)
        assert len(pb) == len(pw)
        assert pb.area_m2.sum() == pytest.approx(pw.area_m2.sum(), rel=0.005)


def test_blocks_are_cancellable(tmp_path):
    from roadseg.errors import CancelledError

    src = write_class_raster(tmp_path / "c.tif", network_raster(256))
    events = []

    def cancel() -> bool:
        return len(events) >= 3

    with pytest.raises(CancelledError):
        vectorize(src, tmp_path / "o.gpkg", block_size=64, progress=events.append, cancel=cancel)
    assert not (tmp_path / "o.gpkg").exists()
    assert [e.stage for e in events][:3] == ["vectorize"] * 3
    assert list(tmp_path.iterdir()) == [src]
