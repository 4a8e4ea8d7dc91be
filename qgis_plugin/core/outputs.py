"""Where a run writes: a hidden staging folder, moved into place only on success.

The engine already writes each file atomically; staging the whole run as well
means a cancelled, failed or killed run leaves nothing in the output folder, and
a finished run never leaves a class raster the user did not ask for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

STAGE_PREFIX = ".roadseg-partial-"


@dataclass(frozen=True)
class RunPaths:
    """The files of one run.

    Attributes:
        output_dir: The user's output folder.
        stage_dir: Hidden folder inside it that the engine writes to.
        stem: File stem of the run (``roads_<raster>_<stamp>``).

    """

    output_dir: Path
    stage_dir: Path
    stem: str

    @property
    def staged_raster(self) -> Path:
        """Class raster as the engine writes it."""
        return self.stage_dir / f"{self.stem}.tif"

    @property
    def staged_vectors(self) -> Path:
        """GeoPackage as the engine writes it."""
        return self.stage_dir / f"{self.stem}.gpkg"

    @property
    def raster(self) -> Path:
        """Final class raster."""
        return self.output_dir / f"{self.stem}.tif"

    @property
    def vectors(self) -> Path:
        """Final GeoPackage."""
        return self.output_dir / f"{self.stem}.gpkg"


def check_output_dir(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and check that files can be written there.

    Raises:
        InputError: naming the folder and the fix.

    """
    p = Path(folder).expanduser()
    if p.exists() and not p.is_dir():
        raise InputError(f"The output folder {str(p)!r} is a file: choose a folder.")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".roadseg-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"Cannot write to the output folder {str(p)!r} ({exc.strerror or exc}): "
            "choose a writable folder or tick 'Temporary folder'."
        ) from None
    return p


def unique_stem(output_dir: Path, base: str) -> str:
    """Return ``base``, or ``base_2``, ``base_3``... so that no existing output is replaced.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "roads_a.gpkg").touch()
    >>> unique_stem(d, "roads_a")
    'roads_a_2'
    """
    stem, n = base, 1
    while any((output_dir / f"{stem}{ext}").exists() for ext in (".gpkg", ".tif")):
        n += 1
        stem = f"{base}_{n}"
    return stem


def plan_run(output_dir: str | os.PathLike[str], base_stem: str) -> RunPaths:
    """Check the folder, create the staging folder and name the run's files."""
    out = check_output_dir(output_dir)
    stem = unique_stem(out, base_stem)
    stage = out / f"{STAGE_PREFIX}{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir()
    except OSError as exc:
        raise InputError(f"Cannot create {str(stage)!r} ({exc.strerror}).") from None
    return RunPaths(out, stage, stem)


def commit(
    paths: RunPaths, keep_raster: bool, keep_vectors: bool
) -> tuple[Path | None, Path | None]:
    """Move the finished files into the output folder; drop the staging folder.

    Returns:
        (class raster, GeoPackage) final paths, None for those not kept.

    """
    raster = vectors = None
    if keep_vectors and paths.staged_vectors.exists():
        os.replace(paths.staged_vectors, paths.vectors)
        vectors = paths.vectors
    if keep_raster and paths.staged_raster.exists():
        os.replace(paths.staged_raster, paths.raster)
        raster = paths.raster
    discard(paths)
    return raster, vectors


def discard(paths: RunPaths) -> None:
    """Delete the staging folder and everything in it."""
    shutil.rmtree(paths.stage_dir, ignore_errors=True)


def temporary_output_dir() -> Path:
    """Return a per-session temporary output folder."""
    return Path(tempfile.gettempdir()) / "roadseg-qgis"
