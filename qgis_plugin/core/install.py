"""*Install engine*: the commands that make the plugin's own engine environment.

The engine needs PyTorch, rasterio… which must never go into QGIS's own Python.
*Install engine* creates a virtual environment in the QGIS profile
(``<profile>/roadseg/engine-venv``, found third in the engine search order) and
pip-installs roadseg into it from a wheel file or a package index the user gives.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .engine import ENGINE_BELOW_VERSION, ENGINE_MIN_VERSION, venv_program
from .errors import InputError
from .i18n import tr

#: Folder of the plugin's data inside the QGIS profile, and its engine environment.
PROFILE_SUBDIR = "roadseg"
VENV_NAME = "engine-venv"
#: What pip installs from an index: a roadseg this plugin works with.
REQUIREMENT = f"roadseg>={ENGINE_MIN_VERSION},<{ENGINE_BELOW_VERSION}"


def engine_venv_dir(profile_dir: str | os.PathLike[str]) -> Path:
    """Return the plugin's engine environment inside a QGIS profile folder.

    >>> engine_venv_dir("/home/a/.local/share/QGIS/QGIS3/profiles/default").name
    'engine-venv'
    """
    return Path(profile_dir) / PROFILE_SUBDIR / VENV_NAME


def default_python(executable: str | None = None, search_path: str | None = None) -> str:
    """Return a Python interpreter to build the environment with ("" when none is found).

    QGIS's own ``sys.executable`` is often the QGIS program itself; only a program
    called ``python…`` is taken, else ``python3`` on ``PATH``.
    """
    exe = executable if executable is not None else sys.executable
    if exe and Path(exe).name.lower().startswith("python") and Path(exe).is_file():
        return exe
    for name in ("python3", "python"):
        found = shutil.which(name, path=search_path)
        if found:
            return found
    return ""


@dataclass(frozen=True)
class InstallPlan:
    """How to install the engine.

    Attributes:
        python: The interpreter that creates the environment.
        venv: The environment's folder.
        source: A wheel file, or a package index URL.
        system_site_packages: Let the environment see the interpreter's packages (e.g. a
            PyTorch already installed system-wide).
        pip_options: Extra pip options (``--no-index``, ``--find-links DIR``, ``-c FILE``…).

    """

    python: str
    venv: Path
    source: str
    system_site_packages: bool = False
    pip_options: tuple[str, ...] = ()

    @property
    def from_index(self) -> bool:
        """Whether the source is a package index (else a wheel file)."""
        return re.match(r"^(https?|file)://", self.source) is not None

    def commands(self) -> list[list[str]]:
        """The commands to run, in order.

        >>> p = InstallPlan("/usr/bin/python3", Path("/p/engine-venv"), "/w/roadseg.whl", True,
        ...                 ("--no-deps",))
        >>> [c[1:4] for c in p.commands()]
        [['-m', 'venv', '--system-site-packages'], ['-m', 'pip', 'install']]
        >>> p.commands()[1][-2:]
        ['--no-deps', '/w/roadseg.whl']
        """
        make = [self.python, "-m", "venv"]
        if self.system_site_packages:
            make.append("--system-site-packages")
        make.append(str(self.venv))
        pip = [
            str(venv_program(self.venv, "python")),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
        ]
        if self.from_index:
            pip += ["--index-url", self.source, *self.pip_options, REQUIREMENT]
        else:
            pip += [*self.pip_options, self.source]
        return [make, pip]

    @property
    def engine(self) -> Path:
        """The ``roadseg`` program the installation makes."""
        return venv_program(self.venv, "roadseg")


def make_plan(
    python: str,
    venv: Path,
    source: str,
    system_site_packages: bool = False,
    pip_options: Sequence[str] = (),
) -> InstallPlan:
    """Check the user's choices and return the plan.

    Raises:
        InputError: naming what is wrong and the fix.

    """
    source = source.strip()
    if not python or not Path(python).is_file():
        raise InputError(
            tr("Choose a Python 3.11 or newer interpreter to create the environment with.")
        )
    if not source:
        raise InputError(tr("Choose a roadseg wheel file (.whl) or give a package index URL."))
    plan = InstallPlan(python, venv, source, system_site_packages, tuple(pip_options))
    if not plan.from_index:
        wheel = Path(source)
        if not wheel.is_file() or wheel.suffix != ".whl":
            raise InputError(
                tr(
                    "{source} is not a wheel file: choose a roadseg-….whl file or an index URL."
                ).format(source=repr(source))
            )
        if not wheel.name.lower().startswith("roadseg-"):
            raise InputError(
                tr("{name} is not a roadseg wheel (its name must start with roadseg-).").format(
                    name=repr(wheel.name)
                )
            )
    return plan


def pip_progress(line: str, percent: float) -> float:
    """Advance the install's progress bar on pip's milestones (never backwards).

    >>> pip_progress("Processing ./roadseg-0.1.0-py3-none-any.whl", 20.0)
    30.0
    >>> pip_progress("Installing collected packages: roadseg", 30.0)
    80.0
    """
    steps = (
        ("Processing ", 30.0),
        ("Collecting ", 30.0),
        ("Downloading ", 40.0),
        ("Installing collected packages", 80.0),
        ("Successfully installed", 90.0),
    )
    for prefix, value in steps:
        if line.lstrip().startswith(prefix):
            return max(percent, value)
    return percent
