"""Correct and retrain, end to end: predict → vectorise → edit the centrelines → adapt.

The user deletes a false road and draws a missed one in the ``centerlines`` layer that
``roadseg predict --vectorize`` wrote, marks the area they checked, and runs
``roadseg adapt --labels edited.gpkg --area checked.gpkg --model MODEL``.
"""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from click.testing import CliRunner
from roadseg.cli.main import cli
from roadseg.models import read_meta
from roadseg.synth import make_scene


def _invoke(args):
    r = CliRunner(mix_stderr=False).invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.stderr + r.stdout
    return r


def test_correct_and_retrain(tmp_path):
    make_scene(tmp_path / "scene", size=512, seed=3, style="suburban", gsd=0.5)
    image, truth = tmp_path / "scene" / "image.tif", tmp_path / "scene" / "roads.gpkg"
    pred_gpkg = tmp_path / "pred.gpkg"
    _invoke(
        [
            "predict",
            image,
            "--out",
            tmp_path / "pred.tif",
            "--vectorize",
            pred_gpkg,
            "--threads",
            1,
            "--progress",
            "none",
        ]
    )

    # The user's edits, in a copy of the GeoPackage (the polygon layers stay in it).
    edited = tmp_path / "edited.gpkg"
    shutil.copy(pred_gpkg, edited)
    lines = gpd.read_file(edited, layer="centerlines")
    assert len(lines) >= 2 and set(lines["class"]) <= {"major", "minor", "track"}
    true_roads = gpd.read_file(truth).to_crs(lines.crs)
    near_truth = lines.geometry.distance(true_roads.union_all())
    false_i = int(near_truth.idxmax())  # the line farthest from any true road: "false"
    deleted = lines.geometry[false_i]
    lines = lines.drop(index=false_i)
    covered = lines.union_all().buffer(4)
    missed = max(true_roads.geometry, key=lambda g: g.difference(covered).length)
    lines = gpd.GeoDataFrame(
        {"class": list(lines["class"]) + ["minor"]},
        geometry=list(lines.geometry) + [missed],
        crs=lines.crs,
    )
    lines.to_file(edited, layer="centerlines", driver="GPKG")
    layers = gpd.list_layers(edited)["name"].tolist()
    assert "centerlines" in layers and any(n.startswith("roads_") for n in layers)

    # The checked area: the left three quarters of the scene.
    with rasterio.open(image) as ds:
        left, bottom, right, top = ds.bounds
    checked = shapely.box(left, bottom, left + 0.75 * (right - left), top)
    gpd.GeoDataFrame(geometry=[checked], crs=lines.crs).to_file(tmp_path / "checked.gpkg")

    out = tmp_path / "retrained.safetensors"
    r = _invoke(
        [
            "adapt",
            image,
            "--labels",
            edited,
            "--area",
            tmp_path / "checked.gpkg",
            "--model",
            "default",
            "--steps",
            2,
            "--threads",
            1,
            "--out",
            out,
            "--work-dir",
            tmp_path / "work",
            "--json",
            "--progress",
            "none",
        ]
    )
    js = json.loads(r.stdout.strip().splitlines()[-1])
    layer = js["data"]["rasters"][0]["layer"]
    assert layer["layer"] == "centerlines"
    assert layer["class_rule"]["field"] == "class" and layer["class_rule"]["source"] == "names"
    assert js["data"]["rasters"][0]["area"] == "file"

    # What the run learnt: the drawn road as minor, the deleted line as background inside the
    # checked area, nothing outside it.
    with rasterio.open(tmp_path / "work" / "labels_0.tif") as ds:
        codes = ds.read(1)
        inv = ~ds.transform

        def code_at(pt):
            c, r_ = inv * (pt.x, pt.y)
            return int(codes[int(r_), int(c)])

    inside_missed = missed.intersection(checked.buffer(-3))
    if not inside_missed.is_empty:
        assert code_at(inside_missed.interpolate(0.5, normalized=True)) == 2
    kept_lines = lines.geometry.union_all().buffer(7)
    for f in np.linspace(0.1, 0.9, 9):
        p = deleted.interpolate(f, normalized=True)
        if checked.buffer(-2).contains(p) and not kept_lines.contains(p):
            assert code_at(p) == 0  # the deleted "false road" is now background
    # Nothing beyond the checked area is read: the labels end at its right edge.
    assert codes.shape[1] == 384 and js["data"]["rasters"][0]["crop"][:3] == [0, 0, 384]
    meta = read_meta(out)
    assert meta.training["adapt"]["parent"]["model"] == "default"
    assert meta.classes == ("background", "major", "minor", "track")
