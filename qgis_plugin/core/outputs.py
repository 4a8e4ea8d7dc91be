"""Where a run writes: a folder of its own, staged under a hidden name until it succeeds.

Results go to ``<results folder>/<run name>/`` (``roads.gpkg``, ``road_classes.tif``,
``area.geojson``); the results folder is ``<project folder>/roadseg`` for a saved
project, else the folder the user chose once. The engine writes into a fresh hidden
staging folder beside it (so it never meets an existing file and needs no
``--overwrite``); only a finished run is renamed into place. A cancelled, failed or
killed run leaves nothing, and a finished run never leaves a class raster the user
did not ask for.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .i18n import tr

STAGE_PREFIX = ".roadseg-partial-"
#: Sub-folder of a saved project's folder that receives the runs.
PROJECT_SUBDIR = "roadseg"
RASTER_NAME = "road_classes.tif"
VECTORS_NAME = "roads.gpkg"
AREA_NAME = "area.geojson"


@dataclass(frozen=True)
class RunPaths:
    """The files of one run.

    Attributes:
        base_dir: The results folder.
        stage_dir: Hidden folder inside it that the engine writes to.
        name: The run's folder name.

    """

    base_dir: Path
    stage_dir: Path
    name: str

    @property
    def run_dir(self) -> Path:
        """The run's folder once it finished."""
        return self.base_dir / self.name

    @property
    def staged_raster(self) -> Path:
        """Class raster as the engine writes it."""
        return self.stage_dir / RASTER_NAME

    @property
    def staged_vectors(self) -> Path:
        """GeoPackage as the engine writes it."""
        return self.stage_dir / VECTORS_NAME

    @property
    def area_file(self) -> Path:
        """The polygons to map inside (polygon areas only)."""
        return self.stage_dir / AREA_NAME

    @property
    def raster(self) -> Path:
        """Final class raster."""
        return self.run_dir / RASTER_NAME

    @property
    def vectors(self) -> Path:
        """Final GeoPackage."""
        return self.run_dir / VECTORS_NAME


def project_results_dir(project_home: str) -> Path | None:
    """Return the results folder of a saved project (None for an unsaved one).

    >>> project_results_dir("/data/city").as_posix(), project_results_dir("")
    ('/data/city/roadseg', None)
    """
    return Path(project_home) / PROJECT_SUBDIR if project_home else None


def check_output_dir(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and check that files can be written there.

    Raises:
        InputError: naming the folder and the fix.

    """
    p = Path(folder).expanduser()
    if p.exists() and not p.is_dir():
        raise InputError(
            tr("The results folder {folder} is a file: choose a folder.").format(
                folder=repr(str(p))
            )
        )
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".roadseg-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            tr(
                "Cannot write to the results folder {folder} ({reason}): choose a writable folder."
            ).format(folder=repr(str(p)), reason=exc.strerror or exc)
        ) from None
    return p


def unique_name(base_dir: Path, name: str, suffix: str = "") -> str:
    """Return ``name``, or ``name_2``, ``name_3``… so that no ``name…suffix`` is replaced.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "run_a").mkdir()
    >>> unique_name(d, "run_a"), unique_name(d, "run_a", ".safetensors")
    ('run_a_2', 'run_a')
    """
    out, n = name, 1
    while (base_dir / f"{out}{suffix}").exists():
        n += 1
        out = f"{name}_{n}"
    return out


def plan_run(base_dir: str | os.PathLike[str], name: str) -> RunPaths:
    """Check the results folder, create the staging folder and name the run's folder."""
    base = check_output_dir(base_dir)
    stage = base / f"{STAGE_PREFIX}{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir()
    except OSError as exc:
        raise InputError(
            tr("Cannot create {folder} ({reason}).").format(
                folder=repr(str(stage)), reason=exc.strerror
            )
        ) from None
    return RunPaths(base, stage, unique_name(base, name))


def commit(
    paths: RunPaths, keep_raster: bool, keep_vectors: bool
) -> tuple[RunPaths, Path | None, Path | None]:
    """Drop unwanted files and rename the staging folder into the run's folder.

    Returns:
        The final paths (the run's name may have changed if another run took it),
        the class raster and the GeoPackage (None for those not kept or not written).

    """
    for wanted, path in ((keep_raster, paths.staged_raster), (keep_vectors, paths.staged_vectors)):
        if not wanted and path.exists():
            path.unlink()
    for leftover in paths.stage_dir.glob("*.part*"):
        leftover.unlink()
    final = RunPaths(paths.base_dir, paths.stage_dir, unique_name(paths.base_dir, paths.name))
    os.rename(paths.stage_dir, final.run_dir)
    raster = final.raster if keep_raster and final.raster.exists() else None
    vectors = final.vectors if keep_vectors and final.vectors.exists() else None
    return final, raster, vectors


def discard(paths: RunPaths) -> None:
    """Delete the staging folder and everything in it."""
    shutil.rmtree(paths.stage_dir, ignore_errors=True)
