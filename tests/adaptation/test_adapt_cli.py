"""`roadseg adapt` on the command line: the --json object, --progress json lines, bad input."""

from __future__ import annotations

import json

import adapt_helpers
import numpy as np
import pytest
import shapely
from adapt_helpers import box_layer, write_lines
from click.testing import CliRunner
from PIL import Image
from road_scenes import ORIGIN
from roadseg.cli.main import cli
from roadseg.device import training_precision

tiny_model = adapt_helpers.tiny_model  # fixtures shared by the adapt tests
scene = adapt_helpers.scene

STAGES = ("prepare", "before", "train", "validate", "after", "write")


def _run(args):
    return CliRunner(mix_stderr=False).invoke(cli, ["adapt", *map(str, args)])


def test_json_and_progress_lines(tiny_model, scene, tmp_path):
    out = tmp_path / "m.safetensors"
    r = _run(
        [
            scene[0],
            "--labels",
            scene[1],
            "--model",
            tiny_model,
            "--steps",
            4,
            "--threads",
            1,
            "--out",
            out,
            "--json",
            "--progress",
            "json",
        ]
    )
    assert r.exit_code == 0, r.stderr
    js = json.loads(r.stdout.strip().splitlines()[-1])
    assert js["model"] == str(out) and js["outputs"] == [str(out)] and out.exists()
    assert js["kept"] in ("adapted", "threshold", "starting")
    m = js["metrics"]
    assert set(m) == {
        "road_iou_before",
        "road_iou_after",
        "gain",
        "road_iou_before_best",
        "before_best_threshold",
        "road_iou_written",
    }
    written = {"adapted": "road_iou_after", "threshold": "road_iou_before_best"}
    assert m["road_iou_written"] == m[written.get(js["kept"], "road_iou_before")]
    assert 0 <= m["road_iou_before"] <= 1 and 0 <= m["road_iou_after"] <= 1
    # the start's best threshold on the hold-out (searched in 0.2..0.8) is the adapted model's bar
    assert 0.2 <= m["before_best_threshold"] <= 0.8
    assert 0 <= m["road_iou_before_best"] <= 1
    if js["kept"] == "adapted":
        assert m["road_iou_after"] >= max(m["road_iou_before"], m["road_iou_before_best"])
    assert js["steps"] == 4 and js["stopped"] == "steps"
    for key in ("minutes", "train_minutes", "settings", "holdout", "data", "parent", "validations"):
        assert key in js
    for key in ("batch_size", "lr", "freeze_share", "road_bias", "validations", "threads"):
        assert key in js["settings"]
    # the training ran at the precision the CPU rule gives (bf16-mixed on AMD avx512_bf16)
    assert js["settings"]["precision"] == training_precision("auto", "cpu")
    assert set(js["holdout"]) >= {"blocks", "labelled_share", "road_share", "windows"}
    assert js["data"]["rasters"][0]["area"] == "convex hull"
    assert js["data"]["rasters"][0]["layer"]["class_rule"]["field"] == "road_class"
    lines = [json.loads(x) for x in r.stderr.strip().splitlines()]
    assert all(
        x["type"] == "progress" and set(x) == {"type", "stage", "done", "total", "message"}
        for x in lines
    )
    seen = [x["stage"] for x in lines]
    assert set(seen) == set(STAGES)
    firsts = [seen.index(s) for s in STAGES]
    assert firsts == sorted(firsts)  # stages start in this order
    assert lines[-1]["stage"] == "write" and lines[-1]["done"] == lines[-1]["total"] == 1
    trains = [x for x in lines if x["stage"] == "train"]
    assert [x["done"] for x in trains] == sorted(x["done"] for x in trains)
    assert all(0 <= x["done"] <= x["total"] for x in trains)


def _plain_image(tmp_path):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "plain.png")
    return tmp_path / "plain.png"


def _line_area(tmp_path):
    ox, oy = ORIGIN
    return write_lines(tmp_path / "lines_area.gpkg", [shapely.LineString([(ox, oy), (ox + 9, oy)])])


CASES = {
    "missing raster": (lambda s, t: [t / "nope.tif", "--labels", s[1]], "does not exist"),
    "missing labels": (lambda s, t: [s[0], "--labels", t / "nope.gpkg"], "do not exist"),
    "no labels": (lambda s, t: [s[0]], "no labels"),
    "out is not a model file": (
        lambda s, t: [s[0], "--labels", s[1], "--out", t / "m.tif"],
        "ending in .safetensors",
    ),
    "labels elsewhere": (
        lambda s, t: [
            s[0],
            "--labels",
            write_lines(
                t / "far.gpkg",
                [
                    shapely.LineString(
                        [(ORIGIN[0] + 9000, ORIGIN[1]), (ORIGIN[0] + 9100, ORIGIN[1])]
                    )
                ],
            ),
        ],
        "does not overlap raster",
    ),
    "area elsewhere": (
        lambda s, t: [s[0], "--labels", s[1], "--area", box_layer(t / "a.gpkg", 5000, 0, 5100, 50)],
        "--area does not overlap",
    ),
    "area of lines": (
        lambda s, t: [s[0], "--labels", s[1], "--area", _line_area(t)],
        "holds no polygon",
    ),
    "dataset and rasters": (
        lambda s, t: [s[0], "--labels", s[1], "--dataset", t],
        "either RASTER",
    ),
    "budget too small": (lambda s, t: [s[0], "--labels", s[1], "--minutes", 0], "from 0.1 to"),
    "class field": (
        lambda s, t: [s[0], "--labels", s[1], "--class-field", "kind"],
        "'kind' is not an attribute",
    ),
    "model file": (
        lambda s, t: [s[0], "--labels", s[1], "--model", t / "none.safetensors"],
        "does not exist",
    ),
    "vectors on a plain image": (
        lambda s, t: [_plain_image(t), "--labels", s[1], "--gsd", 0.5],
        "need georeferenced imagery",
    ),
    "device": (lambda s, t: [s[0], "--labels", s[1], "--device", "tpu"], "--device 'tpu'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_one_clear_line(case, tiny_model, scene, tmp_path):
    make, expect = CASES[case]
    args = make(scene, tmp_path)
    if "--out" not in args:
        args += ["--out", tmp_path / "m.safetensors"]
    if "--model" not in args:
        args += ["--model", tiny_model]
    before = set(tmp_path.iterdir())
    r = _run([*args, "--steps", 2, "--json"])
    assert r.exit_code == 1, (r.exit_code, r.stderr, r.stdout)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and expect in err[0], err
    assert "Traceback" not in r.stderr
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["type"] == "error" and expect in last["message"]
    assert not (tmp_path / "m.safetensors").exists()
    assert set(tmp_path.iterdir()) == before


def test_work_dir_must_be_new(tiny_model, scene, tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x").write_text("x")
    r = _run(
        [
            scene[0],
            "--labels",
            scene[1],
            "--model",
            tiny_model,
            "--work-dir",
            tmp_path / "w",
            "--out",
            tmp_path / "m.safetensors",
        ]
    )
    assert r.exit_code == 1 and "not an empty folder" in r.stderr


def test_an_existing_model_file_is_kept_unless_overwrite(tiny_model, scene, tmp_path):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"an earlier model")
    args = [scene[0], "--labels", scene[1], "--model", tiny_model, "--out", out]
    r = _run([*args, "--steps", 2, "--threads", 1])
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0], err
    assert "--overwrite" in err[0] and "--out" in err[0], err
    assert out.read_bytes() == b"an earlier model"
    r = _run([*args, "--steps", 2, "--threads", 1, "--overwrite", "--json"])
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes() != b"an earlier model"
    assert json.loads(r.stdout.strip().splitlines()[-1])["kept"] in (
        "adapted",
        "threshold",
        "starting",
    )
