"""A full disk, for real: a tiny tmpfs mounted for the test (root only; skipped otherwise).

Predict, vectorise and train each stop with one line naming the file and the free
space, exit status 1, nothing half-written on the full disk, and every file that was
there before kept.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from catalogue import assert_refused, diff, road_image, run_cli, snapshot, tiny_model, write_tif


def mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "96k")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("disk_inputs")
    scene = write_tif(root / "scene.tif", road_image(384, 384, seed=4))
    return {"scene": scene, "model": tiny_model(root / "model.safetensors")}


def fill_with_old(disk: Path) -> None:
    (disk / "old.tif").write_bytes(b"an earlier result" * 100)
    (disk / "keep.txt").write_text("the user's file")


def test_predict_on_a_full_disk(inputs, small_disk):
    fill_with_old(small_disk)
    before = snapshot(small_disk)
    r = run_cli("predict", inputs["scene"], "--model", inputs["model"], "--out",
                small_disk / "old.tif", "--probabilities", "--overwrite", "--tile", "64",
                "--precision", "fp32", "--progress", "none")  # fmt: skip
    line = assert_refused(r, 1, ("old", "disk"))
    assert "the disk is full" in line and "free" in line and "nothing was written" in line
    assert diff(before, snapshot(small_disk)) == {"added": [], "removed": [], "changed": []}


def test_vectorize_on_a_full_disk(inputs, small_disk, tmp_path):
    classes = tmp_path / "classes.tif"
    r = run_cli("predict", inputs["scene"], "--model", inputs["model"], "--out", classes,
                "--tile", "64", "--precision", "fp32", "--progress", "none")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    fill_with_old(small_disk)
    before = snapshot(small_disk)
    r = run_cli("vectorize", classes, "--out", small_disk / "roads.gpkg", "--graphml",
                small_disk / "roads.graphml", "--progress", "none")  # fmt: skip
    line = assert_refused(r, 1, ("roads.gpkg", "roads.graphml"))
    assert "the disk is full" in line and "nothing was written" in line
    assert diff(before, snapshot(small_disk)) == {"added": [], "removed": [], "changed": []}


def test_train_on_a_full_disk(tmp_path):
    from roadseg.synth import make_scene

    scene = make_scene(tmp_path / "scene", size=128, seed=2, style="urban")
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "2m")
    try:
        r = run_cli("train", "--image", scene.image, "--labels", scene.roads, "--out",
                    disk / "run", "--epochs", "1", "--samples-per-epoch", "2", "--batch-size",
                    "2", "--tile", "64", "--encoder", "tu-mobilenetv3_small_050", "--workers",
                    "0", "--val-fraction", "0.5", "--checkpoint-every", "1", "--progress",
                    "none")  # fmt: skip
        line = assert_refused(r, 1, ("run",))
        assert "the disk is full" in line and "removed" in line
        assert list(disk.iterdir()) == []  # the run folder that failed to start is gone
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
