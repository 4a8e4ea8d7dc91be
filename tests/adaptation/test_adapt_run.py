"""Adaptation runs with the real engine on a tiny scene: time budget, figures, keeping the start.

A tiny Unet-resnet18 (64-px tiles) keeps each run to seconds on two CPU cores.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import adapt_helpers
import pytest
import roadseg
from roadseg.adaptation.api import WORK_PREFIX, adapt
from roadseg.errors import CancelledError
from roadseg.models import read_meta
from safetensors.torch import load_file

tiny_model = adapt_helpers.tiny_model  # fixtures shared by the adapt tests
scene = adapt_helpers.scene


def test_time_budget_respected(tiny_model, scene, tmp_path):
    """A 0.4-minute run ends within its budget, with its before/after figures."""
    out = tmp_path / "m.safetensors"
    t = time.monotonic()
    r = adapt(scene[0], scene[1], out=out, model=tiny_model, minutes=0.4, work_dir=tmp_path / "w")
    wall = time.monotonic() - t
    why = (wall, r.steps, r.settings, r.validations)
    assert wall <= 24 + 3, why  # the budget, with a small tolerance for the last write
    assert r.minutes * 60 <= 24 + 2, why
    assert r.stopped == "deadline" and r.steps >= 2, why
    assert r.validations and all(math.isfinite(v["road_iou"]) for v in r.validations)
    # Before/after figures: in the result and in the written model file.
    assert math.isfinite(r.before) and math.isfinite(r.after)
    meta = read_meta(out)
    rec = meta.training["adapt"]
    assert rec["road_iou_before"] == round(r.before, 4)
    assert rec["road_iou_after"] == round(r.after, 4)
    assert rec["kept"] == r.kept and rec["steps"] == r.steps
    assert rec["parent"]["model"] == str(tiny_model) and len(rec["parent"]["sha256"]) == 64
    assert rec["holdout"]["blocks"] >= 1 and 0 < rec["holdout"]["labelled_share"] < 0.5
    assert rec["data"]["labelled_km2"] > 0
    # The work folder kept what the run learnt from.
    assert (tmp_path / "w" / "labels_0.tif").exists() and (tmp_path / "w" / "run").is_dir()


@pytest.mark.slow
def test_time_budget_used(tiny_model, scene, tmp_path):
    """A 1-minute run uses its budget: steps re-planned on the measured rate, to the deadline."""
    t = time.monotonic()
    r = adapt(scene[0], scene[1], out=tmp_path / "m.safetensors", model=tiny_model, minutes=1)
    wall = time.monotonic() - t
    why = (wall, r.steps, r.settings, r.validations)
    assert 60 * 0.75 <= wall <= 60 + 3, why
    assert r.stopped == "deadline" and r.steps >= 10, why
    assert r.train_minutes > 0.5 and len(r.validations) >= 2, why


def _work_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*")}


def test_keeps_the_starting_model_when_not_better(tiny_model, scene, tmp_path):
    """No model can gain 0.99 road IoU: the starting model is written unchanged, with the figures."""
    out = tmp_path / "m.safetensors"
    before_dirs = _work_dirs()
    r = adapt(scene[0], scene[1], out=out, model=tiny_model, steps=3, min_gain=0.99, threads=1)
    assert r.kept == "starting" and not r.improved and r.gain == 0.0
    start, written = load_file(str(tiny_model)), load_file(str(out))
    assert start.keys() == written.keys()
    assert all(bool((start[k] == written[k]).all()) for k in start)
    rec = read_meta(out).training["adapt"]
    assert rec["kept"] == "starting" and "not better" in rec["note"]
    assert rec["road_iou_before"] == round(r.before, 4)
    # The temporary work folder is gone.
    assert _work_dirs() == before_dirs


def test_start_with_the_hold_out_threshold_when_training_does_not_beat_it(
    tiny_model, scene, tmp_path
):
    """A start whose road threshold misfits the area (0.95: almost no road): when the
    fine-tuned model does not beat the start at its best hold-out threshold, the file
    written is the start's network with that threshold (``kept == "threshold"``)."""
    from roadseg.models import load_model, save_model

    net, meta = load_model(tiny_model)
    strict = tmp_path / "strict.safetensors"
    save_model(strict, net, meta.replace(road_threshold=0.95))
    out = tmp_path / "m.safetensors"
    r = adapt(scene[0], scene[1], out=out, model=strict, steps=1, min_gain=0.05, threads=1)
    assert r.kept == "threshold" and not r.improved, (r.before, r.before_best, r.after)
    assert r.before_best >= r.before + 0.05 and r.after < r.before_best + 0.05
    assert r.written == r.before_best and r.gain == pytest.approx(r.before_best - r.before)
    start, written = load_file(str(strict)), load_file(str(out))
    assert all(bool((start[k] == written[k]).all()) for k in start)  # the start's network
    m = read_meta(out)
    assert m.road_threshold == r.before_best_threshold != 0.95
    rec = m.training["adapt"]
    assert rec["kept"] == "threshold" and "0.95" in rec["note"]
    assert r.as_json()["metrics"]["road_iou_written"] == round(r.before_best, 4)


def test_fixed_steps_are_reproducible(tiny_model, scene, tmp_path):
    """--steps: the same inputs give the same weights (no time measurement decides anything)."""
    kw = {"model": tiny_model, "steps": 4, "threads": 1}
    a = adapt(scene[0], scene[1], out=tmp_path / "a.safetensors", **kw)
    b = adapt(scene[0], scene[1], out=tmp_path / "b.safetensors", **kw)
    assert a.steps == b.steps == 4 and a.stopped == "steps"
    wa, wb = load_file(str(a.model_path)), load_file(str(b.model_path))
    assert all(bool((wa[k] == wb[k]).all()) for k in wa)
    assert a.holdout == b.holdout and a.before == b.before and a.after == b.after


def test_top_level_api_and_cancel(tiny_model, scene, tmp_path):
    """`roadseg.adapt` is the API; a cancel stops the run and writes nothing."""
    out = tmp_path / "m.safetensors"
    stages = []
    before_dirs = _work_dirs()

    def progress(ev):
        stages.append(ev.stage)

    with pytest.raises(CancelledError, match="nothing was written"):
        roadseg.adapt(
            scene[0],
            scene[1],
            out=out,
            model=tiny_model,
            steps=50,
            threads=1,
            progress=progress,
            cancel=lambda: "train" in stages,
        )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [] and _work_dirs() == before_dirs


def test_start_scored_at_its_best_threshold_too(tiny_model, scene, tmp_path):
    """The adapted model's threshold is chosen on the hold-out, so the start is scored at its
    best threshold there as well, and the keep decision uses both figures of the start."""
    from roadseg.adaptation.score import HoldoutScore, keep_adapted

    r = adapt(
        scene[0], scene[1], out=tmp_path / "m.safetensors", model=tiny_model, steps=3, threads=1
    )
    assert 0.2 <= r.before_best_threshold <= 0.8
    # at the model's own threshold (0.5, within the searched range) it can do no better
    assert r.before_best >= r.before - 1e-9
    start = HoldoutScore(r.before, r.before_best, r.before_best_threshold)
    assert r.improved == keep_adapted(start, r.after, 0.005)
    rec = read_meta(r.model_path).training["adapt"]
    assert rec["road_iou_before_best"] == round(r.before_best, 4)
