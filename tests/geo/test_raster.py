"""Window reads in the raster grid and resampled; EPSG:4326 and UTM; scaling; validity."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from georasters import make_raster
from rasterio.crs import CRS
from rasterio.windows import Window
from roadseg.errors import ConfigError, CRSError, InputNotFoundError, RasterReadError
from roadseg.geo.grid import Grid, working_grid
from roadseg.geo.normalize import Scaling
from roadseg.geo.raster import open_raster


def test_window_read_native_grid(tiny_utm):
    with open_raster(tiny_utm) as src:
        w = src.read(Window(10, 20, 16, 8))
    assert w.data.shape == (3, 8, 16)
    # band 1 is x*4, band 2 is y*4 → scaled by 255
    np.testing.assert_allclose(w.data[0, 0, :], np.arange(10, 26) * 4 / 255, atol=1e-6)
    np.testing.assert_allclose(w.data[1, :, 0], np.arange(20, 28) * 4 / 255, atol=1e-6)
    assert w.valid.all()
    assert w.grid.transform.c == pytest.approx(500_000 + 10 * 0.5)
    assert w.grid.transform.f == pytest.approx(4_000_000 - 20 * 0.5)


def test_window_outside_is_invalid(tiny_utm):
    with open_raster(tiny_utm) as src:
        w = src.read(Window(-4, 60, 8, 8))
    assert w.data.shape == (3, 8, 8)
    assert not w.valid[:, :4].any()  # left of the raster
    assert not w.valid[4:, :].any()  # below the raster
    assert w.valid[:4, 4:].all()
    assert (w.data[:, ~w.valid] == 0).all()
    np.testing.assert_allclose(w.data[0, 0, 4:], np.arange(0, 4) * 4 / 255, atol=1e-6)


def test_resampled_read_to_coarser_gsd(tiny_utm):
    with open_raster(tiny_utm) as src:
        g = working_grid(src.grid, 1.0)  # 0.5 m → 1 m
        assert g.shape == (32, 32)
        assert g.gsd_m() == pytest.approx((1.0, 1.0))
        w = src.read_grid(g, "average")
    # averaging 2x2 blocks of x*4: mean of x and x+1 → (2i + 0.5) * 4
    np.testing.assert_allclose(w.data[0, 0, :5], (np.arange(5) * 2 + 0.5) * 4 / 255, atol=1e-5)
    assert w.valid.all()


def test_resampled_read_into_other_crs(tiny_utm):
    """A window in EPSG:4326 over a UTM raster reads the right place."""
    from rasterio.warp import transform_bounds

    with open_raster(tiny_utm) as src:
        lft, b, r, t = transform_bounds(src.crs, "EPSG:4326", *src.grid.bounds)
        g = Grid(CRS.from_epsg(4326), Affine((r - lft) / 40, 0, lft, 0, -(t - b) / 40, t), 40, 40)
        w = src.read_grid(g, "nearest")
    assert w.valid[15:25, 15:25].all()
    # band 1 increases west→east, band 2 north→south
    assert w.data[0, 20, 30] > w.data[0, 20, 10]
    assert w.data[1, 30, 20] > w.data[1, 10, 20]


def test_epsg4326_ground_resolution_and_working_grid(tmp_path):
    # 1e-5 degrees at latitude 36.2: x ≈ 0.898 m, y ≈ 1.113 m
    t = Affine(1e-5, 0, -115.2, 0, -1e-5, 36.2)
    p = make_raster(
        tmp_path / "geo.tif", np.zeros((3, 100, 100), np.uint8), crs="EPSG:4326", transform=t
    )
    with open_raster(p) as src:
        gx, gy = src.gsd_m()
        assert gx == pytest.approx(1e-5 * 111_320 * np.cos(np.radians(36.1995)), rel=1e-3)
        assert gy == pytest.approx(1.1132, rel=1e-3)
        g = working_grid(src.grid, 0.5)
        assert g.gsd_m()[0] == pytest.approx(0.5, rel=1e-2)
        assert g.gsd_m()[1] == pytest.approx(0.5, rel=1e-2)
        assert g.bounds[0] == pytest.approx(src.grid.bounds[0])
        w = src.read_grid(g)
        assert w.data.shape[1:] == g.shape


def test_nodata_and_alpha_become_invalid(tmp_path):
    arr = np.full((3, 16, 16), 100, np.uint16)
    arr[:, :4, :] = 0
    p = make_raster(tmp_path / "nd.tif", arr, nodata=0)
    with open_raster(p) as src:
        w = src.read()
    assert not w.valid[:4].any() and w.valid[4:].all()
    rgba = np.full((4, 8, 8), 200, np.uint8)
    rgba[3, :, :4] = 0
    p2 = make_raster(tmp_path / "rgba.tif", rgba, photometric="RGB", alpha="YES")
    with open_raster(p2) as src:
        assert src.alpha_band == 4 and src.bands == (1, 2, 3)
        w = src.read()
    assert not w.valid[:, :4].any() and w.valid[:, 4:].all()


@pytest.mark.parametrize(
    ("dtype", "values", "expected_high"),
    [
        ("uint8", [0, 255], 255),
        ("uint16", [1, 2047], 2047),
        ("uint16", [0, 60000], 65535),
        ("int16", [0, 1000], 32767),
    ],
)
def test_scaling_by_dtype(tmp_path, dtype, values, expected_high):
    arr = np.array(values * 8, dtype=dtype).reshape(1, 4, 4)
    p = make_raster(tmp_path / f"{dtype}.tif", arr)
    with open_raster(p) as src:
        assert src.scaling.high == (expected_high,)
        w = src.read()
    assert w.data.max() == pytest.approx(max(values) / expected_high)


def test_float_input_and_declared_scaling(tmp_path):
    arr = np.linspace(0, 3000, 64, dtype=np.float32).reshape(1, 8, 8)
    p = make_raster(tmp_path / "f.tif", arr)
    with open_raster(p, scaling=Scaling((0.0,), (3000.0,))) as src:
        w = src.read()
    assert w.data.max() == pytest.approx(1.0) and w.data.min() == 0.0


def test_band_selection(tiny_utm):
    with open_raster(tiny_utm, bands=[2]) as src:
        w = src.read(Window(0, 5, 4, 4))
    assert w.data.shape == (1, 4, 4)
    np.testing.assert_allclose(w.data[0, :, 0], np.arange(5, 9) * 4 / 255, atol=1e-6)
    with pytest.raises(ConfigError, match="band"):
        open_raster(tiny_utm, bands=[4])


def test_bad_inputs(tmp_path):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        open_raster(tmp_path / "missing.tif")
    junk = tmp_path / "junk.tif"
    junk.write_text("not a raster")
    with pytest.raises(RasterReadError, match="not a raster"):
        open_raster(junk)
    with pytest.raises(RasterReadError, match="folder"):
        open_raster(tmp_path)


def test_plain_image_needs_gsd(tmp_path):
    from PIL import Image

    p = tmp_path / "plain.png"
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(p)
    src = open_raster(p)
    assert not src.georeferenced
    with pytest.raises(CRSError, match="pixel size in metres as gsd"):
        src.require_georeference()
    src2 = open_raster(p, gsd=0.5)
    src2.require_georeference()
    assert src2.gsd_m() == (0.5, 0.5)
    assert src2.read().data.shape == (3, 10, 12)


def test_pickle_reopens(tiny_utm):
    import pickle

    src = open_raster(tiny_utm)
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(
        clone.read(Window(0, 0, 4, 4)).data, src.read(Window(0, 0, 4, 4)).data
    )


def test_real_spacenet_4326_info(real_data):
    from roadseg.geo.raster import raster_info

    info = raster_info(real_data / "spacenet_vegas_img0" / "image.tif")
    assert info["crs"] == "EPSG:4326"
    assert info["gsd_m"][1] == pytest.approx(0.30, abs=0.01)
    assert info["alpha_band"] == 4
