"""evaluate() and ``roadseg evaluate`` on real GeoTIFF/GeoPackage files, and bad input."""

from __future__ import annotations

import csv
import json
import os
import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from georasters import make_raster
from PIL import Image
from roadseg.cli.main import cli
from roadseg.errors import DataError, InputNotFoundError, LabelError, OutputError
from roadseg.evaluation import evaluate
from roadseg.geo.classes import ClassScheme
from roadseg.geo.grid import Grid
from roadseg.geo.labels import VectorLabels
from shapely.geometry import LineString

T = Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0)
S = 256
SYNTH = ClassScheme.preset("synth")


def roads_gpkg(path, shift=0.0):
    """Road centrelines in UTM (synth attributes): a cross of a major and a minor road, a track."""
    x0, y0 = 500_000.0, 4_000_000.0
    lines = [
        (LineString([(x0, y0 - 64), (x0 + 128, y0 - 64)]), "major"),
        (LineString([(x0 + 64 + shift, y0), (x0 + 64 + shift, y0 - 128)]), "minor"),
        (LineString([(x0 + 10, y0 - 20), (x0 + 50, y0 - 20)]), "track"),
    ]
    gdf = gpd.GeoDataFrame(
        {"road_class": [c for _, c in lines]}, geometry=[g for g, _ in lines], crs="EPSG:32611"
    )
    gdf.to_file(path, driver="GPKG")
    return path


def class_raster(path, labels_path, names=SYNTH.names, binary=False):
    """A class raster drawn from the vectors (as a perfect prediction would be)."""
    grid = Grid(rasterio.crs.CRS.from_epsg(32611), T, S, S)
    arr = VectorLabels(labels_path, SYNTH, grid).rasterize(grid)
    if binary:
        arr = (arr > 0).astype(np.uint8)
        names = ("background", "road")
    make_raster(path, arr, transform=T, nodata=255)
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(
            ROADSEG_CLASSES=json.dumps(list(names)),
            ROADSEG_WIDTHS_M=json.dumps([0, 12, 7, 4][: len(names)]),
        )
    return path


@pytest.fixture
def scene(tmp_path):
    truth = roads_gpkg(tmp_path / "truth.gpkg")
    pred = class_raster(tmp_path / "pred.tif", truth)
    return pred, truth


def test_perfect_prediction_scores_one(tmp_path, scene):
    pred, truth = scene
    res = evaluate(pred, truth, out_dir=tmp_path / "ev")
    m = res.metrics
    assert m["mode"] == "classes" and m["scheme"] == "synth" and m["classes"] == list(SYNTH.names)
    assert m["miou"] == 1.0 and m["pixel_accuracy"] == 1.0
    assert m["per_class"]["major"]["iou"] == 1.0 and m["per_class"]["track"]["support"] > 0
    assert m["relaxed"]["precision"] == 1.0 and m["relaxed"]["recall"] == 1.0
    # Skeleton of the drawn roads against the true centrelines: same network.
    assert m["apls"]["apls"] > 0.9
    assert m["graphs"]["truth_source"].startswith("truth vectors")
    assert m["graphs"]["truth_km"] == pytest.approx(0.128 + 0.128 + 0.04, rel=0.01)
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == [
        "confusion.csv",
        "confusion.png",
        "metrics.json",
        "report.md",
    ]
    on_disk = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert on_disk["miou"] == 1.0 and on_disk["confusion"] == res.confusion.tolist()
    rows = list(csv.reader((tmp_path / "ev" / "confusion.csv").open()))
    assert rows[0] == ["truth\\predicted", *SYNTH.names] and len(rows) == 5
    assert (tmp_path / "ev" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "APLS" in (tmp_path / "ev" / "report.md").read_text()


def test_imperfect_prediction(tmp_path, scene):
    pred, truth = scene
    with rasterio.open(pred, "r+") as ds:
        a = ds.read(1)
        a[:, 100:140] = 0  # a 20 m gap across the major road
        a[200:210, :] = 3  # a spurious track
        ds.write(a, 1)
    m = evaluate(pred, truth, out_dir=tmp_path / "ev", buffer_m=1.0).metrics
    assert m["per_class"]["major"]["recall"] < 0.9
    assert m["per_class"]["track"]["precision"] < 0.3
    assert m["miou"] < 0.9
    assert m["apls"]["apls"] < 0.9 and m["apls"]["truth_to_pred"] < 1.0


def test_binary_prediction_against_class_vectors(tmp_path):
    truth = roads_gpkg(tmp_path / "truth.gpkg")
    pred = class_raster(tmp_path / "pred.tif", truth, binary=True)
    m = evaluate(pred, truth, out_dir=tmp_path / "ev").metrics
    assert m["classes"] == ["background", "road"] and m["mode"] == "classes"
    assert m["per_class"]["road"]["iou"] == 1.0


def test_class_raster_truth_and_default_out_dir(tmp_path, scene):
    pred, truth = scene
    truth_tif = class_raster(tmp_path / "truth.tif", truth)
    res = evaluate(pred, truth_tif)
    assert res.files["metrics"].parent == tmp_path / "pred_eval"
    m = res.metrics
    assert m["truth_kind"] == "raster" and m["mode"] == "classes" and m["miou"] == 1.0
    assert m["apls"]["apls"] == 1.0  # the same skeleton on both sides
    assert m["graphs"]["truth_source"].startswith("skeleton")


def test_mask_truth_is_compared_as_roads(tmp_path, scene):
    pred, truth = scene
    with rasterio.open(pred) as ds:
        mask = np.where(ds.read(1) > 0, 255, 0).astype(np.uint8)  # a 0/255 road mask, no nodata
    mask_tif = make_raster(tmp_path / "mask.tif", mask, transform=T)
    m = evaluate(pred, mask_tif, out_dir=tmp_path / "ev", graph_metrics=False).metrics
    assert m["mode"] == "binary" and m["classes"] == ["background", "road"]
    assert m["per_class"]["road"]["iou"] == 1.0 and m["apls"] is None


def test_cli_json(tmp_path, scene):
    pred, truth = scene
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "evaluate",
            str(pred),
            "--truth",
            str(truth),
            "--out-dir",
            str(tmp_path / "ev"),
            "--buffer",
            "1.5",
            "--json",
            "--progress",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["metrics"]["miou"] == 1.0 and out["metrics"]["relaxed"]["buffer_m"] == 1.5
    assert set(out["outputs"]) == {
        str(tmp_path / "ev" / n)
        for n in ("metrics.json", "report.md", "confusion.csv", "confusion.png")
    }
    stages = {json.loads(x)["stage"] for x in r.stderr.splitlines() if x.startswith("{")}
    assert {"evaluate", "graphs", "report"} <= stages
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "evaluate",
            str(pred),
            "--truth",
            str(truth),
            "--out-dir",
            str(tmp_path / "ev2"),
            "--no-apls",
        ],
    )
    assert r.exit_code == 0 and "mIoU" in r.stdout and "APLS" not in r.stdout


def test_missing_inputs(tmp_path, scene):
    pred, truth = scene
    with pytest.raises(InputNotFoundError, match="^prediction "):
        evaluate(tmp_path / "nope.tif", truth, out_dir=tmp_path / "ev")
    with pytest.raises(InputNotFoundError, match="^truth "):
        evaluate(pred, tmp_path / "nope.gpkg", out_dir=tmp_path / "ev")
    exe = os.path.join(os.path.dirname(sys.executable), "roadseg")
    import subprocess

    r = subprocess.run(
        [
            exe,
            "evaluate",
            str(pred),
            "--truth",
            str(tmp_path / "nope.gpkg"),
            "--json",
            "--out-dir",
            str(tmp_path / "ev"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "--truth" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["error"] == "InputNotFoundError"
    assert not (tmp_path / "ev").exists()


def test_rgb_prediction_is_refused(tmp_path, scene):
    _, truth = scene
    img = make_raster(
        tmp_path / "rgb.tif", np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    )
    with pytest.raises(DataError, match="not a class raster"):
        evaluate(img, truth, out_dir=tmp_path / "ev")
    assert not (tmp_path / "ev").exists()


def test_truth_elsewhere_and_bad_field(tmp_path, scene):
    pred, _ = scene
    far = gpd.GeoDataFrame(
        {"road_class": ["major"]}, geometry=[LineString([(0, 0), (100, 0)])], crs="EPSG:32611"
    )
    far.to_file(tmp_path / "far.gpkg")
    with pytest.raises(LabelError, match="inside the raster"):
        evaluate(pred, tmp_path / "far.gpkg", out_dir=tmp_path / "ev")
    with pytest.raises(LabelError, match="no attribute 'kind'"):
        evaluate(pred, tmp_path / "far.gpkg", class_field="kind", out_dir=tmp_path / "ev")
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "evaluate",
            str(pred),
            "--truth",
            str(tmp_path / "far.gpkg"),
            "--out-dir",
            str(tmp_path / "ev"),
        ],
    )
    assert r.exit_code == 1 and "inside the raster" in r.stderr
    assert not (tmp_path / "ev").exists()


def test_unwritable_out_dir(tmp_path, scene):
    pred, truth = scene
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="^out_dir: "):
        evaluate(pred, truth, out_dir=blocker / "ev")


@pytest.mark.real_data
def test_real_spacenet_tile(real_data, tmp_path, capsys):
    """A class raster drawn from the SpaceNet labels on the real tile, evaluated against them."""
    from roadseg.geo.raster import open_raster

    folder = real_data / "spacenet_vegas_img0"
    src = open_raster(folder / "image.tif")
    scheme = ClassScheme.preset("spacenet")
    arr = VectorLabels(folder / "roads.geojson", scheme, src.grid).rasterize(src.grid)
    arr[-100:] = 255  # the banner strip: nodata
    pred = tmp_path / "pred.tif"
    make_raster(pred, arr, crs=src.grid.crs, transform=src.grid.transform, nodata=255)
    with rasterio.open(pred, "r+") as ds:
        ds.update_tags(
            ROADSEG_CLASSES=json.dumps(list(scheme.names)), ROADSEG_WIDTHS_M="[0, 12, 7, 4]"
        )
    res = evaluate(pred, folder / "roads.geojson", out_dir=tmp_path / "ev")
    m = res.metrics
    with capsys.disabled():
        print(
            f"\nreal tile img0, labels drawn vs labels: mIoU {m['miou']:.3f}, "
            f"APLS {m['apls']['apls']:.3f}, "
            f"truth {m['graphs']['truth_km']:.2f} km, skeleton {m['graphs']['pred_km']:.2f} km"
        )
    assert m["scheme"] == "spacenet" and m["mode"] == "classes"
    assert m["miou"] == 1.0
    assert 0.7 < m["apls"]["apls"] <= 1.0


def test_cli_plain_prediction_needs_and_takes_gsd(tmp_path, scene):
    """A plain image's prediction has no georeferencing: the CLI's error names --gsd, which works."""
    pred, _ = scene
    with rasterio.open(pred) as ds:
        cls = ds.read(1)
    plain = tmp_path / "plain.png"
    Image.fromarray(cls).save(plain)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.where(cls > 0, 255, 0).astype(np.uint8)).save(mask)
    args = ["evaluate", str(plain), "--truth", str(mask), "--out-dir", str(tmp_path / "ev")]
    r = CliRunner(mix_stderr=False).invoke(cli, [*args, "--no-apls"])
    assert r.exit_code == 1 and "--gsd" in r.stderr and "`gsd`" not in r.stderr, r.stderr
    assert not (tmp_path / "ev").exists()
    r = CliRunner(mix_stderr=False).invoke(cli, [*args, "--no-apls", "--gsd", "0.5", "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["metrics"]["per_class"]["road"]["iou"] == 1.0


def _profile(pred):
    """A uint8 GeoTIFF profile on the prediction's grid."""
    with rasterio.open(pred) as ds:
        return dict(driver="GTiff", width=ds.width, height=ds.height, count=1, dtype="uint8",
                    crs=ds.crs, transform=ds.transform)  # fmt: skip


def _write(path, a, prof, **extra):
    with rasterio.open(path, "w", **{**prof, "count": a.shape[0], **extra}) as dst:
        dst.write(a)
    return path


def _road_iou(args, tmp_path, name):
    r = CliRunner(mix_stderr=False).invoke(
        cli, [*args, "--out-dir", str(tmp_path / name), "--no-apls", "--json"]
    )
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])["metrics"]


def test_cli_colour_coded_truth_mask_needs_and_takes_mask_colors(tmp_path, scene):
    """A colour-coded truth mask is refused (not scored as all road); --mask-colors reads it."""
    pred, _ = scene
    with rasterio.open(pred) as ds:
        h, w = ds.shape
    prof = _profile(pred)
    rgb = np.empty((3, h, w), np.uint8)
    rgb[:] = np.array([132, 41, 246], np.uint8)[:, None, None]
    rgb[:, : h // 4] = np.array([110, 193, 228], np.uint8)[:, None, None]
    truth = _write(tmp_path / "coded.tif", rgb, prof)
    args = ["evaluate", str(pred), "--truth", str(truth), "--out-dir", str(tmp_path / "ev")]
    r = CliRunner(mix_stderr=False).invoke(cli, [*args, "--no-apls"])
    assert r.exit_code == 1 and "Traceback" not in r.stderr, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "colour-coded" in err[0] and "--mask-colors" in err[0], err
    assert "`mask_colors`" not in err[0], err
    assert not (tmp_path / "ev").exists()
    # Read through the map, it scores as the same truth written as a 0/1 band.
    coded = _road_iou(
        ["evaluate", str(pred), "--truth", str(truth), "--mask-colors", "110,193,228=road"],
        tmp_path,
        "coded",
    )
    plain = _write(tmp_path / "plain.tif", (rgb[:1] == 110).astype(np.uint8), prof)
    same = _road_iou(["evaluate", str(pred), "--truth", str(plain)], tmp_path, "plain")
    assert coded["per_class"] == same["per_class"] and coded["relaxed"] == same["relaxed"]
    assert 0 < coded["per_class"]["road"]["iou"] < 1


def test_cli_truth_mask_of_three_values_needs_and_takes_mask_values(tmp_path, scene):
    """A Massachusetts-style truth (0, 1, 255 fill, no no-data declared) made the fill road."""
    pred, _ = scene
    with rasterio.open(pred) as ds:
        h, w = ds.shape
        cls = ds.read(1)
    prof = _profile(pred)
    mask = (cls > 0).astype(np.uint8)
    mask[: h // 8] = 0  # some road missed by the truth, so the figures are not 1
    mask[-h // 4 :] = 255
    truth = _write(tmp_path / "mass.tif", mask[None], prof)
    args = ["evaluate", str(pred), "--truth", str(truth), "--out-dir", str(tmp_path / "ev")]
    r = CliRunner(mix_stderr=False).invoke(cli, [*args, "--no-apls"])
    assert r.exit_code == 1 and "Traceback" not in r.stderr, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "holds 3 values" in err[0] and "--mask-values" in err[0], err
    assert "--mask-threshold" in err[0] and "`mask_values`" not in err[0], err
    valued = _road_iou(
        [*args[:4], "--mask-values", "0=background,1=road,255=ignore"], tmp_path, "valued"
    )
    # The fill left out: the same figures as the mask with its no-data declared.
    declared = _write(tmp_path / "declared.tif", mask[None], prof, nodata=255)
    same = _road_iou(["evaluate", str(pred), "--truth", str(declared)], tmp_path, "declared")
    assert valued["per_class"] == same["per_class"] and valued["relaxed"] == same["relaxed"]
    assert 0 < valued["per_class"]["road"]["iou"] < 1
    # Fill read as road would have cost precision: the map changed the figure.
    as_road = _write(
        tmp_path / "as_road.tif", np.minimum(mask, 1)[None] | (mask[None] == 255), prof
    )
    filled = _road_iou(["evaluate", str(pred), "--truth", str(as_road)], tmp_path, "filled")
    assert filled["per_class"]["road"]["iou"] != valued["per_class"]["road"]["iou"]


def test_cli_truth_mask_options_are_checked_before_any_work(tmp_path, scene):
    """Two maps at once, a malformed map or a map for vector truth: one line, no report."""
    pred, truth_vec = scene
    base = ["evaluate", str(pred), "--out-dir", str(tmp_path / "ev"), "--no-apls"]
    cases = [
        (["--truth", str(pred), "--mask-values", "1=road", "--mask-threshold", "128"],
         "--mask-threshold"),
        (["--truth", str(pred), "--mask-values", "1=road", "--mask-threshold", "0"],
         "--mask-threshold"),  # a threshold of 0 is given too, not ignored
        (["--truth", str(pred), "--mask-values", "road"], "--mask-values"),
        (["--truth", str(pred), "--mask-values", "1=major"], "--mask-values class 'major'"),
        (["--truth", str(pred), "--mask-values", "0=background"], "--mask-values names no road"),
        (["--truth", str(truth_vec), "--mask-values", "1=road"], "vector file"),
    ]  # fmt: skip
    for extra, word in cases:
        r = CliRunner(mix_stderr=False).invoke(cli, [*base, *extra])
        assert r.exit_code != 0 and "Traceback" not in r.stderr, r.stderr
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and word in err[0], err
        assert not (tmp_path / "ev").exists()
