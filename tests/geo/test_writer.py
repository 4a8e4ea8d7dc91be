"""Tiled compressed GeoTIFF windows on the input's grid, atomic commit, COG option."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from roadseg.errors import OutputError
from roadseg.geo.raster import open_raster
from roadseg.geo.writer import GeoTiffWriter


def test_windows_land_on_the_input_grid(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    out = tmp_path / "o.tif"
    with GeoTiffWriter(out, src.grid, 1, "uint8", nodata=255, blocksize=32) as w:
        for r in range(0, 64, 32):
            for c in range(0, 64, 32):
                w.write(np.full((32, 32), r + c // 32, np.uint8), Window(c, r, 32, 32))
    with rasterio.open(out) as ds:
        assert ds.crs == src.crs and ds.transform == src.grid.transform
        assert ds.profile["tiled"] and ds.block_shapes[0] == (32, 32)
        assert ds.compression.name.lower() == "deflate"
        a = ds.read(1)
    assert a[0, 0] == 0 and a[0, 40] == 1 and a[40, 0] == 32 and a[40, 40] == 33
    assert not list(tmp_path.glob(".*tmp*"))


def test_failure_leaves_nothing_and_keeps_existing(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        with GeoTiffWriter(out, src.grid, 1, "uint8") as w:
            w.write(np.zeros((8, 8), np.uint8), Window(0, 0, 8, 8))
            raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["o.tif"] or not list(tmp_path.glob(".*"))


def test_cog_output(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    out = tmp_path / "c.tif"
    with GeoTiffWriter(out, src.grid, 1, "uint8", cog=True, blocksize=16) as w:
        w.write(np.ones((64, 64), np.uint8), Window(0, 0, 64, 64))
    with rasterio.open(out) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.crs == src.crs


def test_unwritable_output(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that can write read-only folders (root)")
        with pytest.raises(OutputError, match="not writable"):
            GeoTiffWriter(ro / "x.tif", src.grid, 1, "uint8")
    finally:
        ro.chmod(0o700)


def test_output_inside_a_file_is_refused(tiny_utm, tmp_path):
    src = open_raster(tiny_utm)
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(OutputError, match="cannot create the folder"):
        GeoTiffWriter(f / "x.tif", src.grid, 1, "uint8")
