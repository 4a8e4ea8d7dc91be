"""Undeclared no-data fill (pure white / pure black areas) becomes nodata in the outputs.

Real GeoTIFFs in tmp_path and the real engine: a raster padded with white (as the
Massachusetts tiles are) or black and declaring no nodata gets nodata over the fill and
nowhere else; a small white patch stays imagery; a raster that declares its own nodata is
left to it; ``detect_fill=False`` and ``--no-detect-fill`` turn the rule off; whole-raster
and block-by-block runs agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from predict_helpers import last_json, make_raster, road_image
from rasterio.transform import Affine
from roadseg.cli.main import cli
from roadseg.prediction import predict

KW = dict(tile=64, overlap=16, batch_size=4, precision="fp32")
T = Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0)  # 0.5 m: the fill square is 64 px


def padded(value: int) -> np.ndarray:
    """A 256 x 320 road image whose right 96 columns and bottom 80 rows are ``value``."""
    img = road_image(256, 320, seed=5)
    img[:, :, 224:] = value
    img[:, 176:, :] = value
    img[:, 10:30, 10:30] = 255  # a 10 m white roof: imagery
    img[:, 40:60, 100:120] = 0  # a 10 m black shadow: imagery
    return img


def classes(path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def fill_area() -> np.ndarray:
    m = np.zeros((256, 320), bool)
    m[:, 224:] = True
    m[176:, :] = True
    return m


@pytest.mark.parametrize("value", [255, 0])
def test_fill_becomes_nodata_and_only_fill(model_file, tmp_path, value):
    src = make_raster(tmp_path / "padded.tif", padded(value), transform=T)
    r = predict(src, model_file, tmp_path / "o.tif", **KW)
    out = classes(tmp_path / "o.tif")
    assert np.array_equal(out == 255, fill_area())  # nodata exactly over the fill
    assert r.items[0].fill_megapixels == pytest.approx(fill_area().sum() / 1e6)
    off = predict(src, model_file, tmp_path / "off.tif", detect_fill=False, **KW)
    assert not (classes(tmp_path / "off.tif") == 255).any() and off.items[0].fill_megapixels == 0
    # outside the fill the rule changes nothing
    assert np.array_equal(out[~fill_area()], classes(tmp_path / "off.tif")[~fill_area()])


def test_declared_nodata_is_the_users_word(model_file, tmp_path):
    img = padded(255)
    img[:, :8, :8] = 7  # the declared nodata value
    src = make_raster(tmp_path / "nd.tif", img, transform=T, nodata=7)
    r = predict(src, model_file, tmp_path / "o.tif", **KW)
    out = classes(tmp_path / "o.tif")
    assert r.items[0].fill_megapixels == 0 and not (out[100:170, 230:] == 255).any()
    assert (out[:8, :8] == 255).all()


def test_blocks_agree_with_one_run_and_the_cli_switch(model_file, tmp_path):
    img = np.concatenate([padded(255), padded(255)[:, :, ::-1]], axis=2)  # 256 x 640
    src = make_raster(tmp_path / "wide.tif", img, transform=T)
    predict(src, model_file, tmp_path / "one.tif", **KW)
    predict(src, model_file, tmp_path / "blocks", block_size=256, merge=True, **KW)
    a, b = classes(tmp_path / "one.tif"), classes(tmp_path / "blocks" / "wide_roads.tif")
    assert (a == 255).sum() > 0 and np.array_equal(a, b)
    runner = CliRunner()
    args = ["predict", str(src), "--model", str(model_file), "--tile", "64", "--json"]
    on = runner.invoke(cli, [*args, "--out", str(tmp_path / "c1.tif")])
    off = runner.invoke(cli, [*args, "--out", str(tmp_path / "c2.tif"), "--no-detect-fill"])
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    assert last_json(on.stdout)["rasters"][0]["fill_megapixels"] > 0
    assert last_json(off.stdout)["rasters"][0]["fill_megapixels"] == 0


@pytest.mark.parametrize("gsd", [0.5, 1.0, 0.3])
def test_tiles_of_fill_skip_the_network_and_change_no_byte(model_file, tmp_path, monkeypatch, gsd):
    """Tiles whose every output pixel is fill are not run; every output byte is the same.

    At the model's resolution (0.5 m), coarser (1 m: the working grid is finer) and finer
    (0.3 m), since which output pixels a tile reaches depends on the resampling.
    """
    from roadseg.prediction import stream

    img = road_image(256, 384, seed=7)
    img[:, :, 200:] = 255  # white fill on the right
    img[:, 190:, :120] = 0  # black fill bottom left
    t = Affine(gsd, 0, 500_000.0, 0, -gsd, 4_000_000.0)
    src = make_raster(tmp_path / "f.tif", img, transform=t)
    runs = {}
    for skip in (True, False):
        monkeypatch.setattr(stream, "SKIP_FILL_TILES", skip)
        out = tmp_path / f"skip{skip}.tif"
        r = predict(src, model_file, out, probabilities=True, **KW)
        runs[skip] = (
            r.items[0],
            out.read_bytes(),
            (tmp_path / f"skip{skip}_proba.tif").read_bytes(),
        )
    on, off = runs[True], runs[False]
    assert on[0].tiles_run < off[0].tiles_run  # some tiles skipped...
    assert on[1] == off[1] and on[2] == off[2]  # ...and not one output byte differs
    assert on[0].fill_megapixels == off[0].fill_megapixels > 0


@pytest.mark.parametrize("scale", [1.0, 0.5, 1 / 0.6, 0.3 / 0.5, 2.5, 0.37])
def test_a_skipped_tile_reaches_no_output_pixel_outside_the_checked_window(scale):
    """Every output pixel with a non-zero resampling tap on a tile is inside ``_reached``."""
    from roadseg.prediction.resample import axis_taps
    from roadseg.prediction.stream import _reached

    n_work = 700
    n_out = int(round(n_work * scale))
    taps = axis_taps(n_out, n_work, scale)
    for w0 in (0, 1, 47, 200, 511, 640):
        w1 = min(n_work, w0 + 64)
        hit = ((taps.index >= w0) & (taps.index < w1) & (taps.weight > 0)).any(axis=1)
        o0, o1 = _reached((w0, w1), scale, n_out, n_work)
        reached = np.flatnonzero(hit)
        assert reached.size and o0 <= reached.min() and reached.max() < o1, (w0, o0, o1)
        assert o0 >= reached.min() - 2 and o1 <= reached.max() + 3  # and not much wider
