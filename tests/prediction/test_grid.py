"""Outputs lie on the input's CRS and grid (UTM, EPSG:4326, other resolutions); nodata is kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from predict_helpers import CLASSES, COLORS, make_raster, road_image, write_scene
from rasterio.enums import ColorInterp
from rasterio.windows import Window
from roadseg.prediction import predict


def assert_same_grid(out, src):
    with rasterio.open(out) as o, rasterio.open(src) as s:
        assert o.crs == s.crs
        assert o.transform.almost_equals(s.transform, precision=1e-12)
        assert (o.width, o.height) == (s.width, s.height)
        assert o.count == 1 and o.dtypes[0] == "uint8" and o.nodata == 255


def test_utm_output_contract_and_input_nodata(tiny_model, tmp_path):
    img = road_image(150, 200)
    img[:, 20:50, 30:90] = 0  # nodata block
    src = make_raster(tmp_path / "utm.tif", img, nodata=0)
    out = tmp_path / "classes.tif"
    res = predict(src, tiny_model, out)
    assert_same_grid(out, src)
    with rasterio.open(out) as ds:
        a = ds.read(1)
        tags = ds.tags()
        cmap = ds.colormap(1)
        assert ds.profile["tiled"] and ds.compression is not None
    assert (a[20:50, 30:90] == 255).all()
    valid = np.ones_like(a, bool)
    valid[20:50, 30:90] = False
    assert (a[valid] < len(CLASSES)).all()
    assert json.loads(tags["ROADSEG_CLASSES"]) == list(CLASSES)
    assert [tuple(c) for c in json.loads(tags["ROADSEG_COLORS"])] == list(COLORS)
    assert len(json.loads(tags["ROADSEG_WIDTHS_M"])) == len(CLASSES)
    assert cmap[1][:3] == COLORS[1] and cmap[255][3] == 0
    assert res.items[0].working_shape == (150, 200)  # 0.5 m raster, 0.5 m model: no resampling


def test_alpha_band_becomes_nodata_and_is_not_fed_to_the_model(tiny_model, tmp_path):
    img = road_image(96, 96)
    alpha = np.full((1, 96, 96), 255, np.uint8)
    alpha[0, :, :40] = 0
    src = make_raster(
        tmp_path / "rgba.tif", np.concatenate([img, alpha]), photometric="RGB", alpha="YES"
    )
    with rasterio.open(src) as ds:
        assert ds.colorinterp[3] == ColorInterp.alpha
    out = tmp_path / "o.tif"
    predict(src, tiny_model, out)
    a = rasterio.open(out).read(1)
    assert (a[:, :40] == 255).all() and (a[:, 40:] != 255).all()


@pytest.mark.real_data
def test_real_spacenet_epsg4326_tile(real_data, tiny_model, tmp_path):
    """A crop of the real SpaceNet tile (EPSG:4326, 0.24 × 0.30 m, RGB + alpha)."""
    with rasterio.open(real_data / "spacenet_vegas_img0" / "image.tif") as ds:
        win = Window(500, 400, 200, 160)
        data = ds.read(window=win)
        profile = ds.profile | {"width": 200, "height": 160, "transform": ds.window_transform(win)}
        profile.update(tiled=False, blockxsize=None, blockysize=None)
        profile = {k: v for k, v in profile.items() if v is not None}
        crop = tmp_path / "crop.tif"
        with rasterio.open(crop, "w", **profile) as out:
            out.write(data)
            out.colorinterp = ds.colorinterp
    assert rasterio.open(crop).crs.to_epsg() == 4326
    out = tmp_path / "crop_roads.tif"
    res = predict(crop, tiny_model, out)
    assert_same_grid(out, crop)
    wh = res.items[0].working_shape
    # 0.5 m model: ~0.24 m columns and ~0.30 m rows become square 0.5 m working pixels.
    assert wh[1] == pytest.approx(200 * 0.242 / 0.5, abs=2) and wh[0] == pytest.approx(
        160 * 0.301 / 0.5, abs=2
    )
    assert (rasterio.open(out).read(1) < len(CLASSES)).all()  # alpha is 255 everywhere: all valid


def test_finer_raster_is_predicted_at_model_resolution_and_written_on_its_own_grid(
    local_model, tmp_path
):
    """0.25 m input, 0.5 m model: output on the 0.25 m grid, aligned with the 0.5 m prediction."""
    img = road_image(160, 160, seed=5)
    coarse = make_raster(
        tmp_path / "c.tif", img, transform=Affine(0.5, 0, 500_000, 0, -0.5, 4_000_000)
    )
    fine_img = np.repeat(np.repeat(img, 2, axis=1), 2, axis=2)
    fine = make_raster(
        tmp_path / "f.tif", fine_img, transform=Affine(0.25, 0, 500_000, 0, -0.25, 4_000_000)
    )
    predict(coarse, local_model, tmp_path / "c_o.tif", probabilities=True, precision="fp32")
    res = predict(fine, local_model, tmp_path / "f_o.tif", probabilities=True, precision="fp32")
    assert_same_grid(tmp_path / "f_o.tif", fine)
    assert res.items[0].working_shape == (160, 160)
    pc = torch.from_numpy(rasterio.open(tmp_path / "c_o_proba.tif").read().astype(np.float32) / 255)
    pf = rasterio.open(tmp_path / "f_o_proba.tif").read().astype(np.float32) / 255
    # Independent upsampling (torch, half-pixel centres) of the 0.5 m probabilities.
    up = torch.nn.functional.interpolate(
        pc[None], scale_factor=2, mode="bilinear", align_corners=False
    )[0].numpy()
    diff = np.abs(up - pf).mean()
    shifted = np.abs(np.roll(up, 1, axis=2) - pf).mean()
    assert diff < 0.01 and shifted > 5 * diff, (diff, shifted)


def test_coarser_raster_is_written_on_its_own_grid(tiny_model, tmp_path):
    src = write_scene(tmp_path / "one_m.tif", 64, 80, res=1.0)
    res = predict(src, tiny_model, tmp_path / "o.tif")
    assert_same_grid(tmp_path / "o.tif", src)
    assert res.items[0].working_shape == (128, 160)


def test_tta_runs_and_keeps_the_shape(tiny_model, tmp_path):
    src = write_scene(tmp_path / "s.tif", 70, 90)
    res = predict(src, tiny_model, tmp_path / "tta.tif", tta=True, probabilities=True)
    assert_same_grid(tmp_path / "tta.tif", src)
    with rasterio.open(res.items[0].probabilities) as ds:
        assert ds.count == len(CLASSES) and (ds.width, ds.height) == (90, 70)
        # uint8 probabilities of one pixel sum to ~255.
        assert abs(int(ds.read()[:, 35, 45].astype(int).sum()) - 255) <= len(CLASSES)
