"""`check_fit` / `roadseg check-fit`: the confidence of a few predicted windows, before a run.

What must hold: a small area is predicted whole and gives the full prediction's figure to the
pixel; sampled windows get the probabilities the full prediction gives those pixels (counted
against a full run's probabilities output); windows never overlap or leave the area; nothing
is written; bad values and output options are refused naming the parameter (the CLI names
the flag).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from predict_helpers import constant_model, write_scene
from roadseg.cli.main import cli as main
from roadseg.errors import ConfigError
from roadseg.prediction import predict
from roadseg.prediction.confidence import Confidence, UnsureWarning
from roadseg.prediction.fit import check_fit, sample_regions


@pytest.mark.parametrize("shape", [(4000, 4000), (300, 6000), (6000, 700), (1500, 1100)])
@pytest.mark.parametrize("samples", [1, 3, 4, 6, 9])
def test_windows_stay_inside_and_apart(shape, samples):
    h, w = shape
    regions = sample_regions(h, w, (512, 512), samples)
    assert 1 <= len(regions) <= samples
    taken = np.zeros(shape, dtype=np.uint8)
    for r in regions:
        assert 0 <= r.rows.start < r.rows.stop <= h and 0 <= r.cols.start < r.cols.stop <= w
        taken[r.rows.start : r.rows.stop, r.cols.start : r.cols.stop] += 1
    assert taken.max() == 1  # no pixel counted twice
    if len(regions) > 1:
        assert taken.mean() < 0.5  # sampling, not the whole area in pieces
        # spread: the windows reach into both halves of the long side
        starts = [r.cols.start for r in regions] if w >= h else [r.rows.start for r in regions]
        assert min(starts) < max(h, w) / 2 < max(starts) + 512


def test_a_small_area_is_checked_whole_with_the_full_runs_figure(tmp_path, local_model):
    img = write_scene(tmp_path / "small.tif", 300, 260)
    full = predict(img, model=local_model, out=tmp_path / "o.tif").items[0].confidence
    fit = check_fit(img, model=local_model)
    item = fit.items[0]
    assert item.whole and item.samples == 1
    assert item.confidence == full and full is not None and full.road_like > 0
    assert fit.confidence == full
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.tif", "small.tif"]  # wrote nothing


def test_sampled_windows_get_the_full_runs_probabilities(tmp_path, local_model):
    # 1600 × 1400 px at 0.5 m: four windows of 100 m (200 px) are 7 % of it.
    img = write_scene(tmp_path / "big.tif", 1400, 1600, seed=3)
    fit = check_fit(img, model=local_model, samples=4, sample_m=100)
    item = fit.items[0]
    assert not item.whole and item.samples == 4
    assert item.sampled_megapixels == pytest.approx(4 * 200 * 200 / 1e6)
    assert item.area_km2 == pytest.approx(1400 * 1600 * 0.25 / 1e6)
    predict(img, model=local_model, out=tmp_path / "o.tif", probabilities=True)
    with rasterio.open(tmp_path / "o_proba.tif") as ds:
        background = ds.read(1)
    road = 255 - background.astype(np.int16)  # the road classes' probability, within rounding
    expected = Confidence()
    for r in sample_regions(1400, 1600, (200, 200), 4):
        part = road[r.rows.start : r.rows.stop, r.cols.start : r.cols.stop].astype(np.uint8)
        expected += Confidence.count(part, np.ones(part.shape, dtype=bool))
    got = item.confidence
    assert got.pixels == expected.pixels == 4 * 200 * 200
    assert expected.road_like > 1000 and expected.unsure > 100  # the net is unsure of some
    # uint8 rounding of the summed road classes moves a few pixels across 0.25 / 0.75
    assert abs(got.road_like - expected.road_like) <= 0.01 * expected.road_like
    assert abs(got.unsure - expected.unsure) <= 0.02 * expected.unsure + 5
    # elsewhere the raster rates otherwise: the windows are where the figure says
    other = Confidence.count(road[:200, :200].astype(np.uint8), np.ones((200, 200), dtype=bool))
    assert other != got


def test_same_input_same_figures(tmp_path, local_model):
    img = write_scene(tmp_path / "big.tif", 1400, 1600, seed=3)
    a = check_fit(img, model=local_model, samples=3, sample_m=100).items[0]
    b = check_fit(img, model=local_model, samples=3, sample_m=100).items[0]
    assert (a.confidence, a.samples) == (b.confidence, b.samples)


def test_a_poor_fit_warns_and_every_raster_is_rated(tmp_path):
    model = constant_model(tmp_path / "m.safetensors", [0.36, 0.33, 0.31])
    a = write_scene(tmp_path / "a.tif", 200, 200)
    b = write_scene(tmp_path / "b.tif", 200, 200, seed=2)
    fit = check_fit([a, b], model=model)
    assert [i.confidence.rating for i in fit.items] == ["poor", "poor"]
    poor = [w for w in fit.warnings if isinstance(w, UnsureWarning)]
    assert len(poor) == 2 and "a.tif: the model is unsure of this imagery (100 %" in str(poor[0])
    d = fit.as_dict()
    assert d["confidence"]["pixels"] == 2 * 200 * 200 and len(d["rasters"]) == 2
    assert d["settings"]["samples"] == 8 and d["settings"]["road_threshold"] == 0.5


def test_options_reach_the_windows(tmp_path, local_model):
    """The area, the bands and the working resolution are predict's: the same figure as a
    prediction with them (each area here is small enough to be checked whole)."""
    img = write_scene(tmp_path / "a.tif", 600, 600, seed=5)
    box = (500_050.0, 3_999_800.0, 500_150.0, 3_999_900.0)  # 100 × 100 m in the raster's CRS
    cases = [{"bbox": box}, {"bbox": box, "bands": (3, 2, 1)}, {"working_gsd": 1.0}]
    figures = []
    for i, kwargs in enumerate(cases):
        item = check_fit(img, model=local_model, **kwargs).items[0]
        full = predict(img, model=local_model, out=tmp_path / f"o{i}.tif", **kwargs)
        assert item.whole and item.confidence == full.items[0].confidence, kwargs
        figures.append(item.confidence)
    assert figures[0].pixels == 200 * 200
    assert len(set(figures)) == 3  # each option changed what the model saw


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"samples": 0}, "samples"),
        ({"samples": 2.5}, "samples"),
        ({"sample_m": 10}, "sample_m"),
        ({"vectorize": "roads.gpkg"}, "vectorize"),
        ({"block_size": 512}, "block_size"),
        ({"probabilities": True}, "probabilities"),
        ({"road_threshold": 1.5}, "road_threshold"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(tmp_path, local_model, kwargs, param):
    img = write_scene(tmp_path / "a.tif", 64, 64)
    with pytest.raises(ConfigError) as e:
        check_fit(img, model=local_model, **kwargs)
    assert e.value.param == param
    assert list(tmp_path.iterdir()) == [img]


def test_the_cli_rates_and_prints_json(tmp_path):
    model = constant_model(tmp_path / "m.safetensors", [0.02, 0.97, 0.01])
    img = tmp_path / "scene.tif"
    write_scene(img, 1000, 900)
    run = CliRunner(mix_stderr=False)
    args = ["check-fit", str(img), "--model", str(model), "--sample-m", "64", "--samples", "2"]
    text = run.invoke(main, args, obj={})
    assert text.exit_code == 0, text.stderr
    assert "confidence  good (0 % of road-like pixels unsure)" in text.stdout
    assert "sampled     2 windows of 64 m (0.01 of 0.23 km²)" in text.stdout
    js = run.invoke(main, [*args, "--json"], obj={})
    d = json.loads(js.stdout.strip().splitlines()[-1])
    assert d["rasters"][0]["confidence"]["rating"] == "good"
    assert d["rasters"][0]["samples"] == 2 and d["rasters"][0]["whole"] is False
    assert d["rasters"][0]["confidence"]["pixels"] == 2 * 128 * 128
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "scene.tif"]


def test_the_cli_names_the_flag_of_a_bad_value(tmp_path):
    img = tmp_path / "scene.tif"
    write_scene(img, 64, 64)
    run = CliRunner(mix_stderr=False)
    r = run.invoke(main, ["check-fit", str(img), "--samples", "99", "--json"], obj={})
    assert r.exit_code != 0
    err = json.loads(r.stdout.strip().splitlines()[-1])
    assert err["param"] == "samples" and err["flag"] == "--samples"
    assert "--samples 99 must be from 1 to 64" in err["message"]
    assert "Traceback" not in r.stderr


def test_windows_on_nodata_say_so(tmp_path, local_model):
    """A box over the raster's nodata: no valid pixel was sampled, and the rating says that,
    not that there is no road."""
    import rasterio

    img = write_scene(tmp_path / "a.tif", 400, 400)
    with rasterio.open(img, "r+") as ds:
        ds.nodata = 0
        a = ds.read()
        a[:, :200] = 0  # the top half is nodata
        ds.write(a)
    box = (500_000.0, 3_999_900.0, 500_200.0, 4_000_000.0)  # the top 200 rows
    item = check_fit(img, model=local_model, bbox=box).items[0]
    assert item.confidence.pixels == 0 and item.confidence.rating == "no imagery"


def test_windows_go_where_the_imagery_is(tmp_path, local_model):
    """Imagery in the right third only (an orthomosaic's footprint in its bounding box): the
    windows are taken there, every sampled pixel holds imagery; so with polygons."""
    import json

    import rasterio

    img = write_scene(tmp_path / "a.tif", 1200, 1200, seed=4)
    with rasterio.open(img, "r+") as ds:
        ds.nodata = 0
        a = ds.read()
        a[:, :, :800] = 0
        ds.write(a)
    item = check_fit(img, model=local_model, samples=4, sample_m=60).items[0]
    assert not item.whole and item.samples == 4
    assert item.confidence.pixels == 4 * 120 * 120  # no window on the nodata
    # a polygon over the lower right quarter: the windows stay inside it
    x0, y1 = 500_000.0 + 300, 4_000_000.0 - 300
    ring = [[x0, y1], [x0 + 300, y1], [x0 + 300, y1 - 300], [x0, y1 - 300], [x0, y1]]
    area = tmp_path / "area.geojson"
    area.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:32611"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    item = check_fit(img, model=local_model, samples=2, sample_m=60, extent_file=area).items[0]
    assert item.samples == 2 and item.confidence.pixels == 2 * 120 * 120
