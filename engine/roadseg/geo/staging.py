"""The outputs of one run, staged under temporary names and committed together at the end.

A run (``predict(..., vectorize=...)``, ``vectorize``, ``evaluate``, ``synth``) opens an
:class:`OutputSet`, declares its targets before any work starts and writes
through :func:`~roadseg.geo.atomic.atomic_output` or a
:class:`~roadseg.geo.writer.GeoTiffWriter`; their files wait under temporary
names beside their targets. Only when the whole run succeeded are they renamed,
all together:

* **Declared up front**: an existing target is kept and the run refused unless
  ``overwrite`` is given; a target another roadseg run is writing is refused
  (a lock beside it, released by the kernel when that process dies); files left by
  dead runs on the same targets are cleaned up first.
* **Committed together**: a journal beside the targets lists every rename; each
  replaced file is kept as a hard-linked backup until every rename is done; a
  failure in the middle restores them. A run killed during the commit leaves its
  journal, and the next run on the same outputs finishes the roll-back — or, when
  the kill came after the last rename, keeps the new outputs (they were whole and
  in place; undoing them would lose a finished result someone may have seen).
* **Failure or cancel before the commit**: every temporary file and every folder
  the run created is removed, the pre-existing outputs are byte-identical, and the
  error carries the note ``nothing was written``.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.errors import OutputError
from roadseg.geo.atomic import (
    _CURRENT,
    check_target,
    check_writable,
    current,
    pid_alive,
    remove,
    remove_sidecars,
    remove_stale,
    temp_path_for,
)

#: Journal of a commit in progress: ``.roadseg-commit.rs<pid>-<token>.json``.
JOURNAL_PREFIX = ".roadseg-commit.rs"
#: Note added to errors of a run whose outputs were not committed.
NOTHING_WRITTEN = "nothing was written"

__all__ = ["OutputSet", "current", "recover_commits", "staged_outputs"]


def lock_path_for(target: Path) -> Path:
    """The lock file of a target (``.roads.tif.roadseg-lock``).

    >>> lock_path_for(Path("out/roads.tif")).as_posix()
    'out/.roads.tif.roadseg-lock'
    """
    return target.with_name(f".{target.name}.roadseg-lock")


@dataclass
class _Entry:
    final: Path
    tmp: Path
    backup: Path
    existed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


@dataclass
class OutputSet:
    """The targets of one run and their staged files (see the module docstring).

    Args:
        overwrite: Replace existing targets (else the run is refused before it starts).

    """

    overwrite: bool = False
    declared: dict[Path, str | None] = field(default_factory=dict)
    staged: dict[Path, Path] = field(default_factory=dict)
    made_folders: list[Path] = field(default_factory=list)
    _locks: dict[Path, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ declaring
    def declare(self, path: str | os.PathLike[str], param: str | None = None) -> Path:
        """Claim a target before the work starts: refuse an existing one unless ``overwrite``.

        Raises:
            OutputError: the target exists (without ``overwrite``), is a folder, cannot be
                created, or another roadseg run is writing it.

        """
        p = Path(path)
        key = _key(p)
        if key in self.declared:
            return p
        try:
            check_target(p)
            recover_commits([p])
            remove_stale([p])
            if p.exists() and not self.overwrite:
                raise OutputError(
                    f"{str(p)!r} already exists",
                    value=str(p),
                    hint=f"give `overwrite` to replace it, or choose another `{param or 'out'}`",
                )
            check_writable(p)  # makes missing folders (removed again if the run fails)
            self._lock(p)
            self.declared[key] = param
        except OutputError as exc:
            if exc.param is None:
                exc.param = param
            raise
        return p

    def _lock(self, p: Path) -> None:
        lp = lock_path_for(p)
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # a read-only medium is reported when writing; locking is best effort
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                pid = os.read(fd, 32).decode().strip()
            except OSError:
                pid = "?"
            os.close(fd)
            raise OutputError(
                f"{str(p)!r} is being written by another roadseg run (process {pid or '?'})",
                value=str(p),
                hint="wait for it to finish or choose another output",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._locks[lp] = fd

    def _unlock(self) -> None:
        for lp, fd in self._locks.items():
            remove(lp)
            os.close(fd)
        self._locks.clear()

    # ------------------------------------------------------------------ staging
    def add(self, tmp: Path, final: Path) -> None:
        """Take a finished temporary file for ``final``; it is renamed at the commit."""
        key = _key(final)
        if key not in self.declared:
            self.declare(final)
        if key in self.staged:
            remove(self.staged[key])
        self.staged[key] = tmp

    def staged_path(self, final: str | os.PathLike[str]) -> Path:
        """Where ``final`` is now: its temporary file once written, else ``final`` itself."""
        return self.staged.get(_key(Path(final)), Path(final))

    # ------------------------------------------------------------------ ending
    def commit(self) -> list[Path]:
        """Rename every staged file into place, all or none; return the files written."""
        entries = []
        for key, tmp in self.staged.items():
            final = Path(key)
            entries.append(_Entry(final, tmp, temp_path_for(final, "bak"), final.exists()))
        if not entries:
            return []
        for e in entries:
            if e.existed and not self.overwrite:
                raise OutputError(
                    f"{str(e.final)!r} was created by someone else while this run worked",
                    param=self.declared.get(_key(e.final)),
                    value=str(e.final),
                    hint="give `overwrite` to replace it, or choose another output",
                )
        journals = _write_journals(entries, "committing")
        done: list[_Entry] = []
        try:
            for e in entries:
                _swap(e)
                done.append(e)
        except BaseException as exc:
            failed = _restore(entries)
            for j in journals:
                remove(j)
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise OutputError(
                    f"cannot move {str(entries[len(done)].final)!r} into place "
                    f"({exc.strerror or exc})"
                    + (f"; could not restore {', '.join(map(repr, failed))}" if failed else ""),
                    param=self.declared.get(_key(entries[len(done)].final)),
                    value=str(entries[len(done)].final),
                    hint="check the folder's permissions and free space",
                ) from None
            raise
        _write_journals(entries, "committed", journals)
        for e in entries:
            remove(e.backup)
        for j in journals:
            remove(j)
        self.staged.clear()
        return [e.final for e in entries]

    def abort(self) -> None:
        """Delete every staged file and the folders this run created (when empty)."""
        for tmp in self.staged.values():
            remove(tmp)
            remove_sidecars(tmp)
        self.staged.clear()
        self._unlock()
        for d in reversed(self.made_folders):
            try:
                d.rmdir()
            except OSError:
                pass
        self.made_folders.clear()

    def close(self) -> None:
        """Release the locks (after a commit)."""
        self._unlock()


def _key(p: Path) -> Path:
    return Path(os.path.abspath(p))


def _swap(e: _Entry) -> None:
    """Replace ``e.final`` by ``e.tmp``, keeping the old file as ``e.backup`` (a hard link)."""
    if e.existed:
        try:
            os.link(e.final, e.backup)
        except OSError:
            os.replace(e.final, e.backup)  # no hard links here: a moment without the file
    os.replace(e.tmp, e.final)


def _restore(entries: list[_Entry]) -> list[str]:
    """Undo a partial commit: put back every backup, remove new files, drop temporaries."""
    failed = []
    for e in entries:
        try:
            if e.existed:
                if e.backup.exists():
                    os.replace(e.backup, e.final)
            elif not e.tmp.exists() and e.final.exists():
                e.final.unlink()  # it was created by this commit
        except OSError:
            failed.append(str(e.final))
        remove(e.tmp)
        remove_sidecars(e.tmp)
    return failed


def _all_swapped(entries: list[_Entry]) -> bool:
    """True when every rename of a commit was done and no roll-back had begun.

    Each staged file was renamed onto its target (no temporary left, the target there)
    and every replaced file still has its backup (a roll-back moves them back first).
    """
    return all(
        not e.tmp.exists() and e.final.exists() and (not e.existed or e.backup.exists())
        for e in entries
    )


def _write_journals(
    entries: list[_Entry], state: str, paths: list[Path] | None = None
) -> list[Path]:
    """Write the commit's journal into every folder it touches (atomically, synced)."""
    if paths is None:
        token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        folders = list(dict.fromkeys(e.final.parent for e in entries))
        paths = [f / f"{JOURNAL_PREFIX}{token}.json" for f in folders]
    body = json.dumps(
        {
            "state": state,
            "journals": [str(p) for p in paths],
            "entries": [e.as_dict() for e in entries],
        }
    )
    for p in paths:
        tmp = p.with_name(p.name + ".part")
        with open(tmp, "w") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    return paths


def recover_commits(targets: list[Path]) -> list[Path]:
    """Finish the commits that dead runs left beside ``targets`` (roll back, or clean up).

    A journal in state ``committing`` means the run died while renaming: its
    backups are put back and its new files removed, so the previous outputs return
    whole — unless every rename was done (see :func:`_all_swapped`): then, as in
    state ``committed``, only the backups are left to delete.

    Returns:
        The journals handled.

    """
    handled = []
    for folder in dict.fromkeys(t.parent for t in targets):
        try:
            names = [n for n in os.listdir(folder) if n.startswith(JOURNAL_PREFIX)]
        except OSError:
            continue
        for name in names:
            pid = name[len(JOURNAL_PREFIX) :].split("-", 1)[0]
            if not pid.isdigit() or pid_alive(int(pid)):
                continue
            path = folder / name
            if name.endswith(".part"):
                remove(path)
                continue
            try:
                d = json.loads(path.read_text())
                entries = [
                    _Entry(Path(x["final"]), Path(x["tmp"]), Path(x["backup"]), bool(x["existed"]))
                    for x in d["entries"]
                ]
                journals = [Path(j) for j in d["journals"]]
            except (OSError, ValueError, KeyError, TypeError):
                remove(path)
                continue
            if d.get("state") == "committing" and not _all_swapped(entries):
                _restore(entries)
            for e in entries:
                remove(e.backup)
                _remove_dead_lock(lock_path_for(e.final), pid)
            for j in journals:
                remove(j)
            handled.append(path)
    return handled


def _remove_dead_lock(lock: Path, pid: str) -> None:
    """Delete a lock file that the dead process ``pid`` held."""
    try:
        if lock.read_text().strip() == pid:
            remove(lock)
    except OSError:
        pass


@contextmanager
def staged_outputs(overwrite: bool = False) -> Iterator[OutputSet]:
    """Run the body with an :class:`OutputSet`: commit at the end, abort on any error.

    Inside another set (``predict`` running the vectoriser) the outer set is used:
    it commits once, at the end of the whole run.

    Example:
        >>> import tempfile, pathlib
        >>> from roadseg.geo.atomic import atomic_output
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with staged_outputs() as outs:
        ...     _ = outs.declare(d / "a.txt", "out")
        ...     with atomic_output(d / "a.txt") as tmp:
        ...         _ = tmp.write_text("new")
        ...     (d / "a.txt").exists()
        False
        >>> (d / "a.txt").read_text()
        'new'

    """
    outer = current()
    if isinstance(outer, OutputSet):
        yield outer
        return
    outs = OutputSet(overwrite=overwrite)
    token = _CURRENT.set(outs)
    try:
        try:
            yield outs
        finally:
            _CURRENT.reset(token)
        outs.commit()
    except BaseException as exc:
        outs.abort()
        if NOTHING_WRITTEN not in str(exc):
            exc.add_note(NOTHING_WRITTEN)
        raise
    finally:
        outs.close()
