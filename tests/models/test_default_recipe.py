"""scripts/train_default_model.py's export: the road threshold written into the default model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from roadseg.models import ModelMeta, build_model, read_meta, save_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_model(build: Path, threshold: float, **training) -> Path:
    """A trained run's model file as ``roadseg.train`` leaves it (threshold chosen by the run)."""
    meta = ModelMeta(
        "Unet",
        "resnet18",
        3,
        ("background", "road"),
        ((0, 0, 0), (250, 200, 60)),
        (0.0, 6.0),
        0.5,
        tile_size=64,
        road_threshold=threshold,
        training={"seconds": 60.0, "images": ["a.tif"], "labels": ["a.gpkg"], **training},
    )
    path = build / "run" / "model.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_model(path, build_model(meta), meta)


def export_args(tmp: Path) -> list[str]:
    """Export BUILD/run's model (no training; no real data: the sources stay synthetic)."""
    return ["--build", str(tmp / "b"), "--export-only", "--real", str(tmp / "no-real")]


def test_export_writes_the_recipe_threshold_and_records_the_runs(recipe, tmp_path, monkeypatch):
    embed = tmp_path / "embedded" / "roadseg-default.safetensors"
    monkeypatch.setattr(recipe, "EMBED", embed)
    run_model(tmp_path / "b", 0.61)
    assert recipe.main(export_args(tmp_path)) == 0
    meta = read_meta(embed)
    assert meta.road_threshold == recipe.ROAD_THRESHOLD == 0.5
    assert meta.training["road_threshold_run"] == 0.61
    assert "images" not in meta.training and meta.training["minutes"] == 1.0
    card = recipe.write_model_card(meta, {}, tmp_path / "card.md").read_text()
    assert (
        "probability ≥ 0.5 (at least as likely as background; the training run chose 0.61" in card
    )

    # Exporting the exported file again changes nothing; 'run' gives the run's own choice back.
    embed.replace(tmp_path / "b" / "run" / "model.safetensors")
    assert recipe.main(export_args(tmp_path)) == 0
    again = read_meta(embed)
    assert (again.road_threshold, again.training["road_threshold_run"]) == (0.5, 0.61)
    embed.replace(tmp_path / "b" / "run" / "model.safetensors")
    argv = [*export_args(tmp_path), "--road-threshold", "run"]
    assert recipe.main(argv) == 0
    run = read_meta(embed)
    assert run.road_threshold == 0.61 and "road_threshold_run" not in run.training
    assert (
        "(chosen by the training run"
        in recipe.write_model_card(run, {}, tmp_path / "c.md").read_text()
    )


def test_a_threshold_the_run_chose_itself_is_not_recorded_twice(recipe, tmp_path, monkeypatch):
    embed = tmp_path / "e.safetensors"
    monkeypatch.setattr(recipe, "EMBED", embed)
    run_model(tmp_path / "b", 0.5)
    assert recipe.main(export_args(tmp_path)) == 0
    meta = read_meta(embed)
    assert meta.road_threshold == 0.5 and "road_threshold_run" not in meta.training


def test_export_only_without_a_run_is_a_usage_error_naming_the_file(recipe, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        recipe.main(export_args(tmp_path))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--export-only" in err and str(tmp_path / "b" / "run" / "model.safetensors") in err
    assert "Traceback" not in err


@pytest.mark.parametrize("bad", ["1.5", "0", "-0.2", "half"])
def test_a_bad_threshold_is_a_usage_error_naming_the_flag(recipe, tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as e:
        recipe.main(["--build", str(tmp_path), "--export-only", "--road-threshold", bad])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--road-threshold" in err and "between 0 and 1, or 'run'" in err
    assert not (tmp_path / "run").exists()


def test_the_embedded_model_carries_the_recipe_threshold(recipe):
    meta = read_meta("default")
    assert meta.road_threshold == recipe.ROAD_THRESHOLD
    # the run's own choice (on its validation windows) is kept beside it, as its metrics say
    assert meta.training["road_threshold_run"] == meta.metrics["road_threshold"] == 0.61


def test_models_info_shows_the_threshold_in_use_and_the_runs_without_dumping_tables():
    from click.testing import CliRunner
    from roadseg.cli.main import cli

    r = CliRunner(mix_stderr=False).invoke(cli, ["models", "--info", "default"], obj={})
    assert r.exit_code == 0, r.stderr
    assert "probability of the road classes >= 0.5 (its training run chose 0.61)" in r.stdout
    assert "road_threshold 0.610" not in r.stdout  # the run's choice is on the road line only
    assert "confusion, road_histogram in --json" in r.stdout and "[[" not in r.stdout
    r = CliRunner(mix_stderr=False).invoke(cli, ["models", "--info", "default", "--json"], obj={})
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["road_threshold"] == 0.5 and d["metrics"]["road_threshold"] == 0.61
    assert len(d["metrics"]["road_histogram"]) == 5  # the tables stay in the JSON
