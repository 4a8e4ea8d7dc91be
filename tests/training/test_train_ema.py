"""Weight averaging (``trainer.ema_decay``): validated, exported and resumed as the average.

Real training runs (tiny Unet-resnet18 on a synthetic scene, CPU, deterministic): the model
file holds the averaged weights the best validation ran on (not the raw ones), the training
summary says so, and a run interrupted mid-epoch resumes its average exactly.
"""

from __future__ import annotations

import types

import pytest
import torch
from roadseg.errors import ConfigError
from roadseg.models import read_meta
from roadseg.training import train
from roadseg.training.callbacks import AVERAGED_KEY, AverageWeights
from safetensors.torch import load_file
from test_train_run import FAST, _interrupted

EMA = {**FAST, "ema_decay": 0.9}


@pytest.fixture(scope="module")
def averaged(train_scene, tmp_path_factory):
    tif, gpkg = train_scene
    out = tmp_path_factory.mktemp("runs") / "ema"
    r = train(image=[str(tif)], labels=[str(gpkg)], out=str(out), epochs=2, **EMA)
    return out, r


def _ckpt(run, name="last"):
    return torch.load(run / "checkpoints" / f"{name}.ckpt", map_location="cpu", weights_only=False)


def test_the_model_file_holds_the_validated_average(averaged):
    out, r = averaged
    ck = _ckpt(out, "best")
    avg = ck[AVERAGED_KEY]
    raw = {k[4:]: v for k, v in ck["state_dict"].items() if k.startswith("net.")}
    model = load_file(str(out / "model.safetensors"))
    floats = [k for k in avg if "weight" in k]
    assert floats and set(avg) <= set(model)
    # the file is the average (the model file is fp32 here), which differs from the raw weights
    assert all(torch.equal(model[k], avg[k]) for k in avg)
    assert any(not torch.equal(avg[k], raw[k]) for k in floats)
    # integer buffers (batch-norm counters) are the trained ones
    ints = [k for k in raw if not raw[k].is_floating_point()]
    assert ints and all(torch.equal(model[k], raw[k]) for k in ints)
    meta = read_meta(out / "model.safetensors")
    assert meta.training["ema_decay"] == 0.9 and r.steps == 6


def test_resume_mid_epoch_keeps_the_average_exactly(averaged, train_scene, tmp_path):
    run = tmp_path / "cut"
    _interrupted(
        train_scene,
        run,
        lambda ev: any(e.stage == "train" and e.done >= 5 for e in ev),
        checkpoint_every=1,
        ema_decay=0.9,
    )
    assert _ckpt(run)["global_step"] == 5
    train(resume=run)
    a, b = _ckpt(averaged[0])[AVERAGED_KEY], _ckpt(run)[AVERAGED_KEY]
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6


def test_the_average_follows_the_documented_rule():
    """avg += (1 - d)(w - avg), d = min(decay, (1 + n) / (10 + n)); swapped in for validation."""
    net = torch.nn.Linear(1, 1, bias=False)
    module = types.SimpleNamespace(net=net)
    cb = AverageWeights(0.5)
    trainer = types.SimpleNamespace(global_step=0, sanity_checking=False)
    expect = None
    for step, w in enumerate([1.0, 3.0, 7.0, 15.0], start=1):
        net.weight.data.fill_(w)
        trainer.global_step = step
        cb.on_train_batch_end(trainer, module, None, None, 0)  # type: ignore[arg-type]
        if expect is None:
            expect = w
        else:
            d = min(0.5, (1 + step - 1) / (10 + step - 1))
            expect = expect + (1 - d) * (w - expect)
        assert cb.avg["weight"].item() == pytest.approx(expect)
    cb.on_train_batch_end(trainer, module, None, None, 1)  # same step: no second update
    assert cb.avg["weight"].item() == pytest.approx(expect) and cb.updates == 4
    cb.on_validation_epoch_start(trainer, module)  # type: ignore[arg-type]
    assert net.weight.item() == pytest.approx(expect)
    cb.on_validation_epoch_end(trainer, module)  # type: ignore[arg-type]
    assert net.weight.item() == 15.0


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5])
def test_ema_decay_out_of_range_is_refused(bad, train_scene, tmp_path):
    tif, gpkg = train_scene
    with pytest.raises(ConfigError, match="ema_decay"):
        train(
            image=[str(tif)],
            labels=[str(gpkg)],
            out=str(tmp_path / "r"),
            **{**FAST, "ema_decay": bad},
        )
