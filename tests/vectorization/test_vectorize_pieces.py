"""Blocks vectorised one by one (saved, reloaded, merged) give exactly the one-process result."""

from __future__ import annotations

import geopandas as gpd
import pytest
from road_drawing import WGS84, write_class_raster
from roadseg.vectorization import VectorizeOptions, vectorize
from roadseg.vectorization.api import block_count, vectorize_block, vectorize_pieces
from roadseg.vectorization.pieces import load_pieces, save_pieces
from test_vectorize_blocks import network_raster


def layers(path):
    import pyogrio

    out = {}
    for name, _ in pyogrio.list_layers(path):
        df = gpd.read_file(path, layer=name)
        out[name] = (df.drop(columns="geometry"), [g.wkb for g in df.geometry])
    return out


@pytest.mark.parametrize("where", ["utm", "wgs84"])
def test_pieces_merged_equal_vectorize(tmp_path, where):
    kw = {} if where == "utm" else {"where": WGS84}
    src = write_class_raster(tmp_path / "c.tif", network_raster(seed=3), **kw)
    opts = VectorizeOptions(block_size=128)
    whole = vectorize(src, tmp_path / "one.gpkg", options=opts)
    n = block_count(src, opts)
    assert n == 16
    files = [save_pieces(tmp_path / f"b{i}.npz", vectorize_block(src, i, opts)) for i in range(n)]
    merged = vectorize_pieces(
        src, (load_pieces(f) for f in files), tmp_path / "merged.gpkg", options=opts
    )
    assert (merged.nodes, merged.edges, merged.components) == (
        whole.nodes,
        whole.edges,
        whole.components,
    )
    a, b = layers(tmp_path / "one.gpkg"), layers(tmp_path / "merged.gpkg")
    assert list(a) == list(b) and len(a["centerlines"][1]) > 20
    for name in a:
        assert a[name][0].equals(b[name][0]), name
        assert a[name][1] == b[name][1], name  # the same geometries, bit for bit


def test_pieces_file_loads_without_pickles(tmp_path):
    import numpy as np

    src = write_class_raster(tmp_path / "c.tif", network_raster(seed=4))
    p = save_pieces(tmp_path / "b.npz", vectorize_block(src, 0, VectorizeOptions(block_size=256)))
    with np.load(p, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    back = load_pieces(p)
    assert back.edges is not None and len(back.edges) > 0
    assert sum(len(v) for v in back.seam.values()) > 0


def test_damaged_pieces_and_a_bad_block_index_are_clear_errors(tmp_path):
    from roadseg.errors import ConfigError, DataError
    from roadseg.vectorization.pieces import pieces_readable

    src = write_class_raster(tmp_path / "c.tif", network_raster(seed=4))
    opts = VectorizeOptions(block_size=256)
    n = block_count(src, opts)
    with pytest.raises(ConfigError, match=f"index {n} is not a block.*{n} block") as e:
        vectorize_block(src, n, opts)
    assert e.value.param == "index" and f"0 to {n - 1}" in e.value.hint
    with pytest.raises(ConfigError, match="index -1"):
        vectorize_block(src, -1, opts)
    good = save_pieces(tmp_path / "b.npz", vectorize_block(src, 0, opts))
    data = good.read_bytes()
    assert pieces_readable(good)
    cut = tmp_path / "cut.npz"  # truncated: the archive's index is gone
    cut.write_bytes(data[: len(data) // 2])
    assert not pieces_readable(cut) and not pieces_readable(tmp_path / "missing.npz")
    flipped = bytearray(data)  # an array's bytes changed: the index is intact, the CRC is not
    flipped[len(data) // 3] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(flipped))
    for path in (cut, bad):
        with pytest.raises(DataError, match="block pieces .* are damaged") as e:
            load_pieces(path)
        assert e.value.value == str(path) and "delete the file" in e.value.hint
