"""Cancelling or interrupting a prediction leaves no output, no temporary, old outputs intact."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from predict_helpers import write_scene
from roadseg.errors import CancelledError
from roadseg.prediction import predict

ROADSEG = Path(sys.executable).with_name("roadseg")


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")]


def counting_cancel(after_tiles: int):
    """A progress callback counting tiles and a cancel callback firing after ``after_tiles``."""
    seen = {"done": 0}

    def progress(ev):
        if ev.stage == "predict":
            seen["done"] = ev.done

    return progress, (lambda: seen["done"] >= after_tiles), seen


def test_cancel_after_some_tiles_leaves_nothing(tiny_model, tmp_path):
    src = write_scene(tmp_path / "s.tif", 200, 200)
    out_dir = tmp_path / "out"
    progress, cancel, seen = counting_cancel(3)
    with pytest.raises(CancelledError, match="cancelled"):
        predict(
            src,
            tiny_model,
            out_dir / "o.tif",
            probabilities=True,
            tile=64,
            overlap=16,
            progress=progress,
            cancel=cancel,
        )
    assert 3 <= seen["done"] < 25  # stopped early (the layout has 5 x 5 tiles)
    assert not (out_dir / "o.tif").exists() and not (out_dir / "o_proba.tif").exists()
    assert leftovers(out_dir) == []


def test_cancel_keeps_an_existing_output_untouched(tiny_model, tmp_path):
    src = write_scene(tmp_path / "s.tif", 160, 160)
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous result")
    progress, cancel, _ = counting_cancel(2)
    with pytest.raises(CancelledError):
        predict(src, tiny_model, out, tile=64, overlap=16, progress=progress, cancel=cancel)
    assert out.read_bytes() == b"previous result"
    assert leftovers(tmp_path) == []


def test_an_exception_mid_run_removes_the_temporaries(tiny_model, tmp_path):
    src = write_scene(tmp_path / "s.tif", 160, 160)

    def boom(ev):
        if ev.done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict(src, tiny_model, tmp_path / "o.tif", tile=64, overlap=16, progress=boom)
    assert not (tmp_path / "o.tif").exists() and leftovers(tmp_path) == []


def test_ctrl_c_on_the_cli_cancels_cleanly(model_file, tmp_path):
    """The real console script: SIGINT after the first tiles → exit 130, JSON error, no files."""
    src = write_scene(tmp_path / "s.tif", 512, 512)
    out = tmp_path / "o.tif"
    proc = subprocess.Popen(
        [
            str(ROADSEG),
            "predict",
            str(src),
            "--model",
            str(model_file),
            "--out",
            str(out),
            "--tile",
            "64",
            "--overlap",
            "16",
            "--batch-size",
            "1",
            "--progress",
            "json",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:  # progress lines
            if line.startswith("{") and json.loads(line).get("done", 0) >= 1:
                proc.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline
        stdout, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    err = json.loads(stdout.strip().splitlines()[-1])
    assert err["type"] == "error" and err["error"] == "CancelledError"
    assert not out.exists() and leftovers(tmp_path) == []
