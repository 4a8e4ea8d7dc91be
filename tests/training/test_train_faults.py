"""Training faults: a NaN loss stops the run (last good checkpoint kept); no road to validate on warns.

Tiny runs (64-px tiles, resnet18, 3 steps an epoch, fp32) so the module takes seconds on two cores.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
import torch
from click.testing import CliRunner
from road_scenes import ORIGIN
from roadseg.cli.main import cli
from roadseg.data.plan import split_scene
from roadseg.errors import RoadsegWarning
from roadseg.training import losses
from roadseg.training.config import TrainConfig
from roadseg.training.datamodule import RoadDataModule

FAST_CLI = [
    "--encoder", "resnet18", "--tile", "64", "--batch-size", "2", "--samples-per-epoch", "6",
    "--workers", "0", "--precision", "32", "--deterministic", "--progress", "none",
    "--set", "data.max_val_windows=2", "--set", "trainer.threads=1",
]  # fmt: skip


def _train(args):
    return CliRunner(mix_stderr=False).invoke(cli, ["train", *args, *FAST_CLI])


# ---------------------------------------------------------------------------- NaN loss


def test_nan_loss_stops_and_keeps_last_good_checkpoint(train_scene, tmp_path, monkeypatch):
    """The 5th training loss is NaN (injected: a divergence cannot be provoked deterministically)."""
    forward = losses.SegLoss.forward
    calls = {"n": 0}

    def nan_from_step_5(self, logits, target):
        loss = forward(self, logits, target)
        if torch.is_grad_enabled():  # training (validation runs without gradients)
            calls["n"] += 1
            if calls["n"] >= 5:
                return loss * float("nan")  # keeps the graph: without the check, NaN weights
        return loss

    monkeypatch.setattr(losses.SegLoss, "forward", nan_from_step_5)
    out = tmp_path / "run"
    tif, gpkg = train_scene
    r = _train(
        ["--image", str(tif), "--labels", str(gpkg), "--out", str(out), "--epochs", "3",
         "--checkpoint-every", "1"]
    )  # fmt: skip
    assert r.exit_code == 1, r.stderr + r.stdout
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "diverged" in errors[0] and "--lr" in errors[0] and "scaling" in errors[0]
    assert "step 5" in errors[0] and "last.ckpt" in errors[0] and "kept" in errors[0]
    ck = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ck["global_step"] == 4  # written after step 4, never after the NaN step
    weights = [v for v in ck["state_dict"].values() if v.is_floating_point()]
    assert weights and all(bool(torch.isfinite(v).all()) for v in weights)
    assert not list(out.rglob("*.tmp*"))


# ---------------------------------------------------------------------------- no validation road


def _roads_only_in_train_block(folder, seed=0):
    """Labels with one road inside the first train block of the 128-px scene's 64-px split."""
    b = split_scene(128, 128, 64, "split", 0.25, "checkerboard", 0, seed)
    r = b.train[0]
    x0, y0 = ORIGIN
    y = y0 - (r.y0 + 32) * 0.5
    line = shapely.LineString([(x0 + (r.x0 + 4) * 0.5, y), (x0 + (r.x1 - 4) * 0.5, y)])
    p = folder / "train_only.gpkg"
    gpd.GeoDataFrame({"road_class": ["track"]}, geometry=[line], crs="EPSG:32611").to_file(
        p, driver="GPKG"
    )
    return p


def _dm(tif, gpkg):
    cfg = TrainConfig.resolve(
        overrides={"tile": 64, "workers": 0, "image": [str(tif)], "labels": [str(gpkg)]}
    )
    return RoadDataModule(cfg.data, cfg.augment, False, seed=0)


def test_no_road_in_validation_blocks_warns(train_scene, tmp_path, recwarn):
    tif, gpkg = train_scene
    dm = _dm(tif, gpkg)  # roads cross every block: no warning
    assert dm.summary.val_road_points > 0
    assert not [w for w in recwarn if issubclass(w.category, RoadsegWarning)]
    with pytest.warns(RoadsegWarning, match=r"no road inside the validation area of image\.tif"):
        dm = _dm(tif, _roads_only_in_train_block(tmp_path))
    assert dm.summary.val_road_points == 0 and dm.plan.num_road_points > 0


def test_cli_prints_one_warning_line_and_trains(train_scene, tmp_path):
    tif, _ = train_scene
    out = tmp_path / "run"
    labels = _roads_only_in_train_block(tmp_path)
    r = _train(["--image", str(tif), "--labels", str(labels), "--out", str(out), "--epochs", "1"])
    assert r.exit_code == 0, r.stderr + r.stdout
    warn = [ln for ln in r.stderr.splitlines() if "Warning" in ln or "WARNING" in ln]
    assert len(warn) == 1 and warn[0].startswith("Warning: the labels have no road"), r.stderr
    assert "--val-fraction" in warn[0] and "--val-image" in warn[0]
    assert (out / "model.safetensors").is_file()
