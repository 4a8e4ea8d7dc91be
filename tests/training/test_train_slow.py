"""Long training tests (``-m slow``): kill -9 mid-epoch then --resume, DDP on 2 CPUs, unfreezing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from road_scenes import road_scene
from roadseg.errors import CancelledError
from roadseg.models import load_model
from roadseg.training import train

pytestmark = pytest.mark.slow

ROADSEG = [sys.executable, "-m", "roadseg.cli.main"]
if (Path(sys.executable).parent / "roadseg").exists():
    ROADSEG = [str(Path(sys.executable).parent / "roadseg")]
SMALL = [
    "--encoder",
    "resnet18",
    "--tile",
    "64",
    "--batch-size",
    "2",
    "--workers",
    "0",
    "--precision",
    "32",
    "--set",
    "data.max_val_windows=2",
    "--set",
    "trainer.threads=1",
]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return road_scene(tmp_path_factory.mktemp("scene"), size=192)


def _env():
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def test_kill_mid_epoch_then_resume_completes(scene, tmp_path):
    tif, gpkg = scene
    run = tmp_path / "run"
    cmd = [
        *ROADSEG,
        "train",
        "--image",
        str(tif),
        "--labels",
        str(gpkg),
        "--out",
        str(run),
        "--epochs",
        "3",
        "--samples-per-epoch",
        "16",
        "--checkpoint-every",
        "2",
        "--progress",
        "json",
        *SMALL,
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    step = 0
    for line in p.stderr:  # JSON progress lines
        if line.startswith("{"):
            ev = json.loads(line)
            if ev.get("stage") == "train":
                step = ev["done"]
                if step >= 13:  # inside the second epoch (8 steps per epoch), after a checkpoint
                    break
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL and step >= 13
    ck = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ck["epoch"] == 1 and 8 < ck["global_step"] < 16  # a mid-epoch checkpoint, complete
    r = subprocess.run(
        [*ROADSEG, "train", "--resume", str(run), "--json", "--progress", "none"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout.strip().splitlines()[-1])
    assert js["steps"] == 24 and js["epochs"] == 3
    model, meta = load_model(js["model"])
    assert meta.training["steps"] == 24
    assert len(list((run / "logs").glob("part*"))) == 2  # logs of both parts kept for the curves


def test_ddp_two_cpu_processes(scene, tmp_path):
    tif, gpkg = scene
    run = tmp_path / "ddp"
    t0 = time.perf_counter()
    r = subprocess.run(
        [
            *ROADSEG,
            "train",
            "--image",
            str(tif),
            "--labels",
            str(gpkg),
            "--out",
            str(run),
            "--epochs",
            "2",
            "--samples-per-epoch",
            "8",
            "--accelerator",
            "cpu",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--progress",
            "none",
            "--json",
            *SMALL,
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    js = json.loads(r.stdout.strip().splitlines()[-1])
    # 8 samples per epoch over 2 ranks of batch 2: 2 steps per epoch on each rank
    assert js["steps"] == 4 and js["epochs"] == 2
    _, meta = load_model(js["model"])
    assert meta.classes[0] == "background"
    assert time.perf_counter() - t0 < 600


def test_unfreeze_after_one_epoch(scene, tmp_path):
    tif, gpkg = scene
    base = train(
        image=[str(tif)],
        labels=[str(gpkg)],
        out=str(tmp_path / "base"),
        epochs=1,
        encoder="resnet18",
        tile=64,
        batch_size=2,
        samples_per_epoch=4,
        workers=0,
        precision="32",
        threads=1,
        **{"trainer.progress": "none"},
    )
    src, _ = load_model(base.model_path)
    run = tmp_path / "uf"
    events = []
    kw = dict(
        image=[str(tif)],
        labels=[str(gpkg)],
        out=str(run),
        epochs=2,
        init_from=str(base.model_path),
        freeze="encoder",
        unfreeze_after=1,
        tile=64,
        batch_size=2,
        samples_per_epoch=4,
        workers=0,
        precision="32",
        threads=1,
        **{"trainer.progress": "none"},
    )
    with pytest.raises(CancelledError):
        train(
            progress=events.append, cancel=lambda: any(e.stage == "validate" for e in events), **kw
        )

    def encoder_equal():
        sd = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)[
            "state_dict"
        ]
        a = src.state_dict()
        return all(
            torch.equal(a[k[len("net.") :]], v)
            for k, v in sd.items()
            if k.startswith("net.net.encoder.")
        )

    assert encoder_equal()  # epoch 1: frozen
    train(resume=run)
    assert not encoder_equal()  # epoch 2: unfrozen and trained


def test_resume_with_more_epochs_onecycle(scene, tmp_path):
    tif, gpkg = scene
    run = tmp_path / "oc"
    kw = dict(
        encoder="resnet18",
        tile=64,
        batch_size=2,
        samples_per_epoch=4,
        workers=0,
        precision="32",
        threads=1,
        schedule="onecycle",
        **{"trainer.progress": "none"},
    )
    train(image=[str(tif)], labels=[str(gpkg)], out=str(run), epochs=1, **kw)
    r = train(resume=run, epochs=3)  # OneCycle re-planned over 6 steps instead of failing at step 3
    assert r.steps == 6 and r.epochs == 3
