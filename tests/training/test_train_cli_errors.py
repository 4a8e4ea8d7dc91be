"""Bad input to `roadseg train`: one clear line naming the problem, non-zero exit, no traceback."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from roadseg.cli.main import cli


def _run(args):
    r = CliRunner(mix_stderr=False).invoke(cli, ["train", *args, "--progress", "none"])
    return r


def _far_labels(tmp_path):
    p = tmp_path / "far.gpkg"
    gdf = gpd.GeoDataFrame(
        {"road_class": ["major"]},
        geometry=[shapely.LineString([(0, 0), (10, 10)])],
        crs="EPSG:32611",
    )
    gdf.to_file(p, driver="GPKG")
    return p


CASES = {
    "missing image": (
        lambda s, t: ["--image", str(t / "nope.tif"), "--labels", str(s[1])],
        "does not exist",
        1,
    ),
    "missing labels": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(t / "nope.gpkg")],
        "do not exist",
        1,
    ),
    "labels elsewhere": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(_far_labels(t))],
        "falls inside the raster",
        1,
    ),
    "missing class field": (
        lambda s, t: [
            "--image",
            str(s[0]),
            "--labels",
            str(s[1]),
            "--classes",
            "synth",
            "--class-field",
            "kind",
        ],
        "no attribute 'kind'",
        1,
    ),
    "unknown arch": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--arch", "unetx"],
        "valid: DeepLabV3",
        1,
    ),
    "unknown encoder": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--encoder", "resnet7"],
        "resnet18",
        1,
    ),
    "missing encoder weights": (
        lambda s, t: [
            "--image",
            str(s[0]),
            "--labels",
            str(s[1]),
            "--encoder-weights",
            str(t / "w.pth"),
        ],
        "nothing is downloaded",
        1,
    ),
    "imagenet without package": (
        lambda s, t: [
            "--image",
            str(s[0]),
            "--labels",
            str(s[1]),
            "--encoder",
            "resnet18",
            "--encoder-weights",
            "imagenet",
        ],
        "no local ImageNet weights",
        1,
    ),
    "empty dataset": (lambda s, t: ["--dataset", str(t)], "no image/mask pairs", 1),
    "resume without checkpoint": (lambda s, t: ["--resume", str(t)], "holds no interrupted run", 1),
    "unwritable out": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--out", str(s[0] / "run")],
        "choose a writable location",
        1,
    ),
    "bad tile": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--tile", "100"],
        "Error: --tile 100 must be a multiple of 32",
        1,
    ),
    "config key without a flag": (
        lambda s, t: [
            "--image",
            str(s[0]),
            "--labels",
            str(s[1]),
            "--set",
            "data.max_val_windows=many",
        ],
        "Error: --set data.max_val_windows=… must be an integer, got 'many'",
        1,
    ),
    "unpaired labels": (
        lambda s, t: ["--image", str(s[0]), "--image", str(s[0]), "--labels", str(s[1])],
        "one --labels per --image",
        1,
    ),
    "bad loss": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--loss", "ce+hinge"],
        "valid: ce, bce, dice, focal",
        1,
    ),
    "bad monitor": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--monitor", "val_map"],
        "valid: val_miou",
        1,
    ),
    "no inputs": (lambda s, t: [], "no training data", 1),
    "bad config key": (
        lambda s, t: ["--image", str(s[0]), "--labels", str(s[1]), "--set", "data.tiles=64"],
        "valid in data",
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_line(case, train_scene, tmp_path):
    make_args, expect, code = CASES[case]
    args = make_args(train_scene, tmp_path)
    if "--out" not in args and "--resume" not in args:
        args += ["--out", str(tmp_path / "run")]
    args += (
        ["--set", "data.tile=64", "--workers", "0"] if "--tile" not in args else ["--workers", "0"]
    )
    r = CliRunner(mix_stderr=False).invoke(cli, ["train", *args, "--progress", "none", "--json"])
    assert r.exit_code == code, (r.exit_code, r.stderr, r.stdout)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: "), r.stderr
    assert expect in err[0], err[0]
    assert "Traceback" not in r.stderr + r.stdout


def test_existing_run_needs_resume(train_scene, tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.ckpt").write_bytes(b"x")
    r = _run(
        [
            "--image",
            str(train_scene[0]),
            "--labels",
            str(train_scene[1]),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert r.exit_code == 1 and "--resume" in r.stderr


def test_error_line_names_the_flag_and_the_python_parameter(train_scene, tmp_path):
    import json

    args = [
        "--image",
        str(train_scene[0]),
        "--labels",
        str(train_scene[1]),
        "--out",
        str(tmp_path / "r"),
    ]
    args += ["--set", "data.tile=64", "--workers", "0"]
    r = _run([*args, "--monitor", "val_map", "--json"])
    assert r.exit_code == 1 and r.stderr.startswith("Error: --monitor 'val_map' is not"), r.stderr
    err = json.loads(r.stdout.strip().splitlines()[-1])
    assert err["type"] == "error" and err["error"] == "ConfigError"
    assert err["param"] == "trainer.monitor" and err["flag"] == "--monitor"
    assert err["message"] == r.stderr.strip()[len("Error: ") :]
