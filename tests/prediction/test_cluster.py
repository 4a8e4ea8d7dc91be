"""Blocks on a local Ray cluster through the real CLI: the same rasters as one process, progress,
resume after ``kill -9`` of the driver, a killed worker retried, Ctrl-C cancels every task.

Clusters are tiny (this machine's cores, a 128 MiB object store) and stopped by each run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from predict_helpers import last_json, progress_lines, write_scene
from roadseg.prediction import predict
from roadseg.prediction.manifest import read_manifest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install roadseg[ray]")

ROADSEG = Path(sys.executable).with_name("roadseg")
SMALL = ["--tile", "128", "--overlap", "32", "--precision", "fp32"]


def run_cli(*args, **kw):
    return subprocess.run(
        [str(ROADSEG), *map(str, args)], capture_output=True, text=True, timeout=900, **kw
    )


def classes(path):
    with rasterio.open(path) as ds:
        return ds.read(1)


def session_processes(sid: int) -> list[int]:
    """Processes still alive in session ``sid`` (the test started it: they are ours)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.getsid(int(p.name)) == sid:
                    out.append(int(p.name))
            except (ProcessLookupError, PermissionError):
                pass
    return out


def kill_session(sid: int) -> None:
    for pid in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_without_cluster_ray_is_never_imported(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 64, 64)
    code = f"""
import sys
import roadseg
from roadseg.cli.main import main
roadseg.predict({str(src)!r}, {str(model_file)!r}, {str(tmp_path / "a.tif")!r}, tile=64)
roadseg.predict({str(src)!r}, {str(model_file)!r}, {str(tmp_path / "b")!r}, tile=64, block_size=256)
sys.argv = ["roadseg", "predict", {str(src)!r}, "--model", {str(model_file)!r}, "--out",
            {str(tmp_path / "c.tif")!r}, "--tile", "64", "--progress", "none"]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
print("ray" in sys.modules, any(m.startswith("ray.") for m in sys.modules))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines()[-1] == "False False"
    assert (tmp_path / "b" / "s_roads.vrt").exists() and (tmp_path / "c.tif").exists()


def test_cluster_local_gives_the_sequential_class_rasters(model_file, tmp_path):
    """Two rasters on a local Ray cluster: bitwise the one-process class rasters, JSON progress."""
    rasters = [write_scene(tmp_path / f"r{i}.tif", 256, 512, seed=i) for i in range(2)]
    seq = run_cli("predict", *rasters, "--model", model_file, "--out", tmp_path / "seq", *SMALL)
    assert seq.returncode == 0, seq.stderr[-3000:]
    r = run_cli(
        "predict",
        *rasters,
        "--model",
        model_file,
        "--out",
        tmp_path / "ray",
        "--cluster",
        "local",
        "--block-size",
        "256",
        "--json",
        "--progress",
        "json",
        *SMALL,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    d = last_json(r.stdout)
    assert d["blocks"]["total"] == 4 and d["blocks"]["run"] == 4
    assert d["blocks"]["executor"].startswith("ray local")
    for i in range(2):
        vrt = tmp_path / "ray" / f"r{i}_roads.vrt"
        assert str(vrt) in d["outputs"]["raster"]
        assert np.array_equal(classes(vrt), classes(tmp_path / "seq" / f"r{i}_roads.tif"))
    prog = [p for p in progress_lines(r.stderr) if p["stage"] == "predict"]
    assert prog and prog[-1]["done"] == prog[-1]["total"] == d["metrics"]["tiles"]
    assert [p["done"] for p in prog] == sorted(p["done"] for p in prog)
    # The driver's stderr holds only our lines (Ray's own logs stay in its session folder).
    other = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("{")]
    assert not other, other


def test_bad_cluster_addresses_are_clear_errors(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 64, 64)
    r = run_cli("predict", src, "--model", model_file, "--out", tmp_path / "o", "--cluster", "x")
    assert r.returncode == 1 and "--cluster 'x' is not a Ray cluster" in r.stderr
    assert "valid: local, auto, ray://HOST:PORT" in r.stderr
    r = run_cli("predict", src, "--model", model_file, "--out", tmp_path / "o", "--workers", "2")
    assert r.returncode == 1 and "--workers 2 needs a cluster" in r.stderr


@pytest.mark.slow
def test_kill_9_of_the_driver_then_the_same_command_finishes_only_the_missing_blocks(
    model_file, tmp_path
):
    rasters = [write_scene(tmp_path / f"r{i}.tif", 512, 512, seed=i) for i in range(3)]
    out = tmp_path / "out"
    cmd = [
        str(ROADSEG),
        "predict",
        *map(str, rasters),
        "--model",
        str(model_file),
        "--out",
        str(out),
        "--cluster",
        "local",
        "--block-size",
        "256",
        "--batch-size",
        "1",
        "--json",
        "--progress",
        "none",
        *SMALL,
    ]

    def done():  # the manifest with its journal: every block recorded so far
        try:
            m = read_manifest(out)
        except (OSError, ValueError):
            return {}
        if not m:
            return {}
        return {f"{s}/{b}" for s, r in m["rasters"].items() for b in r["blocks"]}

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while len(done()) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the driver, mid-run
        proc.wait(timeout=60)
    finally:
        kill_session(proc.pid)  # what the driver started (Ray's processes) goes too
    before = done()
    assert proc.returncode == -signal.SIGKILL and 2 <= len(before) < 12, before
    stamps = {f: f.stat().st_mtime_ns for f in out.rglob("r*c*.tif")}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    d = last_json(r.stdout)
    assert d["blocks"]["total"] == 12 and d["blocks"]["resumed"]
    assert d["blocks"]["run"] == 12 - len(before) and d["blocks"]["skipped"] == len(before)
    for f, t in stamps.items():  # blocks finished before the kill were not redone
        if f"{f.parent.name.removesuffix('_blocks')}/{f.stem}" in before:
            assert f.stat().st_mtime_ns == t, f
    once = predict(
        [str(p) for p in rasters],
        str(model_file),
        tmp_path / "once",
        block_size=256,
        batch_size=1,
        tile=128,
        overlap=32,
        precision="fp32",
    )
    assert once.blocks["run"] == 12
    for f in sorted((tmp_path / "once").rglob("r*c*.tif")):
        assert f.read_bytes() == (out / f.relative_to(tmp_path / "once")).read_bytes(), f
    for i in range(3):
        a = classes(out / f"r{i}_roads.vrt")
        assert np.array_equal(a, classes(tmp_path / "once" / f"r{i}_roads.vrt"))


def _task_pids(sid: int) -> list[int]:
    pids = []
    for pid in session_processes(sid):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "roadseg-predict-block" in title:
            pids.append(pid)
    return pids


@pytest.mark.slow
def test_a_killed_worker_is_retried(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 512, 512, seed=3)
    cmd = [
        str(ROADSEG),
        "predict",
        str(src),
        "--model",
        str(model_file),
        "--out",
        str(tmp_path / "out"),
        "--cluster",
        "local",
        "--block-size",
        "256",
        "--batch-size",
        "1",
        "--json",
        "--progress",
        "none",
        *SMALL,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    killed = []
    try:
        deadline = time.monotonic() + 600
        while not killed and proc.poll() is None and time.monotonic() < deadline:
            pids = _task_pids(proc.pid)
            if pids:
                time.sleep(1.0)  # inside the block
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        kill_session(proc.pid)
    assert killed and proc.returncode == 0, stderr[-3000:]
    d = last_json(stdout)
    assert d["blocks"]["run"] == d["blocks"]["total"] == 4
    ref = predict(str(src), str(model_file), tmp_path / "ref.tif", tile=128, overlap=32,
                  batch_size=1, precision="fp32")  # fmt: skip
    assert np.array_equal(classes(tmp_path / "out" / "s_roads.vrt"), classes(ref.items[0].classes))


@pytest.mark.slow
def test_ctrl_c_cancels_every_task_and_stops_the_cluster(model_file, tmp_path):
    src = write_scene(tmp_path / "s.tif", 768, 768, seed=4)
    cmd = [
        str(ROADSEG),
        "predict",
        str(src),
        "--model",
        str(model_file),
        "--out",
        str(tmp_path / "out"),
        "--cluster",
        "local",
        "--workers",
        "2",
        "--block-size",
        "256",
        "--batch-size",
        "1",
        "--json",
        "--progress",
        "json",
        *SMALL,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        for line in proc.stderr:  # Ctrl-C once a first block is finished (and recorded)
            if line.startswith("{") and re.search(r"\([1-9]\d*/\d+ done\)", line):
                break
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        stdout, _ = proc.communicate(timeout=300)
        deadline = time.monotonic() + 60  # Ray's processes exit once the driver stopped them
        while (left := session_processes(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        kill_session(proc.pid)
    assert proc.returncode == 130, stdout[-2000:]
    err = json.loads(stdout.strip().splitlines()[-1])
    assert err["type"] == "error" and err["error"] == "CancelledError"
    assert not left, left  # no Ray process outlives the run
    m = read_manifest(tmp_path / "out")
    assert 1 <= len(m["rasters"]["s"]["blocks"]) < 9 and not m["complete"]
    assert not (tmp_path / "out" / "s_roads.vrt").exists()
