"""`working_gsd`: the network runs at another ground resolution; outputs stay on the raster's grid.

Real rasters in tmp_path, the real engine and CLI: the working grid and its tiles follow
the option, the outputs do not move, the model's own resolution reproduces the default
bit for bit, bad values are named (Python and CLI words), a blocked run never mixes
blocks of two working resolutions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from predict_helpers import last_json, settled, write_scene
from roadseg.cli.main import cli
from roadseg.errors import ConfigError, RoadsegWarning
from roadseg.prediction import predict
from roadseg.prediction.manifest import read_manifest

ENGINE = str(Path(__file__).resolve().parents[2] / "engine")
KW = dict(tile=64, overlap=16, batch_size=4, precision="fp32")


def read(path: Path) -> tuple[np.ndarray, dict[str, str], object, object, tuple[int, int]]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.tags(), ds.crs, ds.transform, (ds.width, ds.height)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """A 0.5 m road image, 160 x 200 pixels."""
    return write_scene(tmp_path_factory.mktemp("wgsd") / "scene.tif", 160, 200, seed=3)


def test_working_gsd_sets_the_working_grid_and_outputs_stay_on_the_raster_grid(
    scene, local_model, tmp_path
):
    base = predict(scene, local_model, tmp_path / "base.tif", **KW)
    fine = predict(scene, local_model, tmp_path / "fine.tif", working_gsd=0.4, **KW)
    coarse = predict(scene, local_model, tmp_path / "coarse.tif", working_gsd=1.0, **KW)
    # 0.5 m pixels seen at 0.4 m: 1.25x the rows and columns; at 1 m: half.
    assert base.items[0].working_shape == (160, 200)
    assert fine.items[0].working_shape == (200, 250)
    assert coarse.items[0].working_shape == (80, 100)
    # Tiles are pixels of the working grid: more of them at 0.4 m, fewer at 1 m.
    assert coarse.items[0].tiles < base.items[0].tiles < fine.items[0].tiles
    assert (base.settings["gsd_m"], base.settings["working_gsd_m"]) == (0.5, 0.5)
    assert (fine.settings["gsd_m"], fine.settings["working_gsd_m"]) == (0.5, 0.4)
    assert fine.settings["tile"] == 64 and settled(fine) == []  # 0.4 m: within ±30 %
    b, f, c = (read(tmp_path / n) for n in ("base.tif", "fine.tif", "coarse.tif"))
    src = read(scene)
    for out in (b, f, c):  # the raster's CRS, transform and size, whatever the working grid
        assert out[2] == src[2] and out[3] == src[3] and out[4] == src[4]
        assert out[0].shape == (1, 160, 200)
    assert (b[1]["ROADSEG_MODEL_GSD_M"], b[1]["ROADSEG_WORKING_GSD_M"]) == ("0.5", "0.5")
    assert (f[1]["ROADSEG_MODEL_GSD_M"], f[1]["ROADSEG_WORKING_GSD_M"]) == ("0.5", "0.4")
    # Another working resolution is another prediction (the model sees other pixels).
    assert (b[0] != f[0]).mean() > 0.01


def test_the_models_own_resolution_is_the_default_bit_for_bit(scene, local_model, tmp_path):
    predict(scene, local_model, tmp_path / "a.tif", probabilities=True, **KW)
    predict(scene, local_model, tmp_path / "b.tif", probabilities=True, working_gsd=0.5, **KW)
    for name in ("{}.tif", "{}_proba.tif"):
        a, b = read(tmp_path / name.format("a")), read(tmp_path / name.format("b"))
        assert np.array_equal(a[0], b[0]) and a[1:] == b[1:], name
        assert (tmp_path / name.format("a")).read_bytes() == (
            tmp_path / name.format("b")
        ).read_bytes()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "more than 0"),
        (-0.4, "more than 0"),
        (float("nan"), "finite"),
        (0.2, "from 0.25 to 1 m"),  # below half the model's 0.5 m
        (1.5, "from 0.25 to 1 m"),  # above twice
    ],
)
def test_bad_working_gsd_is_named(scene, local_model, tmp_path, value, words):
    with pytest.raises(ConfigError, match=words) as e:
        predict(scene, local_model, tmp_path / "o.tif", working_gsd=value, **KW)
    assert e.value.param == "working_gsd" and "working_gsd" in str(e.value)
    assert e.value.hint  # says what to give instead
    assert not (tmp_path / "o.tif").exists()


def test_a_resolution_outside_the_trained_scales_warns(scene, local_model, tmp_path):
    net, meta = local_model
    r = predict(scene, local_model, tmp_path / "o.tif", working_gsd=0.3, **KW)  # -40 %
    notes = settled(r)
    assert len(notes) == 1 and isinstance(notes[0], RoadsegWarning)
    assert "working_gsd 0.3 m is outside ±30% of the model's resolution" in str(notes[0])
    assert r.as_dict()["warnings"] == [str(w) for w in r.warnings]
    # A model that records its training scale jitter: the warning follows it.
    narrow = meta.replace(training={"scale_jitter": 0.1})
    r = predict(scene, (net, narrow), tmp_path / "n.tif", working_gsd=0.4, **KW)  # -20 %
    assert len(settled(r)) == 1
    assert "the scales the model was trained with (±10%): 0.45 to 0.55 m" in str(settled(r)[0])
    r = predict(scene, (net, narrow), tmp_path / "m.tif", working_gsd=0.52, **KW)
    assert settled(r) == []


def invoke(*args: object):
    argv = [str(a) for a in args]
    old = sys.argv
    sys.argv = ["roadseg", *argv]
    try:
        return CliRunner(mix_stderr=False).invoke(cli, argv, obj={}, catch_exceptions=False)
    finally:
        sys.argv = old


def test_cli_working_gsd(scene, model_file, tmp_path):
    r = invoke(
        "predict", scene, "--model", model_file, "--out", tmp_path / "o.tif", "--working-gsd",
        "0.4", "--tile", "64", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = last_json(r.stdout)
    assert d["settings"]["working_gsd_m"] == 0.4 and d["settings"]["gsd_m"] == 0.5
    assert d["rasters"][0]["working_shape"] == [200, 250]
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert (ds.width, ds.height) == (200, 160)
        assert ds.tags()["ROADSEG_WORKING_GSD_M"] == "0.4"
    r = invoke(
        "predict", scene, "--model", model_file, "--out", tmp_path / "z.tif", "--working-gsd", "0"
    )
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "Error: --working-gsd 0 must be more than 0 metres; e.g. --working-gsd 0.4"
    )
    assert not (tmp_path / "z.tif").exists()


def test_cli_working_gsd_too_far_from_the_model_is_one_line(scene, model_file, tmp_path):
    """The real console command in a fresh process: exit 1, one line naming the flag."""
    env = {**os.environ, "PYTHONPATH": ENGINE + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "roadseg.cli.main", "predict", str(scene), "--model"]
    cmd += [str(model_file), "--out", str(tmp_path / "o.tif"), "--working-gsd", "5"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("Error: --working-gsd 5 m must be from 0.25 to 1 m")
    assert "e.g. --working-gsd 0.4" in lines[0]
    assert not (tmp_path / "o.tif").exists()


def test_blocks_of_another_working_gsd_are_never_mixed(scene, local_model, tmp_path):
    out = tmp_path / "out"
    r = predict(scene, local_model, out, block_size=256, working_gsd=0.4, **KW)
    assert r.blocks["run"] == r.blocks["total"] and r.settings["working_gsd_m"] == 0.4
    assert read_manifest(out)["key"]["working_gsd_m"] == 0.4
    # The blocks equal the one-process prediction at 0.4 m.
    one = predict(scene, local_model, tmp_path / "one.tif", working_gsd=0.4, **KW)
    assert np.array_equal(read(out / "scene_roads.vrt")[0], read(one.items[0].classes)[0])
    assert read(out / "scene_blocks" / "r000c000.tif")[1]["ROADSEG_WORKING_GSD_M"] == "0.4"
    with pytest.raises(ConfigError, match="another run.*working_gsd_m: 0.4 → null") as e:
        predict(scene, local_model, out, block_size=256, **KW)  # the model's 0.5 m now
    assert e.value.param == "out"
    with pytest.raises(ConfigError, match="working_gsd_m: 0.4 → 0.45"):
        predict(scene, local_model, out, block_size=256, working_gsd=0.45, **KW)
    again = predict(scene, local_model, out, block_size=256, working_gsd=0.4, **KW)
    assert again.blocks["run"] == 0 and again.blocks["resumed"]  # the same run resumes
    redo = predict(scene, local_model, out, block_size=256, overwrite=True, **KW)
    assert redo.blocks["run"] == redo.blocks["total"] and redo.settings["working_gsd_m"] == 0.5
    # The model's own resolution, given or not, is the same run (and old manifests resume).
    assert read_manifest(out)["key"]["working_gsd_m"] is None
    same = predict(scene, local_model, out, block_size=256, working_gsd=0.5, **KW)
    assert same.blocks["run"] == 0
