"""A run folder is never left half-made, and an earlier run is only replaced when asked."""

from __future__ import annotations

import pytest
import torch
from road_scenes import road_scene
from roadseg.errors import ConfigError, DataError, OutputError
from roadseg.models import ModelMeta, build_model, read_meta, save_model
from roadseg.training import train
from roadseg.training.config import TrainConfig
from roadseg.training.rundir import RunDir, prepare_run_dir

TINY = {
    "encoder": "tu-mobilenetv3_small_050",
    "tile": 64,
    "batch_size": 2,
    "samples_per_epoch": 2,
    "workers": 0,
    "max_val_windows": 2,
    "precision": "32",
    "checkpoint_every": 0,
    "trainer.progress": "none",
    "threads": 1,
    "epochs": 1,
}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return road_scene(tmp_path_factory.mktemp("scene") / "s", size=128, seed=3)


def test_a_run_that_fails_to_start_removes_the_folder_it_made(scene, tmp_path):
    run = tmp_path / "deep" / "run"
    with pytest.raises(DataError) as info:  # 256-px windows do not fit a 128-px scene's blocks
        train(image=[scene[0]], labels=[scene[1]], out=run, **{**TINY, "tile": 256})
    assert not (tmp_path / "deep").exists()
    assert any("was removed (nothing to resume)" in n for n in info.value.__notes__)


def test_in_an_existing_folder_only_what_the_run_added_goes(scene, tmp_path):
    run = tmp_path / "mine"
    run.mkdir()
    (run / "notes.txt").write_text("the user's")
    (run / "logs").mkdir()
    (run / "logs" / "mine.csv").write_text("x")
    with pytest.raises(DataError):
        train(image=[scene[0]], labels=[scene[1]], out=run, **{**TINY, "tile": 256})
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == [
        "logs",
        "logs/mine.csv",
        "notes.txt",
    ]


@pytest.mark.parametrize(
    ("key", "value"), [("lr", 0), ("lr", -1e-3), ("epochs", 0), ("samples_per_epoch", 1)]
)
def test_bad_values_are_refused_before_the_folder_is_made(scene, tmp_path, key, value):
    with pytest.raises(ConfigError) as info:
        train(image=[scene[0]], labels=[scene[1]], out=tmp_path / "run", **{**TINY, key: value})
    assert info.value.param in (f"optim.{key}", f"trainer.{key}", f"data.{key}")
    assert not (tmp_path / "run").exists()


def test_a_folder_left_by_a_run_killed_before_its_first_checkpoint_is_reused(tmp_path):
    run = tmp_path / "run"
    (run / "logs" / "part0").mkdir(parents=True)
    (run / "config.yaml").write_text("out: x\n")
    cfg = TrainConfig.resolve(overrides={"out": str(run)})
    assert prepare_run_dir(cfg, resuming=False).path == run  # nothing to resume: accepted
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    with pytest.raises(OutputError, match="already holds a training run"):
        prepare_run_dir(cfg, resuming=False)


def test_overwrite_replaces_an_earlier_run(scene, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "logs" / "part0").mkdir(parents=True)
    (run / "logs" / "part1").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"an earlier run's checkpoint")
    (run / "sources").mkdir()
    old = ModelMeta("Unet", "resnet18", 3, ("background", "road"), ((0, 0, 0), (255, 0, 0)),
                    (0.0, 6.0), 0.5, tile_size=64)  # fmt: skip
    torch.manual_seed(1)
    save_model(run / "model.safetensors", build_model(old), old)
    with pytest.raises(OutputError, match="replace it with overwrite"):
        train(image=[scene[0]], labels=[scene[1]], out=run, **TINY)
    assert read_meta(run / "model.safetensors").encoder == "resnet18"  # refused: kept
    r = train(image=[scene[0]], labels=[scene[1]], out=run, overwrite=True, **TINY)
    assert read_meta(r.model_path).encoder == "tu-mobilenetv3_small_050"
    assert sorted(p.name for p in (run / "logs").iterdir()) == ["part0"]
    assert (run / "sources").is_dir()  # the scene cache is not the run's to delete
    assert RunDir(run).resumable
