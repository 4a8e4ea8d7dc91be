"""Blocked prediction in this process: blocks join exactly, vectors merge across block edges,
an interrupted run resumes with only the missing blocks, other runs' blocks are never mixed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from predict_helpers import write_scene
from roadseg.errors import CancelledError, ConfigError
from roadseg.prediction import predict
from roadseg.prediction.manifest import read_manifest
from roadseg.vectorization import vectorize
from roadseg.vectorization.pieces import pieces_readable

KW = dict(tile=64, overlap=16, batch_size=3, precision="fp32")


def pixels(path):
    with rasterio.open(path) as ds:
        cmap = ds.colormap(1) if ds.count == 1 else None
        return ds.read(), ds.read_masks(), ds.tags(), cmap, ds.crs, ds.transform


@pytest.fixture(scope="module")
def scene(tmp_path_factory, local_model):
    """A 600 x 700 raster and its one-process prediction (class raster + probabilities)."""
    d = tmp_path_factory.mktemp("blocks")
    src = write_scene(d / "scene.tif", 600, 700, seed=11)
    predict(src, local_model, d / "seq.tif", probabilities=True, **KW)
    return src, d


def test_blocks_equal_the_one_process_prediction(scene, local_model, tmp_path):
    src, d = scene
    r = predict(
        src, local_model, tmp_path / "out", probabilities=True, block_size=256, merge=True, **KW
    )
    assert r.blocks["total"] == 9 and r.blocks["run"] == 9 and r.blocks["skipped"] == 0
    blocks = sorted((tmp_path / "out" / "scene_blocks").glob("r*c*.tif"))
    assert len([b for b in blocks if "_proba" not in b.name]) == 9
    seq = pixels(d / "seq.tif")
    for name in ("scene_roads.vrt", "scene_roads.tif"):  # the VRT of the blocks, the merged COG
        got = pixels(tmp_path / "out" / name)
        assert np.array_equal(got[0], seq[0]), name
        assert got[2:] == seq[2:], name  # tags (classes, model...), palette, CRS, transform
    for name in ("scene_roads_proba.vrt", "scene_roads_proba.tif"):
        got = pixels(tmp_path / "out" / name)
        assert np.array_equal(got[0], pixels(d / "seq_proba.tif")[0]), name
        assert np.array_equal(got[1], pixels(d / "seq_proba.tif")[1]), name  # nodata mask
    assert r.items[0].classes == tmp_path / "out" / "scene_roads.tif"
    with rasterio.open(blocks[0]) as ds:  # each block is a COG
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_an_interrupted_run_resumes_with_the_missing_blocks(scene, local_model, tmp_path):
    src, _ = scene

    def blocks_done():  # the manifest with its journal: every block finished so far
        m = read_manifest(tmp_path / "out")
        return len(m["rasters"]["scene"]["blocks"]) if m else 0

    with pytest.raises(CancelledError):
        predict(
            src,
            local_model,
            tmp_path / "out",
            block_size=256,
            cancel=lambda: blocks_done() >= 4,
            **KW,
        )
    first = blocks_done()
    assert 4 <= first < 9
    assert not (tmp_path / "out" / "scene_roads.vrt").exists()
    assert not list((tmp_path / "out").rglob(".*.tmp*"))  # no half-written block
    r = predict(src, local_model, tmp_path / "out", block_size=256, **KW)
    assert r.blocks["run"] == 9 - first and r.blocks["skipped"] == first and r.blocks["resumed"]
    once = predict(src, local_model, tmp_path / "once", block_size=256, **KW)
    assert once.blocks["run"] == 9
    for f in sorted((tmp_path / "once" / "scene_blocks").glob("*.tif")):
        assert f.read_bytes() == (tmp_path / "out" / "scene_blocks" / f.name).read_bytes()
    a = pixels(tmp_path / "out" / "scene_roads.vrt")
    b = pixels(tmp_path / "once" / "scene_roads.vrt")
    assert np.array_equal(a[0], b[0])
    # A complete run again: nothing to predict, the outputs are rewritten the same.
    again = predict(src, local_model, tmp_path / "out", block_size=256, **KW)
    assert again.blocks["run"] == 0


def test_another_model_option_or_input_is_refused_unless_overwrite(scene, local_model, tmp_path):
    src, _ = scene
    out = tmp_path / "out"
    predict(src, local_model, out, block_size=512, **KW)
    with pytest.raises(ConfigError, match="another run.*tile: 64 → 128") as e:
        predict(src, local_model, out, block_size=512, **{**KW, "tile": 128})
    assert e.value.param == "out" and "overwrite" in str(e.value)
    r = predict(src, local_model, out, block_size=512, overwrite=True, **{**KW, "tile": 128})
    assert r.blocks["run"] == r.blocks["total"] == 4 and not r.blocks["resumed"]
    with rasterio.open(src, "r+") as ds:  # the input changes
        ds.write(ds.read() // 2)
    with pytest.raises(ConfigError, match="another input"):
        predict(src, local_model, out, block_size=512, **{**KW, "tile": 128})


def test_block_mode_writes_a_folder(scene, local_model, tmp_path):
    src, _ = scene
    with pytest.raises(ConfigError, match="folder") as e:
        predict(src, local_model, tmp_path / "roads.tif", block_size=256, **KW)
    assert e.value.param == "out"
    with pytest.raises(ConfigError, match="multiple of 256"):
        predict(src, local_model, tmp_path / "o", block_size=300, **KW)


def lines_and_polygons(path):
    import pyogrio

    out = {}
    for name, _ in pyogrio.list_layers(path):
        df = gpd.read_file(path, layer=name)
        out[name] = df
    return out


def test_vectors_merged_across_block_edges_equal_one_process(dark_model, tmp_path):
    """A road network crossing many block edges: merged blocks = vectorising the whole raster."""
    src = write_scene(tmp_path / "roads.tif", 768, 768, seed=21)
    predict(src, dark_model, tmp_path / "seq.tif", **KW)
    r = predict(
        src,
        dark_model,
        tmp_path / "out",
        block_size=256,
        vectorize=tmp_path / "out" / "roads.gpkg",
        **KW,
    )
    assert r.blocks["total"] == 9
    assert np.array_equal(pixels(tmp_path / "seq.tif")[0], pixels(r.items[0].classes)[0])
    vectorize(tmp_path / "seq.tif", tmp_path / "b256.gpkg", block_size=256)
    whole = vectorize(tmp_path / "seq.tif", tmp_path / "whole.gpkg")  # one block of 4096
    got = lines_and_polygons(tmp_path / "out" / "roads.gpkg")
    ref = lines_and_polygons(tmp_path / "b256.gpkg")
    assert list(got) == list(ref)
    for name in got:  # the same features, bit for bit, as one process with the same blocks
        assert got[name].drop(columns="geometry").equals(ref[name].drop(columns="geometry"))
        assert [g.wkb for g in got[name].geometry] == [g.wkb for g in ref[name].geometry]
    lines = got["centerlines"]
    assert len(lines) >= 10 and r.items[0].vector_result["edges"] == whole.edges
    # A damaged piece on a rerun (a disk error): that block is vectorised again, the same.
    piece = tmp_path / "out" / "roads_blocks" / "r000c001.npz"
    piece.write_bytes(piece.read_bytes()[:100])
    vec = tmp_path / "out" / "roads.gpkg"
    again = predict(src, dark_model, tmp_path / "out", block_size=256, vectorize=vec, **KW)
    assert again.blocks["run"] == 0 and pieces_readable(piece)
    redo = lines_and_polygons(tmp_path / "out" / "roads.gpkg")
    for name in got:
        assert [g.wkb for g in redo[name].geometry] == [g.wkb for g in got[name].geometry]
    # No breaks at block edges: as connected as the whole raster's network; no duplicates.
    assert r.items[0].vector_result["components"] == whole.components
    assert r.items[0].vector_result["nodes"] == whole.nodes
    assert len({shapely.normalize(g).wkb for g in lines.geometry}) == len(lines)
    one = lines_and_polygons(tmp_path / "whole.gpkg")["centerlines"]
    assert lines.length_m.sum() == pytest.approx(one.length_m.sum(), rel=0.01)
    for name in got:
        if name.startswith("roads_"):
            a, b = got[name], lines_and_polygons(tmp_path / "whole.gpkg")[name]
            assert len(a) == len(b) and a.area_m2.sum() == pytest.approx(b.area_m2.sum(), rel=0.005)
