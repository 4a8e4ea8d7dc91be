"""Atomic outputs: write to a temporary name beside the target, rename on success.

A cancelled, failed or killed run never leaves a half-written file under the
final name, and an existing file is only replaced once the new one is complete.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from roadseg.errors import OutputError


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be created; create its parent folders if missing.

    Raises:
        OutputError: naming the path when the folder cannot be written (the caller
            names the parameter with :func:`roadseg.errors.about`).

    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {str(parent)!r} for {str(p)!r} ({exc.strerror})",
            value=str(p),
            hint="choose a writable location",
        ) from None
    if not os.access(parent, os.W_OK):
        raise OutputError(
            f"the folder {str(parent)!r} for {str(p)!r} is not writable",
            value=str(p),
            hint="choose a writable location",
        )
    if p.is_dir():
        raise OutputError(f"{str(p)!r} is a folder", value=str(p), hint="give a file name")
    return p


def temp_path_for(path: str | os.PathLike[str]) -> Path:
    """A hidden temporary name in the same folder (same file system: rename is atomic).

    >>> temp_path_for("/a/b/out.tif").name.startswith(".out.")
    True
    """
    p = Path(path)
    return p.with_name(f".{p.stem}.{uuid.uuid4().hex[:8]}.tmp{p.suffix}")


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``path``, on failure delete it.

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
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        # Side files some drivers write (e.g. GeoPackage -wal/-shm, .aux.xml).
        for extra in (
            tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal", ".aux.xml")
        ):
            _remove(extra)


def _remove(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass
