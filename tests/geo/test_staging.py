"""A run's outputs commit together: staging, overwrite, locks, failures mid-commit, dead runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from roadseg.errors import OutputError
from roadseg.geo import staging
from roadseg.geo.atomic import atomic_output, remove_stale, temp_path_for
from roadseg.geo.staging import OutputSet, lock_path_for, recover_commits, staged_outputs


def write(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def test_nothing_appears_before_the_end_and_everything_at_the_end(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "sub" / "b.txt"
    with staged_outputs() as outs:
        outs.declare(a, "out")
        outs.declare(b, "vectorize")
        write(a, "A")
        write(b, "B")
        assert not a.exists() and not b.exists()
        assert outs.staged_path(a).read_text() == "A"
        assert lock_path_for(a).exists()
    assert a.read_text() == "A" and b.read_text() == "B"
    assert hidden(tmp_path) == []  # no temporary, backup, lock or journal left


def test_an_existing_output_is_refused_before_any_work(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("old")
    worked = []
    with pytest.raises(OutputError) as info, staged_outputs() as outs:
        outs.declare(a, "out")
        worked.append(1)
    assert worked == [] and a.read_text() == "old"
    e = info.value
    assert e.param == "out" and "already exists" in str(e) and "give overwrite" in str(e)
    assert e.__notes__ == ["nothing was written"]
    assert hidden(tmp_path) == []


def test_a_failure_leaves_the_old_outputs_and_removes_new_folders(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "new" / "deeper" / "b.txt"
    a.write_text("old")
    with pytest.raises(RuntimeError), staged_outputs(overwrite=True) as outs:
        outs.declare(a, "out")
        outs.declare(b, "out")
        write(a, "new")
        write(b, "new")
        raise RuntimeError("the vectoriser failed")
    assert a.read_text() == "old" and not (tmp_path / "new").exists()
    assert hidden(tmp_path) == []


def test_a_failure_in_the_middle_of_the_commit_restores_everything(tmp_path, monkeypatch):
    """Failure injection: the second rename fails; the first target is put back."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    b.write_text("old b")
    real = staging._swap
    calls = []

    def flaky(entry):
        calls.append(entry.final.name)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied")
        real(entry)

    monkeypatch.setattr(staging, "_swap", flaky)
    with pytest.raises(OutputError) as info, staged_outputs(overwrite=True) as outs:
        outs.declare(a, "out")
        outs.declare(b, "vectorize")
        write(a, "new a")
        write(b, "new b")
    assert calls == ["a.txt", "b.txt"]
    assert a.read_text() == "old a" and b.read_text() == "old b"
    assert "cannot move" in str(info.value) and info.value.param == "vectorize"
    assert "nothing was written" in info.value.__notes__
    assert hidden(tmp_path) == []


def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(tmp_path):
    a = tmp_path / "a.txt"
    with staged_outputs() as first:
        first.declare(a, "out")
        other = OutputSet()
        token = staging._CURRENT.set(other)
        try:
            with pytest.raises(OutputError, match="being written by another roadseg run"):
                other.declare(a, "out")
        finally:
            staging._CURRENT.reset(token)
        write(a, "first")
    assert a.read_text() == "first" and hidden(tmp_path) == []


def test_files_of_dead_processes_are_removed_by_the_next_run(tmp_path):
    """Temporaries named with a dead PID (a kill -9) go; a live process's files stay."""
    target = tmp_path / "roads.tif"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    stale = target.with_name(f".roads.rs{pid}-0123abcd.tmp.tif")
    stale.write_bytes(b"half")
    (tmp_path / (stale.name + ".aux.xml")).write_text("x")
    mine = temp_path_for(target)
    mine.write_bytes(b"mine")
    other = tmp_path / f".other.rs{pid}-0123abcd.tmp.tif"  # another output's: not ours to judge
    other.write_bytes(b"x")
    removed = remove_stale([target])
    assert sorted(p.name for p in removed) == sorted([stale.name, stale.name + ".aux.xml"])
    assert mine.exists() and other.exists()


@pytest.mark.parametrize("renames", [1, 2])
def test_a_commit_killed_during_its_renames_is_settled_by_the_next_run(tmp_path, renames):
    """Failure injection in a real process: it dies (os._exit) after ``renames`` renames.

    After the first of two the next run rolls back to the old outputs; after the last
    (before the journal says "committed") the new outputs were whole and stay.
    """
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    b.write_text("old b")
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from roadseg.geo import staging
        from roadseg.geo.atomic import atomic_output
        real, n = staging._swap, []
        def dying(e):
            real(e)
            n.append(1)
            if len(n) == {renames}:
                os._exit(9)
        staging._swap = dying
        with staging.staged_outputs(overwrite=True) as outs:
            for name in ("a.txt", "b.txt"):
                p = Path({str(tmp_path)!r}) / name
                outs.declare(p, "out")
                with atomic_output(p) as tmp:
                    tmp.write_text("new " + name[0])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert r.returncode == 9, r.stderr
    left = (a.read_text(), b.read_text())
    assert left == (("new a", "old b") if renames == 1 else ("new a", "new b"))
    journals = [p for p in tmp_path.iterdir() if p.name.startswith(".roadseg-commit.")]
    assert len(journals) == 1
    # The next run on these outputs finishes the roll-back (or the commit) before it starts.
    with staged_outputs(overwrite=True) as outs:
        outs.declare(a, "out")
        expected = ("old a", "old b") if renames == 1 else ("new a", "new b")
        assert (a.read_text(), b.read_text()) == expected
        assert not journals[0].exists()
    assert recover_commits([a]) == []
    assert hidden(tmp_path) == []


def test_nested_runs_commit_once_with_the_outer_one(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with staged_outputs() as outer:
        outer.declare(a, "out")
        write(a, "A")
        with staged_outputs() as inner:
            assert inner is outer
            inner.declare(b, "vectorize")
            write(b, "B")
        assert not a.exists() and not b.exists()
    assert a.read_text() == "A" and b.read_text() == "B"
