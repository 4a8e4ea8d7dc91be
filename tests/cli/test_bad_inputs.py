"""The bad-input catalogue: every command, every kind of wrong value a user can hand in.

Each case runs the real CLI and asserts the exit status (1 bad input, 2 usage), one
``Error:`` line without a traceback that names the file or option and says the fix,
and that nothing was created, changed or lost anywhere in the test's folder (the
inputs, the existing outputs, the working folder).
"""

from __future__ import annotations

import argparse
import json
import pickle
import types
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import torch
from affine import Affine
from catalogue import (
    assert_refused,
    diff,
    road_image,
    run_cli,
    snapshot,
    tiny_model,
    write_tif,
)
from shapely.geometry import LineString


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> types.SimpleNamespace:
    """Inputs of every kind, existing outputs and damaged files, in one folder."""
    from roadseg.geo.classes import Classes
    from roadseg.geo.classraster import class_raster_writer
    from roadseg.geo.grid import Grid
    from roadseg.training.config import TrainConfig

    root = tmp_path_factory.mktemp("catalogue")
    e = types.SimpleNamespace(root=root)
    e.work = root / "work"
    e.work.mkdir()
    e.scene = write_tif(root / "scene.tif", road_image(96, 96))
    e.one_band = write_tif(root / "one_band.tif", road_image(64, 64)[:1])
    e.model = tiny_model(root / "model.safetensors")
    # A class raster as prediction writes it.
    arr = np.zeros((96, 96), np.uint8)
    arr[40:48, :] = 1
    arr[:, 20:26] = 2
    t = Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0)
    classes = Classes.of(("background", "major", "minor"), ((0, 0, 0),) * 3, (0.0, 8.0, 5.0))
    w = class_raster_writer(root / "classes.tif", Grid("EPSG:32611", t, 96, 96), classes)
    w.write(arr, __import__("rasterio").windows.Window(0, 0, 96, 96))
    w.commit()
    e.classes = root / "classes.tif"
    e.nodata = write_tif(root / "nodata.tif", np.full((1, 64, 64), 255, np.uint8), nodata=255)
    e.plain_classes = write_tif(root / "plain_classes.tif", arr[None], crs=None,
                                transform=Affine.identity())  # fmt: skip
    lines = [LineString([(500_000, 3_999_978), (500_048, 3_999_978)])]
    e.truth = root / "truth.gpkg"
    gpd.GeoDataFrame({"road_class": ["major"]}, geometry=lines, crs="EPSG:32611").to_file(e.truth)
    e.points = root / "points.geojson"
    gpd.GeoDataFrame(
        {"a": [1]}, geometry=gpd.points_from_xy([500_010], [3_999_990]), crs="EPSG:32611"
    ).to_file(e.points)
    e.png = root / "plain.png"
    write_tif(e.png, road_image(64, 64), crs=None, transform=Affine.identity(), driver="PNG")
    e.text = root / "notes.txt"
    e.text.write_text("not a raster\n")
    e.corrupt = root / "corrupt.tif"
    e.corrupt.write_bytes(e.scene.read_bytes()[:300])
    e.folder = root / "afolder"
    e.folder.mkdir()
    e.blocker = root / "blocker"
    e.blocker.write_text("a file where a folder should be")
    e.old_tif = root / "old.tif"
    e.old_tif.write_bytes(b"an earlier result")
    e.old_gpkg = root / "old.gpkg"
    e.old_gpkg.write_bytes(b"an earlier GeoPackage")
    # Damaged model files.
    from safetensors.torch import save_file

    e.no_meta = root / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(e.no_meta))
    e.bad_meta = root / "badmeta.safetensors"
    save_file({"w": torch.zeros(2)}, str(e.bad_meta),
              metadata={"format": "roadseg-model", "roadseg": "{not json"})  # fmt: skip
    e.truncated_model = root / "truncated.safetensors"
    e.truncated_model.write_bytes(e.model.read_bytes()[:4000])
    # Run folders with damaged checkpoints, and a finished run.
    cfg_yaml = TrainConfig.resolve(
        overrides={"image": [str(e.scene)], "labels": [str(e.truth)], "out": "x"}
    ).to_yaml()
    good = {"state_dict": {"w": torch.zeros(2)}, "epoch": 0, "global_step": 3}
    e.runs = {}
    for name in ("corrupt", "truncated", "pickled", "legacy", "empty", "finished"):
        d = root / "runs" / name
        (d / "checkpoints").mkdir(parents=True)
        (d / "config.yaml").write_text(cfg_yaml)
        e.runs[name] = d
    ck = {n: e.runs[n] / "checkpoints" / "last.ckpt" for n in e.runs}
    ck["corrupt"].write_bytes(np.random.default_rng(0).bytes(5000))
    torch.save(good, ck["truncated"])
    ck["truncated"].write_bytes(ck["truncated"].read_bytes()[:-200])
    torch.save({**good, "args": argparse.Namespace(lr=1)}, ck["pickled"])
    with open(ck["legacy"], "wb") as f:
        pickle.dump(good, f)
    ck["empty"].write_bytes(b"")
    torch.save(good, ck["finished"])
    (e.runs["finished"] / "model.safetensors").write_bytes(e.model.read_bytes())
    e.bad_yaml = root / "bad.yaml"
    e.bad_yaml.write_text("data: [unclosed\n")
    # A plain image/mask dataset whose mask does not match its image.
    ds = root / "dataset"
    (ds / "images").mkdir(parents=True)
    (ds / "masks").mkdir()
    write_tif(ds / "images" / "a.png", road_image(64, 64), crs=None,
              transform=Affine.identity(), driver="PNG")  # fmt: skip
    write_tif(ds / "masks" / "a.png", np.zeros((1, 48, 48), np.uint8), crs=None,
              transform=Affine.identity(), driver="PNG")  # fmt: skip
    e.dataset = ds
    # Existing outputs of other commands.
    e.report = root / "report"
    e.report.mkdir()
    (e.report / "metrics.json").write_text("{}")
    e.synth_dir = root / "synth_existing"
    e.synth_dir.mkdir()
    (e.synth_dir / "image.tif").write_bytes(b"an earlier scene")
    return e


def P(e, name):  # noqa: N802 - a short helper for the table
    return str(getattr(e, name))


def predict(e, *extra):
    return ["predict", P(e, "scene"), "--model", P(e, "model"), "--progress", "none", *extra]


def out(e, name="o.tif"):
    return ["--out", str(e.work / name)]


def train(e, *extra):
    base = ["train", "--image", P(e, "scene"), "--labels", P(e, "truth"), "--progress", "none"]
    return [*base, "--out", str(e.work / "run"), "--workers", "0", *extra]


#: (case id, argv builder, exit status, names one of which the message must contain)
CASES = [
    # ---------------------------------------------------------------- info
    ("info missing file", lambda e: ["info", str(e.work / "nope.tif")], 1, ("nope.tif",)),
    ("info folder", lambda e: ["info", P(e, "folder")], 1, ("afolder",)),
    ("info text file", lambda e: ["info", P(e, "text")], 1, ("notes.txt",)),
    ("info truncated tif", lambda e: ["info", P(e, "corrupt")], 1, ("corrupt.tif",)),
    (
        "info missing vsizip",
        lambda e: ["info", "/vsizip/" + str(e.work / "n.zip") + "/a.tif"],
        1,
        ("n.zip",),
    ),
    ("info no argument", lambda e: ["info"], 2, ("RASTER",)),
    # ---------------------------------------------------------------- predict: numbers
    ("predict batch 0", lambda e: predict(e, *out(e), "--batch-size", "0"), 1, ("--batch-size",)),
    ("predict batch -3", lambda e: predict(e, *out(e), "--batch-size", "-3"), 1, ("--batch-size",)),
    (
        "predict batch huge",
        lambda e: predict(e, *out(e), "--batch-size", "100000"),
        1,
        ("--batch-size",),
    ),
    ("predict tile 0", lambda e: predict(e, *out(e), "--tile", "0"), 1, ("--tile",)),
    ("predict tile 100", lambda e: predict(e, *out(e), "--tile", "100"), 1, ("--tile",)),
    ("predict tile huge", lambda e: predict(e, *out(e), "--tile", "99999"), 1, ("--tile",)),
    ("predict tile text", lambda e: predict(e, *out(e), "--tile", "big"), 2, ("--tile",)),
    ("predict overlap -1", lambda e: predict(e, *out(e), "--overlap", "-1"), 1, ("--overlap",)),
    (
        "predict road threshold 1",
        lambda e: predict(e, *out(e), "--road-threshold", "1"),
        1,
        ("--road-threshold",),
    ),
    (
        "predict road threshold 0",
        lambda e: predict(e, *out(e), "--road-threshold", "0"),
        1,
        ("--road-threshold",),
    ),
    (
        "predict road threshold text",
        lambda e: predict(e, *out(e), "--road-threshold", "low"),
        2,
        ("--road-threshold",),
    ),
    (
        "predict overlap > half",
        lambda e: predict(e, *out(e), "--tile", "64", "--overlap", "40"),
        1,
        ("--overlap",),
    ),
    ("predict threads 0", lambda e: predict(e, *out(e), "--threads", "0"), 1, ("--threads",)),
    (
        "predict threads huge",
        lambda e: predict(e, *out(e), "--threads", "100000"),
        1,
        ("--threads",),
    ),
    (
        "predict png gsd -1",
        lambda e: ["predict", P(e, "png"), "--model", P(e, "model"), *out(e), "--gsd", "-1"],
        1,
        ("--gsd",),
    ),
    (
        "predict png gsd 0",
        lambda e: ["predict", P(e, "png"), "--model", P(e, "model"), *out(e), "--gsd", "0"],
        1,
        ("--gsd",),
    ),
    (
        "predict png gsd nan",
        lambda e: ["predict", P(e, "png"), "--model", P(e, "model"), *out(e), "--gsd", "nan"],
        1,
        ("--gsd",),
    ),
    (
        "predict png without gsd",
        lambda e: ["predict", P(e, "png"), "--model", P(e, "model"), *out(e)],
        1,
        ("--gsd",),
    ),
    (
        "predict precision bogus",
        lambda e: predict(e, *out(e), "--precision", "fp8"),
        2,
        ("--precision",),
    ),
    ("predict device tpu", lambda e: predict(e, *out(e), "--device", "tpu"), 1, ("--device",)),
    ("predict unknown option", lambda e: predict(e, *out(e), "--tiles", "3"), 2, ("--tiles",)),
    # ---------------------------------------------------------------- predict: paths
    (
        "predict vectorize = out",
        lambda e: predict(e, *out(e), "--vectorize", str(e.work / "o.tif")),
        1,
        ("--vectorize",),
    ),
    (
        "predict vectorize .tif",
        lambda e: predict(e, *out(e), "--vectorize", str(e.work / "v.tif")),
        1,
        ("--vectorize",),
    ),
    ("predict out .png", lambda e: predict(e, *out(e, "o.png")), 1, ("--out",)),
    ("predict out = input", lambda e: predict(e, "--out", P(e, "scene")), 1, ("--out",)),
    ("predict out exists", lambda e: predict(e, "--out", P(e, "old_tif")), 1, ("--overwrite",)),
    (
        "predict vectors exist",
        lambda e: predict(e, *out(e), "--vectorize", P(e, "old_gpkg")),
        1,
        ("--overwrite",),
    ),
    (
        "predict out under a file",
        lambda e: predict(e, "--out", str(e.blocker / "o.tif")),
        1,
        ("--out",),
    ),
    (
        "predict out is a URL",
        lambda e: predict(e, "--out", "https://example.com/o.tif"),
        1,
        ("--out",),
    ),
    (
        "predict two rasters one file",
        lambda e: ["predict", P(e, "scene"), P(e, "one_band"), "--model", P(e, "model"), *out(e)],
        1,
        ("--out",),
    ),
    (
        "predict extent = vectorize",
        lambda e: predict(e, *out(e), "--extent-file", P(e, "truth"), "--vectorize", P(e, "truth")),
        1,
        ("--vectorize",),
    ),
    (
        "predict missing raster",
        lambda e: ["predict", str(e.work / "nope.tif"), "--model", P(e, "model"), *out(e)],
        1,
        ("nope.tif",),
    ),
    (
        "predict corrupt raster",
        lambda e: ["predict", P(e, "corrupt"), "--model", P(e, "model"), *out(e)],
        1,
        ("corrupt.tif",),
    ),
    (
        "predict text raster",
        lambda e: ["predict", P(e, "text"), "--model", P(e, "model"), *out(e)],
        1,
        ("notes.txt",),
    ),
    (
        "predict one band",
        lambda e: ["predict", P(e, "one_band"), "--model", P(e, "model"), *out(e)],
        1,
        ("one_band.tif", "--bands"),
    ),
    # ---------------------------------------------------------------- predict: model
    (
        "predict model missing",
        lambda e: ["predict", P(e, "scene"), "--model", str(e.work / "m.safetensors"), *out(e)],
        1,
        ("--model",),
    ),
    (
        "predict model is text",
        lambda e: ["predict", P(e, "scene"), "--model", P(e, "text"), *out(e)],
        1,
        ("notes.txt",),
    ),
    (
        "predict model no metadata",
        lambda e: ["predict", P(e, "scene"), "--model", P(e, "no_meta"), *out(e)],
        1,
        ("plain.safetensors",),
    ),
    (
        "predict model metadata not JSON",
        lambda e: ["predict", P(e, "scene"), "--model", P(e, "bad_meta"), *out(e)],
        1,
        ("badmeta.safetensors",),
    ),
    (
        "predict model truncated",
        lambda e: ["predict", P(e, "scene"), "--model", P(e, "truncated_model"), *out(e)],
        1,
        ("truncated.safetensors",),
    ),
    # ---------------------------------------------------------------- predict: bands, extent
    ("predict bands 0", lambda e: predict(e, *out(e), "--bands", "0"), 2, ("--bands",)),
    ("predict bands absent", lambda e: predict(e, *out(e), "--bands", "4,5,6"), 1, ("--bands",)),
    ("predict bands too few", lambda e: predict(e, *out(e), "--bands", "1,2"), 1, ("--bands",)),
    (
        "predict bbox outside",
        lambda e: predict(e, *out(e), "--bbox", "0", "0", "10", "10"),
        1,
        ("--bbox",),
    ),
    (
        "predict bbox inverted",
        lambda e: predict(e, *out(e), "--bbox", "500040", "3999990", "500000", "3999960"),
        1,
        ("--bbox",),
    ),
    (
        "predict bbox crs unknown",
        lambda e: predict(e, *out(e), "--bbox", "0", "0", "1", "1", "--bbox-crs", "EPSG:999999"),
        1,
        ("--bbox-crs",),
    ),
    (
        "predict extent missing",
        lambda e: predict(e, *out(e), "--extent-file", str(e.work / "a.gpkg")),
        1,
        ("--extent-file",),
    ),
    (
        "predict extent not vectors",
        lambda e: predict(e, *out(e), "--extent-file", P(e, "text")),
        1,
        ("--extent-file",),
    ),
    (
        "predict extent of points",
        lambda e: predict(e, *out(e), "--extent-file", P(e, "points")),
        1,
        ("--extent-file",),
    ),
    (
        "predict scaling nonsense",
        lambda e: predict(e, *out(e), "--scaling", "lots"),
        1,
        ("--scaling",),
    ),
    # ---------------------------------------------------------------- vectorize
    (
        "vectorize missing",
        lambda e: ["vectorize", str(e.work / "c.tif"), *out(e, "v.gpkg")],
        1,
        ("c.tif",),
    ),
    (
        "vectorize image not classes",
        lambda e: ["vectorize", P(e, "scene"), *out(e, "v.gpkg")],
        1,
        ("scene.tif",),
    ),
    (
        "vectorize out .tif",
        lambda e: ["vectorize", P(e, "classes"), *out(e, "v.tif")],
        1,
        ("--out",),
    ),
    (
        "vectorize out folder",
        lambda e: ["vectorize", P(e, "classes"), "--out", P(e, "folder")],
        1,
        ("--out",),
    ),
    (
        "vectorize out exists",
        lambda e: ["vectorize", P(e, "classes"), "--out", P(e, "old_gpkg")],
        1,
        ("--overwrite",),
    ),
    (
        "vectorize graphml = out",
        lambda e: [
            "vectorize",
            P(e, "classes"),
            *out(e, "v.gpkg"),
            "--graphml",
            str(e.work / "v.gpkg"),
        ],
        1,
        ("--graphml",),
    ),
    (
        "vectorize edges .txt",
        lambda e: [
            "vectorize",
            P(e, "classes"),
            *out(e, "v.gpkg"),
            "--edges",
            str(e.work / "e.txt"),
        ],
        1,
        ("--edges",),
    ),
    (
        "vectorize prune -1",
        lambda e: ["vectorize", P(e, "classes"), *out(e, "v.gpkg"), "--prune", "-1"],
        1,
        ("--prune",),
    ),
    (
        "vectorize simplify nan",
        lambda e: ["vectorize", P(e, "classes"), *out(e, "v.gpkg"), "--simplify", "nan"],
        1,
        ("--simplify",),
    ),
    (
        "vectorize bridge angle 0",
        lambda e: ["vectorize", P(e, "classes"), *out(e, "v.gpkg"), "--bridge-angle", "0"],
        1,
        ("--bridge-angle",),
    ),
    (
        "vectorize block 10",
        lambda e: ["vectorize", P(e, "classes"), *out(e, "v.gpkg"), "--block-size", "10"],
        1,
        ("--block-size",),
    ),
    (
        "vectorize loop area -5",
        lambda e: ["vectorize", P(e, "classes"), *out(e, "v.gpkg"), "--loop-area", "-5"],
        1,
        ("--loop-area",),
    ),
    (
        "vectorize plain gsd -2",
        lambda e: ["vectorize", P(e, "plain_classes"), *out(e, "v.gpkg"), "--gsd", "-2"],
        1,
        ("--gsd",),
    ),
    (
        "vectorize plain without gsd",
        lambda e: ["vectorize", P(e, "plain_classes"), *out(e, "v.gpkg")],
        1,
        ("--gsd",),
    ),
    (
        "vectorize all nodata",
        lambda e: ["vectorize", P(e, "nodata"), *out(e, "v.gpkg")],
        1,
        ("nodata.tif",),
    ),
    # ---------------------------------------------------------------- evaluate
    (
        "evaluate buffer -1",
        lambda e: [
            "evaluate",
            P(e, "classes"),
            "--truth",
            P(e, "truth"),
            "--buffer",
            "-1",
            "--out-dir",
            str(e.work / "r"),
        ],
        1,
        ("--buffer",),
    ),
    (
        "evaluate snap -1",
        lambda e: [
            "evaluate",
            P(e, "classes"),
            "--truth",
            P(e, "truth"),
            "--apls-snap",
            "-1",
            "--out-dir",
            str(e.work / "r"),
        ],
        1,
        ("--apls-snap",),
    ),
    (
        "evaluate truth missing",
        lambda e: [
            "evaluate",
            P(e, "classes"),
            "--truth",
            str(e.work / "t.gpkg"),
            "--out-dir",
            str(e.work / "r"),
        ],
        1,
        ("t.gpkg",),
    ),
    (
        "evaluate truth text",
        lambda e: [
            "evaluate",
            P(e, "classes"),
            "--truth",
            P(e, "text"),
            "--out-dir",
            str(e.work / "r"),
        ],
        1,
        ("notes.txt",),
    ),
    (
        "evaluate report exists",
        lambda e: [
            "evaluate",
            P(e, "classes"),
            "--truth",
            P(e, "truth"),
            "--out-dir",
            P(e, "report"),
        ],
        1,
        ("--overwrite",),
    ),
    (
        "evaluate image not classes",
        lambda e: [
            "evaluate",
            P(e, "scene"),
            "--truth",
            P(e, "truth"),
            "--out-dir",
            str(e.work / "r"),
        ],
        1,
        ("scene.tif",),
    ),
    # ---------------------------------------------------------------- synth
    ("synth size 10", lambda e: ["synth", str(e.work / "s"), "--size", "10"], 2, ("--size",)),
    ("synth gsd 0", lambda e: ["synth", str(e.work / "s"), "--gsd", "0"], 2, ("--gsd",)),
    (
        "synth style unknown",
        lambda e: ["synth", str(e.work / "s"), "--style", "lunar"],
        2,
        ("--style",),
    ),
    (
        "synth crs unknown",
        lambda e: ["synth", str(e.work / "s"), "--crs", "EPSG:999999", "--size", "64"],
        1,
        ("--crs",),
    ),
    (
        "synth scene exists",
        lambda e: ["synth", P(e, "synth_dir"), "--size", "64"],
        1,
        ("--overwrite",),
    ),
    # ---------------------------------------------------------------- train: values
    ("train epochs 0", lambda e: train(e, "--epochs", "0"), 1, ("--epochs",)),
    ("train lr -1", lambda e: train(e, "--lr", "-1"), 1, ("--lr",)),
    ("train lr 0", lambda e: train(e, "--lr", "0"), 1, ("--lr",)),
    ("train lr nan", lambda e: train(e, "--lr", "nan"), 1, ("--lr",)),
    (
        "train samples < batch",
        lambda e: train(e, "--samples-per-epoch", "2", "--batch-size", "8"),
        1,
        ("--samples-per-epoch",),
    ),
    ("train batch 0", lambda e: train(e, "--batch-size", "0"), 1, ("--batch-size",)),
    ("train tile 100", lambda e: train(e, "--tile", "100"), 1, ("--tile",)),
    ("train val fraction 1", lambda e: train(e, "--val-fraction", "1"), 1, ("--val-fraction",)),
    ("train road bias 2", lambda e: train(e, "--road-bias", "2"), 1, ("--road-bias",)),
    ("train workers -1", lambda e: train(e, "--workers", "-1"), 1, ("--workers",)),
    ("train gsd -1", lambda e: train(e, "--gsd", "-1"), 1, ("--gsd",)),
    ("train patience -1", lambda e: train(e, "--patience", "-1"), 1, ("--patience",)),
    ("train set hflip 2", lambda e: train(e, "--set", "augment.hflip=2"), 1, ("augment.hflip",)),
    (
        "train set unknown key",
        lambda e: train(e, "--set", "data.tilesize=3"),
        1,
        ("data.tilesize",),
    ),
    ("train set no equals", lambda e: train(e, "--set", "augment.hflip"), 1, ("--set",)),
    ("train arch unknown", lambda e: train(e, "--arch", "Transformer9000"), 1, ("--arch",)),
    # ---------------------------------------------------------------- train: files
    (
        "train image missing",
        lambda e: [
            "train",
            "--image",
            str(e.work / "i.tif"),
            "--labels",
            P(e, "truth"),
            "--out",
            str(e.work / "run"),
        ],
        1,
        ("i.tif",),
    ),
    (
        "train labels missing",
        lambda e: [
            "train",
            "--image",
            P(e, "scene"),
            "--labels",
            str(e.work / "l.gpkg"),
            "--out",
            str(e.work / "run"),
        ],
        1,
        ("l.gpkg",),
    ),
    (
        "train no out",
        lambda e: ["train", "--image", P(e, "scene"), "--labels", P(e, "truth")],
        1,
        ("--out",),
    ),
    (
        "train out is a file",
        lambda e: [
            "train",
            "--image",
            P(e, "scene"),
            "--labels",
            P(e, "truth"),
            "--out",
            P(e, "text"),
        ],
        1,
        ("--out",),
    ),
    (
        "train out holds a run",
        lambda e: [
            "train",
            "--image",
            P(e, "scene"),
            "--labels",
            P(e, "truth"),
            "--out",
            str(e.runs["finished"]),
        ],
        1,
        ("--overwrite", "--resume"),
    ),
    (
        "train config missing",
        lambda e: train(e, "--config", str(e.work / "c.yaml")),
        1,
        ("c.yaml",),
    ),
    ("train config invalid", lambda e: train(e, "--config", P(e, "bad_yaml")), 1, ("bad.yaml",)),
    (
        "train init model bad",
        lambda e: train(e, "--init-from", P(e, "bad_meta")),
        1,
        ("badmeta.safetensors",),
    ),
    (
        "train mask size differs",
        lambda e: [
            "train",
            "--dataset",
            P(e, "dataset"),
            "--image-gsd",
            "0.5",
            "--out",
            str(e.work / "run"),
            "--workers",
            "0",
            "--progress",
            "none",
        ],
        1,
        ("a.png",),
    ),
    # ---------------------------------------------------------------- train: resume
    (
        "resume corrupt checkpoint",
        lambda e: ["train", "--resume", str(e.runs["corrupt"])],
        1,
        ("last.ckpt",),
    ),
    (
        "resume truncated checkpoint",
        lambda e: ["train", "--resume", str(e.runs["truncated"])],
        1,
        ("last.ckpt",),
    ),
    (
        "resume pickled checkpoint",
        lambda e: ["train", "--resume", str(e.runs["pickled"])],
        1,
        ("last.ckpt",),
    ),
    (
        "resume legacy pickle",
        lambda e: ["train", "--resume", str(e.runs["legacy"])],
        1,
        ("last.ckpt",),
    ),
    (
        "resume empty checkpoint",
        lambda e: ["train", "--resume", str(e.runs["empty"])],
        1,
        ("last.ckpt",),
    ),
    ("resume no run", lambda e: ["train", "--resume", P(e, "folder")], 1, ("--resume",)),
    # ---------------------------------------------------------------- models
    (
        "models info missing",
        lambda e: ["models", "--info", str(e.work / "m.safetensors")],
        1,
        ("m.safetensors",),
    ),
    (
        "models info bad metadata",
        lambda e: ["models", "--info", P(e, "bad_meta")],
        1,
        ("badmeta.safetensors",),
    ),
]


@pytest.mark.parametrize(("builder", "code", "names"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input_is_refused_cleanly(env, builder, code, names):
    argv = builder(env)
    before = snapshot(env.root)
    result = run_cli(*argv, cwd=env.work)
    assert_refused(result, code, names)
    assert diff(before, snapshot(env.root)) == {"added": [], "removed": [], "changed": []}


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 60
    commands = {c[1](types.SimpleNamespace(**_dummy()))[0] for c in CASES}
    assert commands == {"info", "predict", "vectorize", "evaluate", "synth", "train", "models"}


def _dummy() -> dict:
    p = Path("/x")
    names = ("root work scene one_band model classes nodata plain_classes truth points png text "
             "corrupt folder blocker old_tif old_gpkg no_meta bad_meta truncated_model bad_yaml "
             "dataset report synth_dir").split()  # fmt: skip
    d = {n: p / n for n in names}
    d["runs"] = {k: p for k in ("corrupt", "truncated", "pickled", "legacy", "empty", "finished")}
    return d


@pytest.mark.parametrize(
    "argv",
    [
        lambda e: predict(e, *out(e), "--batch-size", "0", "--json"),
        lambda e: predict(e, *out(e), "--tile", "big", "--json"),
        lambda e: ["vectorize", P(e, "classes"), "--out", P(e, "old_gpkg"), "--json"],
        lambda e: train(e, "--lr", "-1", "--json"),
    ],
    ids=["engine error", "usage error", "existing output", "training key"],
)
def test_json_error_line_names_param_and_flag(env, argv):
    """Under --json the last stdout line is the error object with the parameter and its flag."""
    result = run_cli(*argv(env), cwd=env.work)
    err = result.json_error()
    assert err["type"] == "error" and err["exit_code"] == result.exit_code
    assert err["message"] in result.stderr and "\n" not in err["message"]
    assert err["flag"].startswith("--") and err["param"]
    json.dumps(err)
