"""The blocks manifest: finished blocks are appended to a journal, folded in O(N), kill-safe."""

from __future__ import annotations

import json

import pytest
from roadseg.errors import ConfigError
from roadseg.prediction import manifest as mf
from roadseg.prediction.manifest import JOURNAL, MANIFEST, Manifest, read_manifest

KEY = {"model": "abc", "tile": 64}
VKEY = {"block_size": 256}


def started(folder, n_rasters=1):
    m, resumed = Manifest.open(folder, KEY, VKEY, overwrite=False)
    for i in range(n_rasters):
        m.entry(f"r{i}", {"path": f"/x/r{i}.tif", "grid": [10, 10]}, overwrite=False)
    return m, resumed


def test_blocks_are_appended_and_folded_in_linear_time(tmp_path, monkeypatch):
    writes = []
    save = Manifest.save
    monkeypatch.setattr(Manifest, "save", lambda self: writes.append(1) or save(self))
    m, _ = started(tmp_path)
    n = 1000
    for i in range(n):
        m.record("r0", "blocks", f"b{i:04d}", {"tiles_run": i})
    # the first block writes the manifest; then it is rewritten only when the journal
    # outgrows it: a handful of whole writes (each of all the blocks so far), not one per block
    assert len(writes) <= 6, len(writes)
    journal = (tmp_path / JOURNAL).read_text().splitlines()
    saved = json.loads((tmp_path / MANIFEST).read_text())["rasters"]["r0"]["blocks"]
    assert len(saved) + len(journal) == n and len(journal) > 0
    state = read_manifest(tmp_path)["rasters"]["r0"]["blocks"]
    assert sorted(state) == [f"b{i:04d}" for i in range(n)] and state["b0999"]["tiles_run"] == 999
    again, resumed = started(tmp_path)
    assert resumed and again.rasters["r0"].blocks == m.rasters["r0"].blocks


def test_a_line_cut_short_by_a_kill_is_ignored_and_the_journal_folded(tmp_path):
    m, _ = started(tmp_path)
    for i in range(3):
        m.record("r0", "blocks", f"b{i}", {"i": i})
    m.record("r0", "vector_blocks", "b0", {"file": "b0.npz"})
    with open(tmp_path / JOURNAL, "a") as f:  # the kill came while this line was written
        f.write('{"raster": "r0", "kind": "blocks", "name": "b9", "rec')
    m2, resumed = started(tmp_path)
    assert resumed and sorted(m2.rasters["r0"].blocks) == ["b0", "b1", "b2"]
    assert m2.rasters["r0"].vector_blocks == {"b0": {"file": "b0.npz"}}
    m2.record("r0", "blocks", "b3", {"i": 3})  # the resumed run's first block folds the journal
    assert not (tmp_path / JOURNAL).exists()
    assert sorted(read_manifest(tmp_path)["rasters"]["r0"]["blocks"]) == ["b0", "b1", "b2", "b3"]


def test_other_vector_options_drop_the_journals_vector_blocks(tmp_path):
    m, _ = started(tmp_path)
    m.record("r0", "blocks", "b0", {})
    m.record("r0", "vector_blocks", "b0", {"file": "b0.npz"})
    m.record("r0", "vector_blocks", "b1", {"file": "b1.npz"})
    m2, _ = Manifest.open(tmp_path, KEY, {"block_size": 512}, overwrite=False)
    assert m2.rasters["r0"].blocks == {"b0": {}} and m2.rasters["r0"].vector_blocks == {}


def test_a_damaged_journal_line_is_an_unreadable_manifest(tmp_path):
    m, _ = started(tmp_path)
    m.record("r0", "blocks", "b0", {})
    m.record("r0", "blocks", "b1", {})
    with open(tmp_path / JOURNAL, "a") as f:
        f.write("not json\n")
    with pytest.raises(ConfigError, match="unreadable manifest") as e:
        started(tmp_path)
    assert e.value.param == "out" and "overwrite" in e.value.hint
    fresh, resumed = Manifest.open(tmp_path, KEY, VKEY, overwrite=True)
    assert not resumed and fresh.rasters == {}


def test_the_fold_threshold_is_the_manifests_size(tmp_path, monkeypatch):
    monkeypatch.setattr(mf, "JOURNAL_MIN_LINES", 2)
    m, _ = started(tmp_path)
    m.record("r0", "blocks", "b0", {})  # written whole: 1 block
    m.record("r0", "blocks", "b1", {})
    m.record("r0", "blocks", "b2", {})
    assert len((tmp_path / JOURNAL).read_text().splitlines()) == 2
    m.record("r0", "blocks", "b3", {})  # 3 lines > max(2, 1 block): folded
    assert not (tmp_path / JOURNAL).exists()
    assert len(json.loads((tmp_path / MANIFEST).read_text())["rasters"]["r0"]["blocks"]) == 4
