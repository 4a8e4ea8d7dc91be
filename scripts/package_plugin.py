#!/usr/bin/env python3
"""Build dist/roadseg-<version>.zip, the QGIS plugin that "Install from ZIP" accepts.

The zip holds one folder, ``roadseg_qgis/``: the plugin package from
``qgis_plugin/`` (Python files, icons), ``metadata.txt`` from the repository root
and the licence. The version must equal the engine's (engine/roadseg/_version.py).

Usage:
    python scripts/package_plugin.py [--out-dir dist]
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SRC = REPO / "qgis_plugin"
PLUGIN_FOLDER = "roadseg_qgis"
REQUIRED = (
    "name",
    "qgisMinimumVersion",
    "description",
    "about",
    "version",
    "author",
    "email",
    "repository",
    "tracker",
    "homepage",
    "tags",
    "experimental",
    "icon",
    "license",
)
EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", "tests"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".tmp"}
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed: the same sources give the same zip


class PackagingError(Exception):
    """The plugin cannot be packaged as it is (message says the fix)."""


def engine_version(repo: Path = REPO) -> str:
    """The version in engine/roadseg/_version.py (read, not imported)."""
    text = (repo / "engine" / "roadseg" / "_version.py").read_text(encoding="utf-8")
    m = re.search(r"__version__\s*=\s*[\"']([^\"']+)[\"']", text)
    if not m:
        raise PackagingError("engine/roadseg/_version.py has no __version__ = '...' line")
    return m.group(1)


def read_metadata(path: Path) -> configparser.ConfigParser:
    """Parse metadata.txt and check the fields QGIS and the plugin repository need."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # keep qgisMinimumVersion's case
    if not path.is_file():
        raise PackagingError(f"{path} is missing")
    cp.read(path, encoding="utf-8")
    if not cp.has_section("general"):
        raise PackagingError(f"{path} has no [general] section")
    missing = [k for k in REQUIRED if not cp.get("general", k, fallback="").strip()]
    if missing:
        raise PackagingError(f"{path} lacks {', '.join(missing)}")
    return cp


def plugin_files(src: Path = PLUGIN_SRC) -> list[Path]:
    """The plugin's source files to ship (sorted, no caches)."""
    files = []
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if not p.is_file() or any(part in EXCLUDED_DIRS for part in rel.parts):
            continue
        if p.suffix in EXCLUDED_SUFFIXES or p.name.startswith("."):
            continue
        files.append(p)
    return files


def check_sources(files: list[Path]) -> None:
    """Compile every Python file (a syntax error would break the plugin at load)."""
    for p in files:
        if p.suffix == ".py":
            try:
                compile(p.read_text(encoding="utf-8"), str(p), "exec")
            except SyntaxError as exc:
                raise PackagingError(f"syntax error in {p}: {exc}") from None


def build(out_dir: Path, repo: Path = REPO) -> Path:
    """Build the zip and return its path."""
    version = engine_version(repo)
    meta_path = repo / "metadata.txt"
    meta = read_metadata(meta_path)
    meta_version = meta.get("general", "version")
    if meta_version != version:
        raise PackagingError(
            f"metadata.txt version {meta_version} differs from the engine version {version} "
            "(engine/roadseg/_version.py): set version={version} in metadata.txt"
        )
    src = repo / "qgis_plugin"
    files = plugin_files(src)
    if not (src / "__init__.py").is_file():
        raise PackagingError("qgis_plugin/__init__.py (with classFactory) is missing")
    icon = meta.get("general", "icon")
    if not (src / icon).is_file():
        raise PackagingError(f"metadata.txt icon={icon} is not in qgis_plugin/")
    check_sources(files)
    licence = repo / "LICENSE"
    if not licence.is_file():
        raise PackagingError(
            f"{licence} is missing: the QGIS plugin repository refuses a zip without a licence"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"roadseg-{version}.zip"
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:

        def add(data: bytes, arcname: str) -> None:
            info = zipfile.ZipInfo(f"{PLUGIN_FOLDER}/{arcname}", ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)

        for p in files:
            add(p.read_bytes(), p.relative_to(src).as_posix())
        add(meta_path.read_bytes(), "metadata.txt")
        add(licence.read_bytes(), "LICENSE")
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir", type=Path, default=REPO / "dist", help="folder for the zip (default: dist)"
    )
    args = parser.parse_args(argv)
    try:
        path = build(args.out_dir)
    except PackagingError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as zf:
        n = len(zf.namelist())
    print(
        f"{path} ({n} files, {path.stat().st_size / 1024:.0f} KiB): install it with "
        "QGIS ▸ Plugins ▸ "
        "Manage and Install Plugins ▸ Install from ZIP"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
