"""Finding the ``roadseg`` engine command and the environment it runs in.

The engine lives in its own Python environment (torch, rasterio...); the plugin
only needs its command. Search order:

1. the ``ROADSEG_ENGINE`` environment variable,
2. the command saved in the plugin settings,
3. ``roadseg`` next to the running Python (QGIS started from the engine's venv),
4. ``roadseg`` on ``PATH``,
5. ``.venv/bin/roadseg`` in the QGIS project's folder or a parent of it, or beside
   the plugin's source folder (a development checkout).

An explicitly configured command (1 or 2) that does not exist is an error: the
plugin never silently runs another engine than the one the user chose.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import EngineNotFoundError

ENV_VAR = "ROADSEG_ENGINE"
EXE_NAMES: tuple[str, ...] = ("roadseg.exe", "roadseg") if os.name == "nt" else ("roadseg",)
VENV_BIN = "Scripts" if os.name == "nt" else "bin"

INSTALL_HELP = (
    "Install the roadseg engine in its own Python environment (in a roadseg checkout: "
    "`make setup`, which creates .venv/bin/roadseg; or `python3 -m venv ~/roadseg-env && "
    "~/roadseg-env/bin/pip install ./roadseg`), then give its `roadseg` command in "
    "Plugins ▸ roadseg ▸ Settings (or set the ROADSEG_ENGINE environment variable) and "
    "press 'Test engine'."
)

#: Variables QGIS may set that break the engine's own GDAL/PROJ/Python.
STRIPPED_ENV: tuple[str, ...] = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PROJ_LIB",
    "PROJ_DATA",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "QGIS_PREFIX_PATH",
)


@dataclass(frozen=True)
class EngineCommand:
    """A resolved engine command.

    Attributes:
        argv: The command (a program, possibly with leading arguments such as
            ``python -m roadseg.cli.main``).
        source: Where it was found (for the settings dialog).

    """

    argv: tuple[str, ...]
    source: str

    @property
    def text(self) -> str:
        """The command as one line."""
        return " ".join(shlex.quote(a) for a in self.argv)


def split_command(text: str) -> tuple[str, ...]:
    """Split a configured command into arguments (quotes allowed).

    >>> split_command("'/opt/my env/bin/roadseg'")
    ('/opt/my env/bin/roadseg',)
    >>> split_command('"/usr/bin/python3" -m roadseg.cli.main')
    ('/usr/bin/python3', '-m', 'roadseg.cli.main')
    """
    text = text.strip()
    if not text:
        return ()
    if Path(text).exists():  # a path with spaces, unquoted
        return (text,)
    return tuple(shlex.split(text, posix=os.name != "nt"))


def _runnable(program: str, search_path: str | None) -> bool:
    p = Path(program)
    if p.is_absolute() or os.sep in program:
        return p.is_file() and os.access(p, os.X_OK)
    return shutil.which(program, path=search_path) is not None


def _explicit(text: str, source: str, search_path: str | None) -> EngineCommand:
    argv = split_command(text)
    if not argv or not _runnable(argv[0], search_path):
        raise EngineNotFoundError(
            f"The roadseg engine set by {source} ({text!r}) does not exist or cannot be run. "
            + INSTALL_HELP
        )
    return EngineCommand(argv, source)


def _in_dir(folder: Path) -> Path | None:
    for name in EXE_NAMES:
        cand = folder / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def find_engine(
    configured: str | None = None,
    env: Mapping[str, str] | None = None,
    python_executable: str | None = None,
    search_path: str | None = None,
    project_dirs: Iterable[str | os.PathLike[str]] = (),
) -> EngineCommand:
    """Resolve the engine command (see the module docstring for the order).

    Args:
        configured: Command saved in the plugin settings ("" or None = auto).
        env: Environment (defaults to ``os.environ``).
        python_executable: The running Python (``sys.executable``).
        search_path: ``PATH`` to search (defaults to ``env["PATH"]``).
        project_dirs: Folders whose ``.venv`` (or a parent's) may hold the engine.

    Raises:
        EngineNotFoundError: with installation instructions.

    """
    env = os.environ if env is None else env
    path = env.get("PATH", "") if search_path is None else search_path
    if env.get(ENV_VAR, "").strip():
        return _explicit(env[ENV_VAR], f"the {ENV_VAR} environment variable", path)
    if configured and configured.strip():
        return _explicit(configured, "the plugin settings", path)
    if python_executable:
        exe = Path(python_executable)
        for folder in (exe.parent, exe.parent / VENV_BIN):
            found = _in_dir(folder)
            if found:
                return EngineCommand((str(found),), "next to the running Python")
    for name in EXE_NAMES:
        on_path = shutil.which(name, path=path or None) if path else None
        if on_path:
            return EngineCommand((on_path,), "PATH")
    for d in project_dirs:
        if not d:
            continue
        start = Path(d).resolve()
        for folder in (start, *list(start.parents)[:3]):
            found = _in_dir(folder / ".venv" / VENV_BIN)
            if found:
                return EngineCommand((str(found),), f"the .venv in {folder}")
    raise EngineNotFoundError("No roadseg engine found. " + INSTALL_HELP)


def engine_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for engine processes: QGIS's, without its GDAL/PROJ/Python paths.

    >>> e = engine_env({"PATH": "/bin", "PROJ_LIB": "/qgis/proj", "PYTHONPATH": "/qgis"})
    >>> sorted(e)
    ['PATH', 'PYTHONIOENCODING', 'PYTHONUNBUFFERED']
    """
    out = {k: v for k, v in (os.environ if base is None else base).items() if k not in STRIPPED_ENV}
    out["PYTHONUNBUFFERED"] = "1"
    out["PYTHONIOENCODING"] = "utf-8"
    return out


_VERSION_RE = re.compile(r"(\d+\.\d+(?:\.\d+)?(?:[.+-]?[0-9A-Za-z.]+)?)")


def parse_version(text: str) -> str | None:
    """Return the version in ``roadseg --version`` output.

    >>> parse_version("roadseg, version 0.1.0")
    '0.1.0'
    >>> parse_version("garbage") is None
    True
    """
    m = _VERSION_RE.search(text)
    return m.group(1) if m else None


def compatible(engine_version: str, plugin_version: str) -> bool:
    """Whether engine and plugin share a major.minor version (the contract's unit).

    >>> compatible("0.1.3", "0.1.0"), compatible("0.2.0", "0.1.0")
    (True, False)
    """

    def key(v: str) -> Sequence[str]:
        return v.split(".")[:2]

    return key(engine_version) == key(plugin_version)
