#!/usr/bin/env python3
"""Collect the plugin's texts into a Qt Linguist file: qgis_plugin/i18n/roadseg_<LANG>.ts.

Every user-visible text of the plugin goes through ``tr("…")`` (``core/i18n.py``,
one context: ``roadseg``). This script finds those calls in the plugin's sources and
writes (or updates, keeping translations already made) the ``.ts`` file of a
language. Translate it with Qt Linguist, then compile it next to it:

    python scripts/i18n_template.py de          # writes qgis_plugin/i18n/roadseg_de.ts
    linguist qgis_plugin/i18n/roadseg_de.ts     # translate
    lrelease qgis_plugin/i18n/roadseg_de.ts     # writes roadseg_de.qm, which the plugin loads

A ``tr()`` whose argument is not a plain string (an f-string, a variable) cannot be
translated: the script names it and exits with status 1.
"""

from __future__ import annotations

import argparse
import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "qgis_plugin"
CONTEXT = "roadseg"


class TranslationError(Exception):
    """A ``tr()`` call cannot be extracted (message names the file and line)."""


def _is_tr(node: ast.Call) -> bool:
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "tr") or (
        isinstance(f, ast.Attribute) and f.attr == "tr"
    )


def collect(plugin: Path = PLUGIN) -> list[tuple[str, str, int]]:
    """Return (text, file, line) for every ``tr("…")`` call, in source order.

    Raises:
        TranslationError: for a ``tr()`` whose argument is not a string literal.

    """
    found: list[tuple[str, str, int]] = []
    problems: list[str] = []
    for py in sorted(plugin.rglob("*.py")):
        tree = ast.parse(py.read_text(encoding="utf-8"), str(py))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _is_tr(node)):
                continue
            if isinstance(node.func, ast.Name) and not node.args:
                continue
            arg = node.args[0] if node.args else None
            rel = py.relative_to(plugin).as_posix()
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, rel, node.lineno))
            elif not (py.name == "i18n.py" or rel.endswith("base.py")):
                problems.append(f"{rel}:{node.lineno}: tr() needs a plain string literal")
    if problems:
        raise TranslationError("\n".join(problems))
    found.sort(key=lambda t: (t[1], t[2]))
    return found


def write_ts(path: Path, language: str, messages: list[tuple[str, str, int]]) -> int:
    """Write (or update) a .ts file; return the number of distinct texts."""
    done: dict[str, str] = {}
    if path.is_file():
        for msg in ET.parse(path).getroot().iter("message"):
            source = msg.findtext("source") or ""
            translation = msg.find("translation")
            if translation is not None and translation.text and not translation.get("type"):
                done[source] = translation.text
    root = ET.Element("TS", version="2.1", language=language)
    ctx = ET.SubElement(root, "context")
    ET.SubElement(ctx, "name").text = CONTEXT
    seen: dict[str, ET.Element] = {}
    for text, rel, line in messages:
        msg = seen.get(text)
        if msg is None:
            msg = ET.Element("message")
            seen[text] = msg
        ET.SubElement(msg, "location", filename=f"../{rel}", line=str(line))
    for text, msg in seen.items():
        ET.SubElement(msg, "source").text = text
        tr_el = ET.SubElement(msg, "translation")
        if text in done:
            tr_el.text = done[text]
        else:
            tr_el.set("type", "unfinished")
        ctx.append(msg)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ET.tostring(root, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n")
    return len(seen)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("language", help="language code, e.g. de or pt_BR")
    ap.add_argument("--out-dir", type=Path, default=PLUGIN / "i18n")
    args = ap.parse_args(argv)
    try:
        messages = collect()
    except TranslationError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    path = args.out_dir / f"roadseg_{args.language}.ts"
    n = write_ts(path, args.language, messages)
    print(f"{path}: {n} texts; translate with linguist, then: lrelease {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
