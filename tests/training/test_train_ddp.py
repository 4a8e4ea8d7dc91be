"""Smoke test of Lightning DDP with two CPU processes (gloo), in the default set.

The two ranks are real processes started by Lightning; a small script wraps the real
:class:`~roadseg.data.sampler.WindowSampler` to record, in each process, the window keys
it was given (the training windows are derived from the keys alone). The test checks
that the ranks saw disjoint windows that together make every epoch, and that the
model written by rank 0 loads; and that fewer validation windows than ranks still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

from road_scenes import road_scene
from roadseg.models import load_model

#: Two DDP ranks train on argv[-3:] (image, labels, out) for EPOCHS epochs of SAMPLES
#: windows, validating on at most VAL windows (argv[-6:-3]).
TRAIN = """
import json, sys
import roadseg

epochs, samples, val = map(int, sys.argv[-6:-3])
r = roadseg.train(
    image=[sys.argv[-3]], labels=[sys.argv[-2]], out=sys.argv[-1], epochs=epochs,
    samples_per_epoch=samples, encoder="resnet18", tile=64, batch_size=2, workers=0,
    precision="32", threads=1, accelerator="cpu", devices="2", strategy="ddp",
    **{"data.max_val_windows": val, "trainer.progress": "none"},
)
print(json.dumps(r.as_dict()))
"""

SCRIPT = (
    """
import json, os, sys
from roadseg.data import sampler

KEYS = sys.argv[1]
inner = sampler.WindowSampler.__iter__


def recording(self):
    rank, world = sampler.dist_rank_world()
    for key in inner(self):
        with open(os.path.join(KEYS, f"{os.getpid()}.txt"), "a") as f:
            f.write(f"{rank} {world} {self.epoch} {key}\\n")
        yield key


sampler.WindowSampler.__iter__ = recording

"""
    + TRAIN
)


def _ddp(tmp_path, script: str, *args: str, epochs: int, samples: int, val: int) -> dict:
    """Run ``script`` (ending in :data:`TRAIN`) on a small scene; its JSON result."""
    tif, gpkg = road_scene(tmp_path / "scene", size=192)
    path = tmp_path / "ddp_run.py"
    path.write_text(script)
    r = subprocess.run(
        [sys.executable, str(path), *args, str(epochs), str(samples), str(val)]
        + [str(tif), str(gpkg), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_ddp_two_cpu_processes_see_disjoint_windows(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    res = _ddp(tmp_path, SCRIPT, str(keys), epochs=2, samples=8, val=2)
    seen: dict[tuple[int, int], set[int]] = defaultdict(set)  # (epoch, rank) -> keys
    pids_of_rank = defaultdict(set)
    for f in keys.glob("*.txt"):
        for line in f.read_text().splitlines():
            rank, world, epoch, key = map(int, line.split())
            assert world == 2
            seen[epoch, rank].add(key)
            pids_of_rank[rank].add(f.stem)
    assert set(pids_of_rank) == {0, 1}  # two ranks ...
    assert not pids_of_rank[0] & pids_of_rank[1]  # ... in two processes
    for epoch in (0, 1):
        a, b = seen[epoch, 0], seen[epoch, 1]
        assert len(a) == len(b) == 4 and not a & b, (epoch, a, b)
        assert a | b == set(range(8 * epoch, 8 * epoch + 8))  # together: the whole epoch
    net, meta = load_model(res["model"])
    assert meta.training["steps"] == 4  # 2 epochs x (8 windows / 2 ranks / batch 2)
    assert all(bool(p.isfinite().all()) for p in net.parameters())  # the synced weights load


def test_ddp_with_fewer_validation_windows_than_ranks(tmp_path):
    """One validation window, two ranks: rank 1 gets a padding window that no metric counts.

    Before, Lightning refused the zero-length validation loader of rank 1 at start-up.
    """
    res = _ddp(tmp_path, TRAIN, epochs=1, samples=4, val=1)
    assert res["metrics"]["pixels"] == 64 * 64  # the one window, counted once
