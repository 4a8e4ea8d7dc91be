"""2-D tiling: panels give the strip path's output exactly, in memory bounded by the panel."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import rasterio
from predict_helpers import write_scene
from roadseg.prediction import predict, tiles2d
from roadseg.prediction.resample import axis_taps
from roadseg.prediction.stream import weight_sums
from roadseg.prediction.tiles2d import Region, Span, plan_region, weight_sums_over
from roadseg.prediction.tiling import TileLayout, axis_starts, axis_weights


def read_all(path):
    with rasterio.open(path) as ds:
        cmap = ds.colormap(1) if ds.count == 1 else None
        return ds.read(), ds.read_masks(), ds.tags(), ds.profile, cmap


@pytest.mark.parametrize("res", [0.5, 0.3, 0.8])
def test_panels_give_the_strip_paths_bytes(local_model, tmp_path, monkeypatch, res):
    """A raster 3 panels wide: every pixel, mask, tag and palette entry equals one strip."""
    src = write_scene(tmp_path / "s.tif", 180, 700, res=res, seed=5)
    kw = dict(tile=64, overlap=16, batch_size=3, probabilities=True, precision="fp32")
    strip = predict(src, local_model, tmp_path / "strip.tif", **kw)
    monkeypatch.setattr(tiles2d, "PANEL_COLUMNS", 256)
    panels = predict(src, local_model, tmp_path / "panels.tif", **kw)
    assert panels.items[0].tiles == strip.items[0].tiles
    assert panels.items[0].tiles_run > strip.items[0].tiles_run  # border tiles run twice
    # every output pixel counted once for the confidence, whichever panel holds it
    assert panels.items[0].confidence == strip.items[0].confidence
    assert strip.items[0].confidence.pixels == 180 * 700
    for name in ("strip", "panels"):
        assert (tmp_path / f"{name}_proba.tif").exists()
    a, b = read_all(tmp_path / "strip.tif"), read_all(tmp_path / "panels.tif")
    assert np.array_equal(a[0], b[0]) and a[2:] == b[2:]
    assert len(np.unique(a[0])) >= 3  # a real class map, not a constant
    pa, pb = read_all(tmp_path / "strip_proba.tif"), read_all(tmp_path / "panels_proba.tif")
    assert np.array_equal(pa[0], pb[0]) and np.array_equal(pa[1], pb[1])


def test_panels_with_an_extent_and_nodata(local_model, tmp_path, monkeypatch):
    src = write_scene(tmp_path / "s.tif", 150, 600, seed=6, nodata=0)
    with rasterio.open(src, "r+") as ds:
        img = ds.read()
        img[:, 40:90, 100:420] = 0  # nodata across two panels
        ds.write(img)
    box = (500_020.0, 3_999_930.0, 500_290.0, 3_999_990.0)
    kw = dict(tile=64, overlap=16, precision="fp32", bbox=box)
    predict(src, local_model, tmp_path / "strip.tif", **kw)
    monkeypatch.setattr(tiles2d, "PANEL_COLUMNS", 256)
    predict(src, local_model, tmp_path / "panels.tif", **kw)
    a, b = read_all(tmp_path / "strip.tif"), read_all(tmp_path / "panels.tif")
    assert a[0].shape[2] > 256 and (a[0] == 255).any()
    assert np.array_equal(a[0], b[0]) and a[2:] == b[2:]


def _peak_numpy_bytes(local_model, path, out):
    tracemalloc.start()
    try:
        predict(path, local_model, out, tile=64, overlap=16, batch_size=2, precision="fp32")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_array_memory_does_not_grow_with_width_or_height(local_model, tmp_path, monkeypatch):
    """numpy's peak (accumulator, rows, reads) for 10x the columns or rows stays put."""
    monkeypatch.setattr(tiles2d, "PANEL_COLUMNS", 256)
    small = write_scene(tmp_path / "small.tif", 256, 256, seed=1)
    wide = write_scene(tmp_path / "wide.tif", 256, 2560, seed=1)
    tall = write_scene(tmp_path / "tall.tif", 2560, 256, seed=1)
    base = _peak_numpy_bytes(local_model, small, tmp_path / "a.tif")
    p_wide = _peak_numpy_bytes(local_model, wide, tmp_path / "b.tif")
    p_tall = _peak_numpy_bytes(local_model, tall, tmp_path / "c.tif")
    assert p_wide < 1.3 * base and p_tall < 1.3 * base, (base, p_wide, p_tall)


@pytest.mark.parametrize("length,tile,overlap", [(1000, 256, 64), (700, 96, 48), (300, 128, 0)])
def test_ranges_equal_slices_of_the_whole(length, tile, overlap):
    starts = axis_starts(length, tile, overlap)
    whole_w = axis_weights(starts, tile)
    whole_s = weight_sums(starts, whole_w, length)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = int(rng.integers(0, length - 1))
        span = Span(a, int(rng.integers(a + 1, length + 1)))
        ts = tiles2d.tiles_touching(starts, tile, length, span)
        part = axis_weights(starts, tile, first=ts.start, stop=ts.stop)
        assert np.array_equal(part, whole_w[ts.start : ts.stop])
        sums = weight_sums_over(starts, part, ts.start, length, span)
        assert np.array_equal(sums, whole_s[span.start : span.stop])
        for n_out, scale in ((length, 1.0), (length * 2, 2.0), (length // 3, 1 / 3)):
            t = axis_taps(n_out, length, scale)
            b = min(n_out, span.stop)
            if b > span.start:
                tr = axis_taps(n_out, length, scale, span.start, b)
                assert np.array_equal(tr.index, t.index[span.start : b])
                assert np.array_equal(tr.weight, t.weight[span.start : b])


def test_region_plan_takes_every_tile_blended_into_its_pixels():
    lay = TileLayout.build(900, 1300, 128, 32)
    for region in Region.of(0, 0, 900, 1300).panels(256):
        p = plan_region(lay, (900, 1300), (1.0, 1.0), region)
        for j, x in enumerate(lay.xs):
            touches = x < p.work_cols.stop and x + lay.tile_w > p.work_cols.start
            assert touches == (j in p.tile_cols)
        assert p.work_cols == region.cols and p.tile_rows == range(len(lay.ys))


def test_gdal_cache_is_bounded_unless_the_user_sets_it(local_model, tmp_path, monkeypatch):
    """GDAL's block cache is capped while predicting (it would fill with a large raster's
    blocks); a GDAL_CACHEMAX of the user's is kept."""
    from rasterio.env import get_gdal_config
    from roadseg.prediction.stream import GDAL_CACHE_BYTES

    src = write_scene(tmp_path / "s.tif", 100, 100, seed=2)
    seen = []

    def progress(ev):  # called after each batch of tiles, while reading and writing
        if ev.done > 0:
            seen.append(get_gdal_config("GDAL_CACHEMAX"))

    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    predict(src, local_model, tmp_path / "a.tif", tile=64, precision="fp32", progress=progress)
    assert seen and set(seen) == {GDAL_CACHE_BYTES} and GDAL_CACHE_BYTES == 16 * 2**20
    seen.clear()
    # The user's GDAL_CACHEMAX (GDAL read it when the process started) is left as it is.
    monkeypatch.setenv("GDAL_CACHEMAX", "300000000")
    users = get_gdal_config("GDAL_CACHEMAX")
    predict(src, local_model, tmp_path / "b.tif", tile=64, precision="fp32", progress=progress)
    assert seen and set(seen) == {users} and users != GDAL_CACHE_BYTES
