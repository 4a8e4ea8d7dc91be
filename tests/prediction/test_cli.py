"""`roadseg predict` and `roadseg models` through the real CLI: JSON contract, extents, errors."""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from predict_helpers import CLASSES, last_json, make_raster, progress_lines, road_image, write_scene
from rasterio.warp import transform_bounds
from roadseg.cli.main import cli
from roadseg.prediction.tiling import TileLayout
from shapely.geometry import Polygon


def invoke(*args):
    """Run the CLI in-process, with sys.argv as the console script would see it."""
    argv = [str(a) for a in args]
    old = sys.argv
    sys.argv = ["roadseg", *argv]  # the error contract reads --json from argv
    try:
        return CliRunner(mix_stderr=False).invoke(cli, argv, obj={}, catch_exceptions=False)
    finally:
        sys.argv = old


def test_predict_json_and_progress_contract(model_file, tmp_path):
    src = write_scene(tmp_path / "scene.tif", 100, 140)
    out = tmp_path / "out" / "roads.tif"
    r = invoke(
        "predict",
        src,
        "--model",
        model_file,
        "--out",
        out,
        "--probabilities",
        "--json",
        "--progress",
        "json",
        "--tile",
        "64",
        "--overlap",
        "16",
    )
    assert r.exit_code == 0, r.stderr
    d = last_json(r.stdout)
    assert d["outputs"]["raster"] == str(out) and out.exists()
    assert d["outputs"]["probabilities"] == str(tmp_path / "out" / "roads_proba.tif")
    assert d["outputs"]["vectors"] is None
    m = d["metrics"]
    assert m["megapixels"] == pytest.approx(0.014) and m["seconds"] > 0 and m["mp_per_s"] > 0
    assert (
        d["model"] == str(model_file)
        and d["device"] == "cpu"
        and d["precision"] in ("fp32", "bf16")
    )
    prog = progress_lines(r.stderr)
    assert prog and all(p["stage"] == "predict" for p in prog)
    total = prog[0]["total"]
    assert total == m["tiles"] == TileLayout.build(100, 140, 64, 16).n_tiles == 6  # 2 rows x 3 cols
    assert [p["done"] for p in prog] == sorted(p["done"] for p in prog) and prog[-1][
        "done"
    ] == total
    with rasterio.open(d["outputs"]["probabilities"]) as ds:
        assert ds.count == len(CLASSES) and ds.dtypes[0] == "uint8"
        mask = ds.dataset_mask()
        assert mask.all()  # internal mask: every pixel valid here


def test_bbox_in_raster_crs_crops_on_the_grid(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 120, 120)  # 500000..500060, 3999940..4000000
    out = tmp_path / "crop.tif"
    r = invoke(
        "predict",
        src,
        "--model",
        model_file,
        "--out",
        out,
        "--bbox",
        500010.2,
        3999950,
        500030,
        3999980.1,
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    with rasterio.open(out) as ds, rasterio.open(src) as s:
        # Whole pixels covering the box, on the input's grid.
        assert ds.transform.c == pytest.approx(500010.0) and ds.transform.f == pytest.approx(
            3999980.5
        )
        assert (ds.width, ds.height) == (40, 61)
        assert ds.res == s.res and ds.crs == s.crs
        assert (ds.read(1) != 255).all()


def test_bbox_in_wgs84_on_a_utm_raster(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 120, 120)
    with rasterio.open(src) as s:
        x0, y0, x1, y1 = s.bounds
    lon0, lat0, lon1, lat1 = transform_bounds(
        "EPSG:32611", "EPSG:4326", x0 + 15, y0 + 15, x1 - 15, y1 - 15
    )
    out = tmp_path / "crop.tif"
    r = invoke(
        "predict",
        src,
        "--model",
        model_file,
        "--out",
        out,
        "--bbox",
        lon0,
        lat0,
        lon1,
        lat1,
        "--bbox-crs",
        "EPSG:4326",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32611
        # ~30 m box at 0.5 m: ~60 pixels (slightly more: the lon/lat box is not grid-aligned).
        assert 58 <= ds.width <= 66 and 58 <= ds.height <= 66
        # On the input grid: origin an integer number of pixels from the input's.
        assert ((ds.transform.c - 500_000) / 0.5) == pytest.approx(
            round((ds.transform.c - 500_000) / 0.5)
        )
        a = ds.read(1)
    # The lon/lat box is slightly rotated on the UTM grid: only edge pixels fall outside it.
    assert (a[a.shape[0] // 2, 2:-2] != 255).all() and (a == 255).mean() < 0.1


def test_extent_file_masks_outside_the_polygons(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 100, 100)  # 50 m x 50 m
    with rasterio.open(src) as s:
        x0, y0, x1, y1 = s.bounds
    tri = Polygon([(x0 + 5, y0 + 5), (x1 - 5, y0 + 5), (x0 + 5, y1 - 5)])  # lower-left triangle
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[tri], crs="EPSG:32611").to_crs("EPSG:4326")
    gpkg = tmp_path / "area.gpkg"
    gdf.to_file(gpkg)
    out = tmp_path / "tri.tif"
    r = invoke("predict", src, "--model", model_file, "--out", out, "--extent-file", gpkg, "--json")
    assert r.exit_code == 0, r.stderr
    with rasterio.open(out) as ds:
        a = ds.read(1)
        assert (ds.width, ds.height) == (80, 80)  # cropped to the polygon's window
    assert a[-3, 3] != 255 and a[3, -3] == 255  # inside corner kept, opposite corner nodata
    assert 0.4 < (a != 255).mean() < 0.6


def test_area_outside_the_raster_is_a_clear_error(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 64, 64)
    r = invoke(
        "predict",
        src,
        "--model",
        model_file,
        "--out",
        tmp_path / "o.tif",
        "--bbox",
        0,
        0,
        10,
        10,
        "--json",
    )
    assert r.exit_code == 1
    assert "does not overlap" in r.stderr and "--bbox" in r.stderr
    err = last_json(r.stdout)
    assert err["type"] == "error" and err["error"] == "ConfigError"
    assert not (tmp_path / "o.tif").exists()


def test_several_rasters_write_a_folder(model_file, tmp_path):
    a = write_scene(tmp_path / "a.tif", 64, 64, seed=1)
    b = write_scene(tmp_path / "b.tif", 48, 80, seed=2)
    out = tmp_path / "preds"
    r = invoke("predict", a, b, "--model", model_file, "--out", out, "--json", "--progress", "json")
    assert r.exit_code == 0, r.stderr
    d = last_json(r.stdout)
    assert d["outputs"]["raster"] == [str(out / "a_roads.tif"), str(out / "b_roads.tif")]
    assert rasterio.open(out / "b_roads.tif").shape == (48, 80)
    prog = progress_lines(r.stderr)
    assert prog[-1]["done"] == prog[-1]["total"] == d["metrics"]["tiles"]


def test_plain_png_needs_gsd(model_file, tmp_path):
    png = make_raster(tmp_path / "img.png", road_image(64, 96), crs=None, driver="PNG")
    r = invoke("predict", png, "--model", model_file, "--out", tmp_path / "o.tif")
    assert r.exit_code == 1 and "--gsd" in r.stderr and "georeferenc" in r.stderr
    r = invoke(
        "predict",
        png,
        "--model",
        model_file,
        "--out",
        tmp_path / "o.tif",
        "--gsd",
        "0.25",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.crs is None and ds.shape == (64, 96) and ds.nodata == 255
    assert last_json(r.stdout)["rasters"][0]["working_shape"] == [32, 48]  # 0.25 m px, 0.5 m model
    # Without a CRS, --bbox is in pixel coordinates (column, row).
    r = invoke(
        "predict",
        png,
        "--model",
        model_file,
        "--out",
        tmp_path / "b.tif",
        "--gsd",
        "0.25",
        "--bbox",
        10,
        20,
        50,
        60,
    )
    assert r.exit_code == 0, r.stderr
    assert rasterio.open(tmp_path / "b.tif").shape == (40, 40)


def test_plain_png_with_gsd_vectorises(model_file, tmp_path, recwarn):
    """The class raster of a plain image has no georeferencing: its --gsd reaches the vectoriser.

    Its layers are in pixel coordinates without a CRS (documented): no library warning
    about that reaches the user.
    """
    png = make_raster(tmp_path / "img.png", road_image(64, 96), crs=None, driver="PNG")
    gpkg = tmp_path / "roads.gpkg"
    r = invoke(
        "predict", png, "--model", model_file, "--out", tmp_path / "o.tif", "--gsd", "0.25",
        "--vectorize", gpkg, "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "o.tif").exists() and gpkg.exists()
    item = last_json(r.stdout)["rasters"][0]
    assert item["outputs"]["vectors"] == str(gpkg) and item["vectorize"] is not None
    noise = [str(w.message) for w in recwarn if "crs" in str(w.message).lower()]
    noise += [str(w.message) for w in recwarn if "NotGeoreferenced" in w.category.__name__]
    assert not noise, noise
    # The class raster carries the pixel size: vectorize and evaluate need no --gsd again.
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.tags()["ROADSEG_PIXEL_SIZE_M"] == "0.25"
        cls = ds.read(1)
    again = tmp_path / "again.gpkg"
    r = invoke("vectorize", tmp_path / "o.tif", "--out", again, "--json")
    assert r.exit_code == 0, r.stderr
    lines = [
        gpd.read_file(g, layer="centerlines").geometry.to_wkb().tolist() for g in (gpkg, again)
    ]
    assert lines[0] == lines[1]
    mask = make_raster(tmp_path / "m.png", (cls[None] > 0).astype(np.uint8), crs=None, driver="PNG")
    r = invoke("evaluate", tmp_path / "o.tif", "--truth", mask, "--out-dir", tmp_path / "ev",
               "--no-apls", "--json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "miou" in last_json(r.stdout)["metrics"]
    blocks = tmp_path / "blocks.gpkg"  # and in block mode (the mosaic VRT is plain too)
    r = invoke(
        "predict", png, "--model", model_file, "--out", tmp_path / "b", "--gsd", "0.25",
        "--block-size", "256", "--vectorize", blocks,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert blocks.exists()


def test_one_band_raster_with_a_three_band_model_is_refused(model_file, tmp_path):
    src = make_raster(tmp_path / "pan.tif", road_image(64, 64)[:1])
    r = invoke("predict", src, "--model", model_file, "--out", tmp_path / "o.tif", "--json")
    assert r.exit_code == 1
    assert "1 usable band" in r.stderr and "needs 3" in r.stderr
    assert last_json(r.stdout)["error"] == "ConfigError"


def test_bad_and_missing_model_files(tmp_path):
    src = write_scene(tmp_path / "s.tif", 64, 64)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(np.random.default_rng(0).bytes(1000))
    r = invoke("predict", src, "--model", bad, "--out", tmp_path / "o.tif", "--json")
    assert r.exit_code == 1 and "not a roadseg model" in r.stderr
    assert last_json(r.stdout)["error"] == "ModelFileError"
    r = invoke(
        "predict", src, "--model", tmp_path / "nope.safetensors", "--out", tmp_path / "o.tif"
    )
    assert r.exit_code == 1 and "does not exist" in r.stderr


def test_default_model_missing_says_how_to_get_one(tmp_path, monkeypatch):
    # An installation without the embedded model (e.g. a source build before
    # scripts/train_default_model.py ran): point the registry at a missing file.
    from roadseg.models import modelfile

    monkeypatch.setitem(modelfile.EMBEDDED, "default", "default/not-built.safetensors")
    src = write_scene(tmp_path / "s.tif", 64, 64)
    r = invoke("predict", src, "--out", tmp_path / "o.tif")
    assert r.exit_code == 1 and "embedded model" in r.stderr and "--model" in r.stderr
    r = invoke("models", "--json")
    assert r.exit_code == 0
    d = last_json(r.stdout)
    assert d["models"] == [] and "--model" in d["message"]
    assert "no embedded model" in invoke("models").stdout


def test_models_info(model_file):
    for args in (("models", "--info", model_file, "--json"), ("models", "--json", model_file)):
        r = invoke(*args)
        assert r.exit_code == 0, r.stderr
        d = last_json(r.stdout)
        assert d["classes"] == list(CLASSES) and d["gsd_m"] == 0.5 and d["tile_size"] == 128
        assert d["arch"] == "Unet" and d["encoder"] == "resnet18" and len(d["colors"]) == 3
    text = invoke("models", "--info", model_file).stdout
    assert "background, major, minor" in text and "0.5 m/px" in text
    assert "road        probability of the road classes >= 0.5\n" in text


def test_bad_options_are_named(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 64, 64)
    r = invoke("predict", src, "--model", model_file, "--out", tmp_path / "o.tif", "--tile", "100")
    assert r.exit_code == 1 and "--tile 100" in r.stderr and "multiple of 32" in r.stderr
    r = invoke(
        "predict", src, "--model", model_file, "--out", tmp_path / "o.tif", "--device", "tpu"
    )
    assert r.exit_code == 1 and "--device" in r.stderr
    r = invoke("predict", src, src, "--model", model_file, "--out", tmp_path / "o.tif")
    assert r.exit_code == 1 and "folder" in r.stderr
    r = invoke(
        "predict", src, "--model", model_file, "--out", tmp_path / "o.tif", "--batch-size", 0,
        "--json",
    )  # fmt: skip
    assert r.stderr.strip() == "Error: --batch-size 0 must be from 1 to 4096; e.g. --batch-size 2"
    err = last_json(r.stdout)
    assert (err["param"], err["flag"], err["exit_code"]) == ("batch_size", "--batch-size", 1)
    r = invoke(
        "predict", src, "--model", tmp_path / "nope.safetensors", "--out", tmp_path / "o.tif"
    )
    assert r.stderr.startswith("Error: --model: model file ") and "does not exist" in r.stderr


def test_python_errors_name_python_parameters(model_file, tmp_path):
    from roadseg.errors import ConfigError
    from roadseg.prediction import predict

    src = write_scene(tmp_path / "s.tif", 64, 64)
    with pytest.raises(ConfigError) as info:
        predict(src, model=model_file, out=tmp_path / "o.tif", tile=100)
    e = info.value
    assert (e.param, e.value) == ("tile", 100)
    assert (
        str(e)
        == "tile 100 must be a multiple of 32 (the model's output stride); try tile 96 or 128"
    )


def test_cog_output(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 64, 64)
    out = tmp_path / "cog.tif"
    r = invoke("predict", src, "--model", model_file, "--out", out, "--cog", "--probabilities")
    assert r.exit_code == 0, r.stderr
    for p in (out, tmp_path / "cog_proba.tif"):
        with rasterio.open(p) as ds:
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert rasterio.open(out).tags()["ROADSEG_CLASSES"]
    assert not list(tmp_path.glob(".*tmp*"))


def test_vectorize_after_predict(model_file, tmp_path):
    pytest.importorskip("roadseg.vectorization")
    src = write_scene(tmp_path / "s.tif", 96, 96)
    gpkg = tmp_path / "roads.gpkg"
    r = invoke(
        "predict",
        src,
        "--model",
        model_file,
        "--out",
        tmp_path / "o.tif",
        "--vectorize",
        gpkg,
        "--json",
        "--progress",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    d = last_json(r.stdout)
    assert d["outputs"]["vectors"] == str(gpkg) and gpkg.exists()
    assert set(d["metrics"]["km_per_class"]) == set(CLASSES[1:])
    stages = [p["stage"] for p in progress_lines(r.stderr)]
    assert stages[0] == "predict" and "vectorize" in stages
