"""How sure the model was: `confidence` of each raster in the result, the CLI's line and JSON,
and the warning (naming `--road-threshold` on the CLI) when the rating is poor.

Models whose softmax is the same everywhere give known counts: road probability 0.64 at
every valid pixel is road-like and unsure (poor), 0.98 is sure (good), 0.10 is not road-like.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from georasters import make_raster
from predict_helpers import constant_model, settled
from roadseg.cli.main import cli as main
from roadseg.prediction import predict
from roadseg.prediction.confidence import UnsureWarning


def _image(tmp_path, size=96, nodata_rows=0):
    img = (np.random.default_rng(0).random((3, size, size)) * 200 + 20).astype("uint8")
    path = make_raster(tmp_path / "img.tif", img)
    if nodata_rows:  # a declared nodata value over the top rows: those pixels are not counted
        with rasterio.open(path, "r+") as ds:
            ds.nodata = 0
            a = ds.read()
            a[:, :nodata_rows] = 0
            ds.write(a)
    return path


@pytest.mark.parametrize(
    ("probs", "rating", "unsure", "road_like"),
    [
        ([0.36, 0.33, 0.31], "poor", 1.0, 1.0),
        ([0.02, 0.97, 0.01], "good", 0.0, 1.0),
        ([0.9, 0.05, 0.05], "no road found", None, 0.0),
    ],
    ids=["unsure", "sure", "no-road"],
)
def test_confidence_counts_the_valid_pixels(tmp_path, probs, rating, unsure, road_like):
    model = constant_model(tmp_path / "m.safetensors", probs)
    img = _image(tmp_path, nodata_rows=16)
    r = predict(img, model=model, out=tmp_path / "o.tif")
    c = r.items[0].confidence
    assert c is not None and c.pixels == 80 * 96  # the 16 nodata rows are not counted
    assert (c.rating, c.unsure_share) == (rating, unsure)
    d = r.as_dict()
    assert d["rasters"][0]["confidence"]["rating"] == rating
    assert d["metrics"]["confidence"]["road_like_share"] == road_like
    poor = [w for w in r.warnings if isinstance(w, UnsureWarning)]
    assert len(poor) == (rating == "poor") and settled(r) == []
    if poor:
        assert "img.tif: the model is unsure of this imagery (100 %" in str(poor[0])
        assert "road_threshold" in str(poor[0])


def test_the_cli_prints_confidence_and_names_its_flag_in_the_warning(tmp_path):
    model = constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31])
    img = _image(tmp_path)
    run = CliRunner(mix_stderr=False)
    args = ["predict", str(img), "--model", str(model)]
    text = run.invoke(main, [*args, "--out", str(tmp_path / "a.tif")], obj={})
    assert text.exit_code == 0, text.stderr
    assert "confidence    poor (100 % of road-like pixels unsure)" in text.stdout
    warned = [ln for ln in text.stderr.splitlines() if "unsure of this imagery" in ln]
    assert len(warned) == 1 and warned[0].startswith("Warning: img.tif")  # once, not logged too
    assert "--road-threshold" in warned[0] and "road_threshold" not in warned[0]
    js = run.invoke(main, [*args, "--out", str(tmp_path / "b.tif"), "--json"], obj={})
    d = json.loads(js.stdout.strip().splitlines()[-1])
    assert d["rasters"][0]["confidence"] == {
        "unsure_share": 1.0,
        "road_like_share": 1.0,
        "rating": "poor",
        "pixels": 96 * 96,
    }
    assert any("--road-threshold" in w for w in d["warnings"])


def test_blocked_and_resumed_runs_count_the_same(tmp_path):
    model = constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31])
    img = make_raster(
        tmp_path / "img.tif", (np.random.default_rng(1).random((3, 300, 300)) * 255).astype("uint8")
    )
    one = predict(img, model=model, out=tmp_path / "one.tif").items[0].confidence
    blocked = predict(img, model=model, out=tmp_path / "b", block_size=256)
    assert blocked.items[0].confidence == one and one is not None and one.pixels == 300 * 300
    again = predict(img, model=model, out=tmp_path / "b", block_size=256)  # all blocks done
    assert again.blocks["run"] == 0 and again.items[0].confidence == one
    assert any(isinstance(w, UnsureWarning) for w in again.warnings)
