"""Atomic outputs: write to a temporary name beside the target, rename on success.

A cancelled, failed or killed run never leaves a half-written file under the
final name, and an existing file is only replaced once the new one is complete.
Inside a run's :class:`~roadseg.geo.staging.OutputSet` the rename waits for the
end of the run, so all its outputs are committed together.

Temporary names carry the writing process's id (``.roads.rs4242-1a2b3c4d.tmp.tif``):
files of a process that no longer runs (killed with ``kill -9``) are recognised and
removed by the next run on the same outputs (:func:`remove_stale`).
"""

from __future__ import annotations

import contextvars
import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from roadseg.errors import OutputError, RoadsegError

#: A temporary, backup or lock file of a roadseg process: ``.<stem>.rs<pid>-<token>.<kind>…``.
TEMP_NAME = re.compile(r"^\.(?P<stem>.*)\.rs(?P<pid>\d+)-(?P<token>[0-9a-f]{8})\.(?P<kind>tmp|bak)")
#: Files some drivers write beside a dataset (GeoPackage journals, PAM metadata).
SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".aux.xml")


class Staging(Protocol):
    """What a run's output set offers the writers (see :class:`~roadseg.geo.staging.OutputSet`)."""

    made_folders: list[Path]

    def add(self, tmp: Path, final: Path) -> None:
        """Take a finished temporary file for ``final``."""


#: The output set of the running call (set by :func:`roadseg.geo.staging.staged_outputs`).
_CURRENT: contextvars.ContextVar[Staging | None] = contextvars.ContextVar(
    "roadseg_output_set", default=None
)


def current() -> Staging | None:
    """The output set of the running call, if any."""
    return _CURRENT.get()


def temp_path_for(path: str | os.PathLike[str], kind: str = "tmp") -> Path:
    """A hidden temporary name in the same folder (same file system: rename is atomic).

    The suffix is kept, so drivers that go by the extension still recognise the file.

    >>> p = temp_path_for("/a/b/out.tif")
    >>> p.name.startswith(".out.rs") and p.name.endswith(".tmp.tif"), p.parent.as_posix()
    (True, '/a/b')
    >>> TEMP_NAME.match(p.name).group("pid") == str(os.getpid())
    True
    """
    p = Path(path)
    return p.with_name(f".{p.stem}.rs{os.getpid()}-{uuid.uuid4().hex[:8]}.{kind}{p.suffix}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (a zombie counts as gone).

    >>> pid_alive(os.getpid())
    True
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[-1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def remove_stale(targets: Iterable[Path]) -> list[Path]:
    """Delete the temporary and backup files that dead processes left beside ``targets``.

    Only files named by :func:`temp_path_for` for one of the targets' stems, whose
    process no longer runs, are removed.

    Returns:
        The files removed.

    """
    stems: dict[Path, set[str]] = {}
    for t in targets:
        stems.setdefault(t.parent, set()).add(t.stem)
    removed = []
    for folder, names in stems.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            m = TEMP_NAME.match(e.name)
            if m is None or m.group("stem") not in names or pid_alive(int(m.group("pid"))):
                continue
            if e.is_file(follow_symlinks=False):
                remove(Path(e.path))
                removed.append(Path(e.path))
    return removed


def missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, outermost first.

    >>> missing_parents(Path("/nonexistent-root-xyz/a/b.tif"))[0].as_posix()
    '/nonexistent-root-xyz'
    """
    out = []
    d = path.parent if str(path.parent) else Path(".")
    while not d.exists() and d != d.parent:
        out.append(d)
        d = d.parent
    return out[::-1]


def check_target(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` could be written, creating nothing.

    Raises:
        OutputError: when the path is a folder, lies under a file, or its nearest
            existing folder is read-only (the caller names the parameter with
            :func:`roadseg.errors.about`).

    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{str(p)!r} is a folder", value=str(p), hint="give a file name")
    anc = p.parent if str(p.parent) else Path(".")
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(
            f"cannot create the folder {str(p.parent)!r} for {str(p)!r} ({str(anc)!r} is a file)",
            value=str(p),
            hint="choose a writable location",
        )
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(
            f"the folder {str(anc)!r} for {str(p)!r} is not writable",
            value=str(p),
            hint="choose a writable location",
        )
    return p


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be created; create its parent folders if missing.

    Inside an :class:`~roadseg.geo.staging.OutputSet` the folders created are
    recorded, and removed again when the run fails.

    Raises:
        OutputError: naming the path when the folder cannot be written.

    """
    p = check_target(path)
    made = missing_parents(p)
    try:
        for d in made:
            d.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {str(p.parent)!r} for {str(p)!r} ({exc.strerror})",
            value=str(p),
            hint="choose a writable location",
        ) from None
    finally:
        txn = current()
        if txn is not None:
            txn.made_folders.extend(d for d in made if d.is_dir())
    return p


#: How libraries say the disk is full (the OS, GDAL, SQLite under GeoPackage writing).
_FULL_DISK_WORDS = (
    "No space left on device",
    "Free disk space available",
    "Disk quota exceeded",
    "database or disk is full",
)
#: Below this many free bytes, a failed write is put down to a full disk (GDAL often reports
#: only its own consequence, e.g. "Failed to create mask").
NEARLY_FULL = 256 * 1024


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error (or one it came from) says the disk or quota is full.

    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> is_disk_full(RuntimeError("Free disk space available is 10 bytes, whereas 99 are ..."))
    True
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e)
        if any(words in text for words in _FULL_DISK_WORDS):
            return True
        e = e.__cause__ or e.__context__
    return False


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Free bytes on the file system holding ``path`` (its nearest existing folder)."""
    d = Path(path)
    while not d.exists() and d != d.parent:
        d = d.parent
    try:
        return shutil.disk_usage(d if d.is_dir() else d.parent).free
    except OSError:
        return None


def human_bytes(n: float) -> str:
    """Bytes for a reader.

    >>> human_bytes(512), human_bytes(3 * 2**20), human_bytes(5.5 * 2**30)
    ('512 B', '3.0 MB', '5.5 GB')
    """
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def disk_full_error(path: str | os.PathLike[str], needed: int | None = None) -> OutputError:
    """The error for a full disk while writing ``path``: the free space, and the need if known."""
    free = free_bytes(path)
    have = f"{human_bytes(free)} free" if free is not None else "no space left"
    need = f", about {human_bytes(needed)} needed" if needed else ""
    return OutputError(
        f"the disk is full writing {str(path)!r} ({have}{need})",
        value=str(path),
        hint="free some space or choose a location on another disk",
    )


@contextmanager
def writing(path: str | os.PathLike[str], needed: int | None = None) -> Iterator[None]:
    """Turn a full disk or a denied write while writing ``path`` into an :class:`OutputError`."""
    try:
        yield
    except RoadsegError:
        raise
    except Exception as exc:
        if is_disk_full(exc) or _nearly_full(path):
            raise disk_full_error(path, needed) from exc
        if isinstance(exc, PermissionError):
            raise OutputError(
                f"cannot write {str(path)!r} (permission denied)",
                value=str(path),
                hint="choose a writable location",
            ) from exc
        raise


def _nearly_full(path: str | os.PathLike[str]) -> bool:
    free = free_bytes(path)
    return free is not None and free < NEARLY_FULL


def publish(tmp: Path, final: Path) -> None:
    """Move a finished temporary file to its final name (or hand it to the running OutputSet)."""
    txn = current()
    if txn is not None:
        txn.add(tmp, final)
        return
    with writing(final):
        os.replace(tmp, final)


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``path``, on failure delete it.

    Inside an :class:`~roadseg.geo.staging.OutputSet` the rename waits for the set's commit.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_output(d / "x.txt") as tmp:
        ...     _ = tmp.write_text("hi")
        >>> (d / "x.txt").read_text()
        'hi'

    """
    final = check_writable(path)
    tmp = temp_path_for(final)
    try:
        with writing(final):
            yield tmp
        publish(tmp, final)
    except BaseException:
        remove(tmp)
        raise
    finally:
        remove_sidecars(tmp)


def remove_sidecars(p: Path) -> None:
    """Delete the side files drivers write beside ``p`` (GeoPackage -wal/-shm, .aux.xml)."""
    for s in SIDE_SUFFIXES:
        remove(p.with_name(p.name + s))


def remove(p: Path) -> None:
    """Delete a file if it exists (errors ignored: cleaning up never hides the real error)."""
    try:
        p.unlink()
    except OSError:
        pass
