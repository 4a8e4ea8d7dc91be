"""The fault catalogue: kill -9 and Ctrl-C at random points, two runs on one output, a full disk.

Every trial runs the real console script. After a ``kill -9`` the outputs are the
complete old ones or the complete new ones, never a mix; the next run on the same
outputs removes what the killed one left. After a Ctrl-C (in each stage) the run
exits 130 with one line, and leaves nothing. The default set runs a few trials; the
``slow`` set runs ten of each.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyogrio
import pytest
from catalogue import ROADSEG, road_image, tiny_model, write_tif

OLD_TIF = b"the previous class raster"
OLD_GPKG = b"the previous GeoPackage"
#: Predict settings that keep a run short on a busy 2-core machine.
FAST = ("--tile", "64", "--overlap", "16", "--batch-size", "1", "--precision", "fp32")


@dataclass
class Ref:
    """A complete run: its inputs, its outputs and its progress lines."""

    root: Path
    scene: Path
    model: Path
    tif: bytes
    gpkg: tuple
    progress: list[dict]


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [str(ROADSEG), *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def progress_lines(proc: subprocess.Popen) -> Iterator[dict]:
    for line in proc.stderr:  # type: ignore[union-attr]
        if line.startswith("{"):
            yield json.loads(line)


def gpkg_content(path: Path) -> tuple:
    """The layers of a GeoPackage as comparable text (the file's bytes carry timestamps)."""
    out = []
    for name in sorted(str(row[0]) for row in pyogrio.list_layers(path)):
        df = pyogrio.read_dataframe(path, layer=name)
        out.append((name, tuple(df.columns), tuple(df.geometry.to_wkt()), len(df)))
    return tuple(out)


def state(folder: Path, ref: Ref) -> str:
    """``old``, ``new`` or what else the two outputs are."""
    tif, gpkg = folder / "o.tif", folder / "o.gpkg"
    t = tif.read_bytes() if tif.exists() else None
    g = gpkg.read_bytes() if gpkg.exists() else None
    if t == OLD_TIF and g == OLD_GPKG:
        return "old"
    if t == ref.tif and g is not None:
        try:
            if gpkg_content(gpkg) == ref.gpkg:
                return "new"
        except Exception:  # noqa: BLE001 - a damaged GeoPackage is reported below
            pass
    return f"mix: tif {'old' if t == OLD_TIF else 'new' if t == ref.tif else t!r:.20}, gpkg ?"


def predict_args(ref: Ref, folder: Path, *extra: str) -> list[str]:
    return ["predict", ref.scene, "--model", ref.model, "--out", folder / "o.tif",
            "--vectorize", folder / "o.gpkg", *FAST, "--progress", "json", *extra]  # fmt: skip


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Ref:
    root = tmp_path_factory.mktemp("faults")
    scene = write_tif(root / "scene.tif", road_image(128, 128, seed=3))
    model = tiny_model(root / "model.safetensors")
    out = root / "ref"
    out.mkdir()
    r = Ref(root, scene, model, b"", (), [])
    proc = spawn(predict_args(r, out), root)
    r.progress = list(progress_lines(proc))
    assert proc.wait(timeout=600) == 0, proc.stdout.read()  # type: ignore[union-attr]
    r.tif = (out / "o.tif").read_bytes()
    r.gpkg = gpkg_content(out / "o.gpkg")
    assert {p["stage"] for p in r.progress} >= {"predict", "vectorize", "write"}
    return r


def fresh_old(folder: Path) -> Path:
    folder.mkdir()
    (folder / "o.tif").write_bytes(OLD_TIF)
    (folder / "o.gpkg").write_bytes(OLD_GPKG)
    return folder


def kill_trials(ref: Ref, folder: Path, trials: int, seed: int) -> list[tuple[str, bool]]:
    """kill -9 at random progress points; (state after the kill, whether it landed mid-run)."""
    rng = random.Random(seed)
    seen = []
    now = "old"
    for _ in range(trials):
        k = rng.randint(0, len(ref.progress))
        proc = spawn(predict_args(ref, folder, "--overwrite"), ref.root)
        if k == 0:
            time.sleep(rng.uniform(0, 3.0))  # start-up: imports, model loading, checks
        else:
            for n, _ in enumerate(progress_lines(proc), start=1):
                if n >= k:
                    break
            time.sleep(rng.uniform(0, 0.3))
        alive = proc.poll() is None  # else the run had ended: that trial proves nothing
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        s = state(folder, ref)
        assert s in (now, "new"), f"after a kill at progress line {k}: {s}"
        seen.append((s, alive))
        now = s
    return seen


def finish_clean(ref: Ref, folder: Path) -> None:
    """The next run on the same outputs completes and removes every file the killed ones left."""
    proc = spawn(predict_args(ref, folder, "--overwrite"), ref.root)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert state(folder, ref) == "new"
    assert hidden(folder) == []


def test_kill_9_during_predict_vectorize_keeps_old_or_new(ref, tmp_path):
    folder = fresh_old(tmp_path / "out")
    seen = kill_trials(ref, folder, trials=3, seed=1)
    finish_clean(ref, folder)
    assert any(alive for _, alive in seen), "no kill landed while the run was working"


@pytest.mark.slow
def test_kill_9_during_predict_vectorize_ten_trials(ref, tmp_path):
    folder = fresh_old(tmp_path / "out")
    seen = kill_trials(ref, folder, trials=10, seed=10)
    finish_clean(ref, folder)
    assert sum(alive for _, alive in seen) >= 5, seen  # most kills land mid-run


def sigint_trial(ref: Ref, folder: Path, stage: str, rng: random.Random) -> int:
    """Ctrl-C at a random progress line of ``stage``; return the exit status."""
    lines = [i for i, p in enumerate(ref.progress, start=1) if p["stage"] == stage]
    k = rng.choice(lines[:-1] or lines)  # not the stage's last line: the run must still be busy
    proc = spawn(predict_args(ref, folder, "--overwrite", "--json"), ref.root)
    for n, _ in enumerate(progress_lines(proc), start=1):
        if n >= k:
            break
    time.sleep(rng.uniform(0, 0.05))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    if proc.returncode == 130:
        errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
        assert errors == ["Error: cancelled by the user; nothing was written"], err
        assert "Traceback" not in err
        assert json.loads(out.strip().splitlines()[-1])["error"] == "CancelledError"
        assert state(folder, ref) == "old"
    else:  # the signal came after the last check: the run had finished its work
        assert proc.returncode == 0, err
        assert state(folder, ref) == "new"
    assert hidden(folder) == []  # the run cleaned up after itself
    return proc.returncode


@pytest.mark.parametrize("stage", ["predict", "vectorize", "write"])
def test_ctrl_c_in_each_stage_leaves_the_old_outputs(ref, tmp_path, stage):
    folder = fresh_old(tmp_path / "out")
    code = sigint_trial(ref, folder, stage, random.Random(stage))
    if stage == "predict":  # the long stage: the interrupt must cancel it, not come too late
        assert code == 130


@pytest.mark.slow
def test_ctrl_c_ten_trials(ref, tmp_path):
    rng = random.Random(7)
    codes = []
    for i in range(10):
        folder = fresh_old(tmp_path / f"out{i}")
        codes.append(sigint_trial(ref, folder, rng.choice(["predict", "vectorize", "write"]), rng))
    assert codes.count(130) >= 5  # most interrupts land before the end


def test_two_runs_on_one_output(ref, tmp_path):
    """Started together: one writes, the other is refused (or runs after it); never a mix."""
    folder = fresh_old(tmp_path / "out")
    a = spawn(predict_args(ref, folder, "--overwrite"), ref.root)
    b = spawn(predict_args(ref, folder, "--overwrite"), ref.root)
    res = [(p, *p.communicate(timeout=600)) for p in (a, b)]
    codes = sorted(p.returncode for p, _, _ in res)
    assert codes in ([0, 0], [0, 1]), [(p.returncode, e[-300:]) for p, _, e in res]
    for p, _, err in res:
        if p.returncode == 1:
            errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
            assert len(errors) == 1 and "being written by another roadseg run" in errors[0]
    assert state(folder, ref) == "new" and hidden(folder) == []


def test_a_second_run_without_overwrite_keeps_the_first_result(ref, tmp_path):
    from catalogue import run_cli

    folder = tmp_path / "out"
    assert run_cli(*predict_args(ref, folder)).exit_code == 0
    r = run_cli(*predict_args(ref, folder))
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"Error: '{folder / 'o.tif'}' already exists; give --overwrite to replace it, or choose "
        "another --out; nothing was written"
    ]
    assert state(folder, ref) == "new" and hidden(folder) == []


# ---------------------------------------------------------------------- vectorize


def vectorize_args(ref: Ref, folder: Path) -> list[str]:
    return ["vectorize", ref.root / "ref" / "o.tif", "--out", folder / "v.gpkg", "--graphml",
            folder / "v.graphml", "--edges", folder / "e.geojson", "--overwrite",
            "--progress", "json"]  # fmt: skip


def vectorize_state(folder: Path) -> str:
    names = ("v.gpkg", "v.graphml", "e.geojson")
    present = [(folder / n).exists() for n in names]
    if not any(present):
        return "none"
    if all(present):
        pyogrio.read_info(folder / "v.gpkg", layer="centerlines")
        return "all"
    return f"mix: {present}"


def vectorize_kills(ref: Ref, folder: Path, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(trials):
        proc = spawn(vectorize_args(ref, folder), ref.root)
        k = rng.randint(0, 6)
        for n, _ in enumerate(progress_lines(proc), start=1):
            if n >= k:
                break
        time.sleep(rng.uniform(0, 0.3))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert vectorize_state(folder) in ("none", "all")
    proc = spawn(vectorize_args(ref, folder), ref.root)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert vectorize_state(folder) == "all" and hidden(folder) == []


def test_kill_9_during_vectorize_commits_all_or_nothing(ref, tmp_path):
    folder = tmp_path / "vec"
    folder.mkdir()
    vectorize_kills(ref, folder, trials=2, seed=3)


@pytest.mark.slow
def test_kill_9_during_vectorize_ten_trials(ref, tmp_path):
    folder = tmp_path / "vec"
    folder.mkdir()
    vectorize_kills(ref, folder, trials=10, seed=30)


# ---------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def train_data(ref) -> tuple[Path, Path]:
    from roadseg.synth import make_scene

    s = make_scene(ref.root / "synth", size=128, seed=2, style="urban")
    return s.image, s.roads


def train_args(data: tuple[Path, Path], run: Path) -> list[str]:
    return ["train", "--image", data[0], "--labels", data[1], "--out", run, "--epochs", "2",
            "--samples-per-epoch", "4", "--batch-size", "2", "--tile", "64",
            "--encoder", "tu-mobilenetv3_small_050", "--workers", "0", "--val-fraction", "0.5",
            "--checkpoint-every", "1", "--progress", "json"]  # fmt: skip


def train_kills(ref: Ref, data: tuple[Path, Path], run: Path, trials: int, seed: int) -> None:
    from roadseg.models import read_meta
    from roadseg.training.checkpoints import check_checkpoint

    rng = random.Random(seed)
    for _ in range(trials):
        resume = (run / "checkpoints" / "last.ckpt").exists()
        args = ["train", "--resume", run, "--progress", "json"] if resume else train_args(data, run)
        proc = spawn(args, ref.root)
        k = rng.randint(0, 8)
        for n, _ in enumerate(progress_lines(proc), start=1):
            if n >= k:
                break
        time.sleep(rng.uniform(0, 1.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        for ckpt in (run / "checkpoints").glob("*.ckpt") if run.exists() else ():
            if not ckpt.name.startswith("."):  # a killed writer's temporary file is removed
                check_checkpoint(ckpt)  # by the next run (checked below); the others are complete
        if (run / "model.safetensors").exists():
            read_meta(run / "model.safetensors")
    resume = (run / "checkpoints" / "last.ckpt").exists()
    args = ["train", "--resume", run] if resume else train_args(data, run)
    proc = spawn([*args[:-2], "--progress", "none"] if not resume else args, ref.root)
    out, err = proc.communicate(timeout=1200)
    assert proc.returncode == 0, err[-2000:]
    assert (run / "model.safetensors").exists()
    assert hidden(run) == []  # no temporary checkpoint or model left


def test_kill_9_during_training_then_rerun(ref, train_data, tmp_path):
    train_kills(ref, train_data, tmp_path / "run", trials=1, seed=5)


@pytest.mark.slow
def test_kill_9_during_training_five_trials(ref, train_data, tmp_path):
    train_kills(ref, train_data, tmp_path / "run", trials=5, seed=50)
