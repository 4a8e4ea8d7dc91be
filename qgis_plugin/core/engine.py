"""Finding the ``roadseg`` engine command, its environment, and whether its version fits.

The engine lives in its own Python environment (torch, rasterio…); the plugin only
needs its command. Search order (the settings dialog and the README show it):

1. the command saved in the plugin settings (Plugins ▸ roadseg ▸ Settings),
2. the ``ROADSEG_ENGINE`` environment variable,
3. the plugin's own engine environment, made by *Install engine*
   (``<QGIS profile>/roadseg/engine-venv``),
4. ``roadseg`` on ``PATH``.

An explicitly configured command (1 or 2) that does not exist is an error: the
plugin never silently runs another engine than the one the user chose.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .commands import help_argv
from .errors import EngineNotFoundError
from .i18n import tr

ENV_VAR = "ROADSEG_ENGINE"
EXE_NAMES: tuple[str, ...] = ("roadseg.exe", "roadseg") if os.name == "nt" else ("roadseg",)
VENV_BIN = "Scripts" if os.name == "nt" else "bin"

#: Engine versions this plugin works with: ``ENGINE_MIN_VERSION <= version <
#: ENGINE_BELOW_VERSION``. The CLI ↔ plugin contract changes only with the minor version
#: (0.1.x engines all speak contract 1); a plugin release widens this range when a new
#: engine keeps the contract.
ENGINE_MIN_VERSION = "0.1.0"
ENGINE_BELOW_VERSION = "0.2.0"

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


def install_help() -> str:
    """Return what to do when no engine is found."""
    return tr(
        "Press 'Install engine…' in Plugins ▸ roadseg ▸ Settings to install roadseg into the "
        "plugin's own environment from a wheel file or a package index, or give the path of "
        "an existing `roadseg` program there (or in the ROADSEG_ENGINE environment variable), "
        "then press 'Test engine'."
    )


@dataclass(frozen=True)
class EngineCommand:
    """A resolved engine command.

    Attributes:
        argv: The command (a program, possibly with leading arguments such as
            ``python -m roadseg.cli.main``).
        source: Where it was found (shown in the settings dialog).

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
            tr(
                "The roadseg engine set by {source} ({command}) does not exist or cannot be run."
            ).format(source=source, command=repr(text))
            + " "
            + install_help()
        )
    return EngineCommand(argv, source)


def venv_program(venv: str | os.PathLike[str], name: str) -> Path:
    """Return ``name`` in a virtual environment's program folder (``bin`` or ``Scripts``).

    >>> venv_program("/p/engine-venv", "roadseg").as_posix()
    '/p/engine-venv/bin/roadseg'
    """
    suffix = ".exe" if os.name == "nt" else ""
    return Path(venv) / VENV_BIN / f"{name}{suffix}"


def find_engine(
    configured: str | None = None,
    env: Mapping[str, str] | None = None,
    plugin_env: str | os.PathLike[str] | None = None,
    search_path: str | None = None,
) -> EngineCommand:
    """Resolve the engine command (see the module docstring for the order).

    Args:
        configured: Command saved in the plugin settings ("" or None = search).
        env: Environment (defaults to ``os.environ``).
        plugin_env: The plugin's own engine environment (made by *Install engine*).
        search_path: ``PATH`` to search (defaults to ``env["PATH"]``).

    Raises:
        EngineNotFoundError: with what to do.

    """
    env = os.environ if env is None else env
    path = env.get("PATH", "") if search_path is None else search_path
    if configured and configured.strip():
        return _explicit(configured, tr("the plugin settings"), path)
    if env.get(ENV_VAR, "").strip():
        return _explicit(
            env[ENV_VAR], tr("the {var} environment variable").format(var=ENV_VAR), path
        )
    if plugin_env:
        exe = venv_program(plugin_env, "roadseg")
        if exe.is_file() and os.access(exe, os.X_OK):
            return EngineCommand((str(exe),), tr("the plugin's own engine environment"))
    for name in EXE_NAMES:
        on_path = shutil.which(name, path=path) if path else None
        if on_path:
            return EngineCommand((on_path,), "PATH")
    raise EngineNotFoundError(tr("No roadseg engine found.") + " " + install_help())


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


_IDENTITY_RE = re.compile(r"^roadseg, version (\S+)\s*$", re.MULTILINE)


def parse_identity(text: str) -> str | None:
    r"""Return the version in ``roadseg --version`` output; None for any other program.

    >>> parse_identity("roadseg, version 0.1.0\n")
    '0.1.0'
    >>> parse_identity("Python 3.11.2") is None, parse_identity("") is None
    (True, True)
    """
    m = _IDENTITY_RE.search(text)
    return m.group(1) if m else None


def version_key(version: str) -> tuple[int, ...]:
    """Return the numeric release part of a version for comparisons.

    >>> version_key("0.1.0"), version_key("0.2.0rc1"), version_key("1.0.dev3+g1234")
    ((0, 1, 0), (0, 2, 0), (1, 0))
    """
    parts = []
    for piece in version.split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
        if m.end() < len(piece):
            break
    return tuple(parts)


def compatible(version: str) -> bool:
    """Whether an engine version is in the range this plugin works with.

    >>> compatible("0.1.0"), compatible("0.1.7"), compatible("0.2.0"), compatible("0.0.9")
    (True, True, False, False)
    """
    key = version_key(version)
    return bool(key) and version_key(ENGINE_MIN_VERSION) <= key < version_key(ENGINE_BELOW_VERSION)


def compatible_range() -> str:
    """Return the compatible range as text (``>=0.1.0, <0.2.0``)."""
    return f">={ENGINE_MIN_VERSION}, <{ENGINE_BELOW_VERSION}"


_HELP_CACHE: dict[tuple[tuple[str, ...], str], str] = {}


def command_help(engine: Sequence[str], command: str, timeout_s: float = 60.0) -> str:
    """Return ``roadseg COMMAND --help`` (asked once per engine and command, then cached)."""
    key = (tuple(engine), command)
    if key not in _HELP_CACHE:
        try:
            proc = subprocess.run(
                help_argv(engine, command),
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout_s,
                env=engine_env(),
                stdin=subprocess.DEVNULL,
            )
            text = proc.stdout if proc.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        _HELP_CACHE[key] = text
    return _HELP_CACHE[key]


def has_option(help_text: str, option: str) -> bool:
    r"""Whether a command's ``--help`` lists ``option``.

    >>> has_option("  --overwrite   Replace outputs.\n  --json", "--overwrite")
    True
    >>> has_option("  --overwrite-all  x", "--overwrite")
    False
    """
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def supports_option(engine: Sequence[str], command: str, option: str) -> bool:
    """Whether this engine's ``COMMAND`` takes ``option`` (e.g. ``--overwrite``)."""
    return has_option(command_help(engine, command), option)
