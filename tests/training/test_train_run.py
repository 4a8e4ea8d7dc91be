"""End-to-end training on a tiny synthetic georeferenced train_scene: CLI, model file, resume, transfer.

Runs are tiny (64-px tiles, resnet18, 3 steps per epoch, fp32, deterministic) so
the whole module stays within a few tens of seconds on two cores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from roadseg.cli.main import cli
from roadseg.errors import CancelledError
from roadseg.models import load_model, read_meta
from roadseg.training import train

FAST = {
    "encoder": "resnet18",
    "tile": 64,
    "batch_size": 2,
    "samples_per_epoch": 6,
    "workers": 0,
    "max_val_windows": 2,
    "precision": "32",
    "deterministic": True,
    "checkpoint_every": 0,
    "trainer.progress": "none",
    "threads": 1,
}
FAST_CLI = [
    "--encoder",
    "resnet18",
    "--tile",
    "64",
    "--batch-size",
    "2",
    "--samples-per-epoch",
    "6",
    "--workers",
    "0",
    "--precision",
    "32",
    "--deterministic",
    "--checkpoint-every",
    "0",
    "--progress",
    "none",
    "--set",
    "data.max_val_windows=2",
    "--set",
    "trainer.threads=1",
]


@pytest.fixture(scope="module")
def straight(train_scene, tmp_path_factory):
    """`roadseg train --json` for two epochs, straight through."""
    tif, gpkg = train_scene
    out = tmp_path_factory.mktemp("runs") / "straight"
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "train",
            "--image",
            str(tif),
            "--labels",
            str(gpkg),
            "--out",
            str(out),
            "--epochs",
            "2",
            *FAST_CLI,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr + r.stdout
    return out, json.loads(r.stdout.strip().splitlines()[-1])


def _ckpt_weights(run_dir):
    sd = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return sd["state_dict"], sd["global_step"], sd["epoch"]


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max(
        float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point()
    )


def test_cli_json_and_model_file(straight, train_scene):
    out, js = straight
    assert js["model"] == str(out / "model.safetensors")
    for k in (
        "miou",
        "road_iou",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "iou_major",
        "iou_background",
    ):
        assert k in js["metrics"]
    assert js["epochs"] == 2 and js["steps"] == 6
    model, meta = load_model(js["model"])
    assert meta.classes == ("background", "major", "minor", "track")  # synth scheme from road_class
    assert not meta.binary and meta.tile_size == 64 and meta.gsd_m == 0.5 and meta.in_channels == 3
    assert meta.training["images"] == [str(train_scene[0])] and meta.training["labels"] == [
        str(train_scene[1])
    ]
    assert meta.training["epochs"] == 2 and meta.training["steps"] == 6
    assert sum(meta.training["class_pixels"].values()) > 0
    assert meta.metrics["miou"] == js["metrics"]["miou"]
    with torch.no_grad():
        p = model.predict_proba(torch.rand(1, 3, 64, 64))
    assert p.shape == (1, 4, 64, 64)
    assert (out / "config.yaml").is_file() and (out / "checkpoints" / "best.ckpt").is_file()
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "logs" / "part0" / "metrics.csv").is_file() and any(
        (out / "tensorboard").rglob("events*")
    )
    assert not list(out.rglob("*.tmp*"))  # atomic writes left no temporary file


def _interrupted(train_scene, run, stop_when, **kw):
    """Train 2 epochs, cancelled as soon as ``stop_when(events)`` holds (like a kill)."""
    tif, gpkg = train_scene
    events = []
    with pytest.raises(CancelledError, match="continue it with resume") as info:
        train(
            image=[str(tif)],
            labels=[str(gpkg)],
            out=str(run),
            epochs=2,
            progress=events.append,
            cancel=lambda: stop_when(events),
            **{**FAST, **kw},
        )
    assert info.value.param == "resume" and info.value.value == str(run)


def test_resume_at_epoch_boundary_is_exact(straight, train_scene, tmp_path):
    run = tmp_path / "split"
    _interrupted(
        train_scene, run, lambda ev: any(e.stage == "validate" for e in ev)
    )  # after epoch 1
    _, step, epoch = _ckpt_weights(run)
    assert (step, epoch) == (3, 0)
    r = train(resume=run)
    assert r.steps == 6 and r.epochs == 2
    a, step_a, _ = _ckpt_weights(straight[0])
    b, step_b, _ = _ckpt_weights(run)
    assert step_a == step_b == 6
    assert _max_diff(a, b) <= 1e-6


def test_resume_mid_epoch_is_exact(straight, train_scene, tmp_path):
    run = tmp_path / "cut"
    _interrupted(
        train_scene,
        run,
        lambda ev: any(e.stage == "train" and e.done >= 5 for e in ev),
        checkpoint_every=1,
    )
    _, step, epoch = _ckpt_weights(run)
    assert (step, epoch) == (5, 1)  # interrupted inside the second epoch
    r = train(resume=run)
    assert r.steps == 6
    a, _, _ = _ckpt_weights(straight[0])
    b, _, _ = _ckpt_weights(run)
    assert _max_diff(a, b) <= 1e-6


def test_early_stopping_stops(train_scene, tmp_path):
    tif, gpkg = train_scene
    # an improvement must exceed 1.0 mIoU: none does, so patience 1 stops after the second epoch
    r = train(
        image=[str(tif)],
        labels=[str(gpkg)],
        out=str(tmp_path / "es"),
        epochs=6,
        min_delta=1.0,
        patience=1,
        **FAST,
    )
    assert r.stopped_early and r.epochs == 2
    assert read_meta(r.model_path).training["stopped_early"] is True


def test_init_from_with_new_classes_and_frozen_encoder(straight, train_scene, tmp_path):
    tif, gpkg = train_scene
    src, src_meta = load_model(straight[1]["model"])
    r = train(
        image=[str(tif)],
        labels=[str(gpkg)],
        out=str(tmp_path / "ft"),
        epochs=1,
        init_from=straight[1]["model"],
        classes="binary",
        freeze="encoder",
        **FAST,
    )
    model, meta = load_model(r.model_path)
    assert meta.classes == ("background", "road") and meta.binary and src_meta.num_classes == 4
    assert meta.training["init_from"]["new_head"] is True
    a, b = src.state_dict(), model.state_dict()
    enc = [k for k in b if k.startswith("net.encoder.")]
    assert enc and all(torch.equal(a[k], b[k]) for k in enc)  # frozen: unchanged, running stats too
    dec = [k for k in b if k.startswith("net.decoder.") and b[k].is_floating_point()]
    assert any(not torch.equal(a[k], b[k]) for k in dec)  # the decoder trained
    assert b["net.segmentation_head.0.weight"].shape[0] == 1


@pytest.mark.real_data
def test_dubai_folder_with_colour_map(real_data, tmp_path):
    r = CliRunner(mix_stderr=False).invoke(
        cli,
        [
            "train",
            "--dataset",
            str(real_data / "dubai_hitl"),
            "--mask-colors",
            "110,193,228=road",
            "--gsd",
            "2.0",
            "--out",
            str(tmp_path / "dubai"),
            "--epochs",
            "1",
            *FAST_CLI,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    js = json.loads(r.stdout.strip().splitlines()[-1])
    meta = read_meta(js["model"])
    assert (
        meta.classes == ("background", "road") and meta.binary and meta.colors[1] == (110, 193, 228)
    )
    assert meta.training["layout"] == "images+masks" and len(meta.training["images"]) > 30
    assert np.isfinite(js["metrics"]["miou"])


def test_model_file_holds_the_best_checkpoint_written_once(
    straight, monkeypatch, tmp_path, train_scene
):
    out, js = straight
    from roadseg.training.callbacks import ExportBest
    from safetensors.torch import load_file

    model = load_file(str(out / "model.safetensors"))
    # A resumed run that never improves takes the best weights from best.ckpt: the same ones.
    exp = ExportBest("val_miou", "max")
    exp.load_state_dict({"best": 0.1, "best_epoch": 0, "metrics": {}})
    best = exp.best_weights(out / "checkpoints" / "best.ckpt")
    assert best is not None and best.keys() == model.keys()
    assert all(torch.equal(best[k], model[k]) for k in model)
    # One write of the model file per run, at its end (2 epochs, 2 validations).
    import roadseg.training.runner as runner

    calls = []
    real = runner.save_model
    monkeypatch.setattr(runner, "save_model", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    tif, gpkg = train_scene
    train(image=[str(tif)], labels=[str(gpkg)], out=str(tmp_path / "once"), epochs=2, **FAST)
    assert calls == [tmp_path / "once" / "model.safetensors"]
