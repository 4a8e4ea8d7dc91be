"""The class decision of `roadseg predict`: road from the summed road probability, then its class.

A model whose output is the same split probability everywhere ([0.36, 0.33, 0.31]:
background is the likeliest single class, but road has 0.64) must give road, of the
likelier road class; with the model's threshold raised above 0.64, background.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from click.testing import CliRunner
from georasters import make_raster
from predict_helpers import constant_model
from roadseg.cli.main import cli as main
from roadseg.errors import ConfigError
from roadseg.models import load_model
from roadseg.prediction import predict


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.5, 1), (0.7, 0)],
    ids=["split-road-probability-is-road", "above-the-model-threshold-is-background"],
)
def test_split_road_probability_becomes_road(tmp_path, threshold, expected):
    model = constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31], threshold)
    net, meta = load_model(model)
    assert meta.road_threshold == pytest.approx(threshold)
    with torch.no_grad():
        p = net.predict_proba(torch.rand(1, 3, 64, 64))[0, :, 32, 32]
    assert p.argmax().item() == 0 and float(p[1:].sum()) == pytest.approx(0.64, abs=1e-4)
    img = make_raster(
        tmp_path / "img.tif", (np.random.default_rng(0).random((3, 96, 96)) * 255).astype("uint8")
    )
    out = tmp_path / "roads.tif"
    predict(img, model=model, out=out)
    with rasterio.open(out) as ds:
        classes = ds.read(1)
        assert ds.tags()["ROADSEG_ROAD_THRESHOLD"] == f"{threshold:g}"
    assert set(np.unique(classes).tolist()) == {expected}


def _split_scene(tmp_path):
    return make_raster(
        tmp_path / "img.tif", (np.random.default_rng(0).random((3, 96, 96)) * 255).astype("uint8")
    )


def _classes_and_tag(path):
    with rasterio.open(path) as ds:
        return set(np.unique(ds.read(1)).tolist()), ds.tags()["ROADSEG_ROAD_THRESHOLD"]


@pytest.mark.parametrize(
    ("model_threshold", "option", "expected"),
    [(0.5, 0.7, 0), (0.7, 0.6, 1)],
    ids=["raised-above-the-split-road-is-background", "lowered-below-it-is-road"],
)
def test_road_threshold_option_replaces_the_models(tmp_path, model_threshold, option, expected):
    """`road_threshold` (`--road-threshold`) decides instead of the model's; the tag says which."""
    model = constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31], model_threshold)
    img = _split_scene(tmp_path)
    r = predict(img, model=model, out=tmp_path / "api.tif", road_threshold=option)
    assert r.settings["road_threshold"] == option
    assert _classes_and_tag(tmp_path / "api.tif") == ({expected}, f"{option:g}")
    predict(img, model=model, out=tmp_path / "own.tif")  # without the option: the model's
    assert _classes_and_tag(tmp_path / "own.tif") == ({1 - expected}, f"{model_threshold:g}")
    cli = CliRunner(mix_stderr=False).invoke(
        main,
        [
            "predict",
            str(img),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "cli.tif"),
            "--road-threshold",
            str(option),
        ],
        obj={},
        catch_exceptions=False,
    )
    assert cli.exit_code == 0, cli.stderr
    assert (tmp_path / "cli.tif").read_bytes() == (tmp_path / "api.tif").read_bytes()


def test_road_threshold_in_blocks_and_their_manifest(tmp_path):
    """Blocked prediction decides with the option too, and never mixes blocks of two thresholds."""
    model = constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31], 0.5)
    img = make_raster(
        tmp_path / "img.tif", (np.random.default_rng(1).random((3, 300, 300)) * 255).astype("uint8")
    )
    r = predict(img, model=model, out=tmp_path / "out", block_size=256, road_threshold=0.7)
    assert r.settings["road_threshold"] == 0.7 and r.blocks["run"] == 4
    assert _classes_and_tag(tmp_path / "out" / "img_roads.vrt") == ({0}, "0.7")
    predict(img, model=model, out=tmp_path / "own", block_size=256)
    with pytest.raises(ConfigError, match="road_threshold: null → 0.6"):
        predict(img, model=model, out=tmp_path / "own", block_size=256, road_threshold=0.6)
    r = predict(img, model=model, out=tmp_path / "own", block_size=256, road_threshold=0.5)
    assert r.blocks["run"] == 0  # the model's own threshold given: the same run, resumed
    assert _classes_and_tag(tmp_path / "own" / "img_roads.vrt") == ({1}, "0.5")
