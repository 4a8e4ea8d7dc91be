"""Configuration: YAML file < command line, --set reaches any key, validation names the key."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from roadseg.cli.main import cli
from roadseg.errors import ConfigError
from roadseg.training.api import resolve_config
from roadseg.training.config import TrainConfig


def _print_config(args):
    r = CliRunner(mix_stderr=False).invoke(cli, ["train", *args, "--print-config"])
    assert r.exit_code == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_yaml_then_cli_precedence(tmp_path):
    f = tmp_path / "cfg.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "out": "runs/a",
                "data": {"image": ["a.tif"], "labels": ["a.gpkg"], "tile": 128, "road_bias": 0.9},
                "model": {"encoder": "resnet50"},
                "trainer": {"epochs": 7},
                "augment": {"hflip": 0.1, "hue": 0.0},
            }
        )
    )
    d = _print_config(["--config", str(f)])
    assert (
        d["data"]["tile"] == 128
        and d["trainer"]["epochs"] == 7
        and d["model"]["encoder"] == "resnet50"
    )
    assert d["data"]["batch_size"] == TrainConfig().data.batch_size  # defaults fill the rest
    d = _print_config(
        [
            "--config",
            str(f),
            "--tile",
            "64",
            "--epochs",
            "3",
            "--set",
            "augment.hflip=0",
            "--image",
            "b.tif",
            "--labels",
            "b.gpkg",
            "--out",
            "runs/b",
            "--no-augment",
        ]
    )
    assert d["data"]["tile"] == 64 and d["trainer"]["epochs"] == 3
    assert (
        d["augment"]["hflip"] == 0
        and d["augment"]["hue"] == 0.0
        and d["augment"]["enabled"] is False
    )
    assert d["data"]["image"] == ["b.tif"] and d["out"] == "runs/b"
    assert (
        d["data"]["road_bias"] == 0.9 and d["model"]["encoder"] == "resnet50"
    )  # untouched keys kept


def test_printed_config_round_trips(tmp_path):
    d = _print_config(
        ["--image", "a.tif", "--labels", "a.gpkg", "--class-weights", "0.5,2", "--bands", "1,2,3"]
    )
    cfg = TrainConfig.from_dict(d)
    assert cfg.loss.class_weights == "0.5,2" and cfg.data.bands == (1, 2, 3)
    f = tmp_path / "again.yaml"
    f.write_text(cfg.to_yaml())
    assert TrainConfig.resolve(config_file=f) == cfg


def test_resume_config_is_the_base(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    (run / "config.yaml").write_text(
        TrainConfig.resolve(overrides={"tile": 96, "epochs": 2, "out": "elsewhere"}).to_yaml()
    )
    cfg, ckpt = resolve_config(None, None, run, {"epochs": 5})
    assert cfg.data.tile == 96 and cfg.trainer.epochs == 5 and cfg.out == str(run)
    assert ckpt == run / "checkpoints" / "last.ckpt"


def test_validation_names_the_key():
    with pytest.raises(ConfigError, match="valid in data"):
        TrainConfig.from_dict({"data": {"tilesize": 3}})
    with pytest.raises(ConfigError, match="trainer.epochs must be an integer"):
        TrainConfig.resolve(overrides={"epochs": "many"})
    with pytest.raises(ConfigError, match="data.split must be one of"):
        TrainConfig.resolve(overrides={"split": "diagonal"})
    with pytest.raises(ConfigError, match="unknown config section"):
        TrainConfig.from_dict({"optimizer": {}})
    with pytest.raises(ConfigError, match="unknown config key"):
        TrainConfig.resolve(overrides={"nonsense": 1})
    assert TrainConfig.resolve(overrides={"binary": "auto", "workers": "auto"}).model.binary is None


def test_non_utf8_config_names_the_file(tmp_path):
    """A config saved in Latin-1 is a one-line error naming the file, not a decode traceback."""
    cfg = tmp_path / "run.yaml"
    cfg.write_bytes("data:\n  image: [caf\xe9.tif]\n".encode("latin-1"))
    res = CliRunner().invoke(cli, ["train", "--config", str(cfg), "--print-config"])
    assert res.exit_code != 0
    assert "run.yaml" in res.output and "UTF-8" in res.output
    assert "Traceback" not in res.output
