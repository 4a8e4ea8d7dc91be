"""What the model's classes mean and how a model is described to the user."""

from __future__ import annotations

from typing import Any

from .estimate import fmt_gsd
from .i18n import tr


def class_help(name: str) -> str:
    """Return what a road class of roadseg's models holds ("" for a class it does not know).

    >>> class_help("track")
    'unpaved cart and farm tracks'
    """
    meanings = {
        "major": tr("main roads: motorways, trunk, primary and secondary roads"),
        "minor": tr("streets: tertiary, residential, unclassified and service roads"),
        "track": tr("unpaved cart and farm tracks"),
        "road": tr("any road"),
    }
    return meanings.get(name.lower(), "")


def class_lines(info: dict[str, Any]) -> list[str]:
    """One line per road class: its name, what it holds and its typical width.

    >>> class_lines({"classes": ["background", "major", "x"], "widths_m": [0, 12, 5]})
    ['major — main roads: motorways, trunk, primary and secondary roads, about 12 m wide', \
'x — about 5 m wide']
    """
    names = [str(c) for c in info.get("classes") or []][1:]
    widths = list(info.get("widths_m") or [])
    lines = []
    for i, name in enumerate(names, start=1):
        parts = [p for p in (class_help(name),) if p]
        width = widths[i] if i < len(widths) else None
        if isinstance(width, int | float) and width > 0:
            parts.append(tr("about {width:g} m wide").format(width=float(width)))
        lines.append(f"{name} — {', '.join(parts)}" if parts else name)
    return lines


def describe(info: dict[str, Any] | None) -> str:
    """One line about a model: classes, resolution, tile size.

    >>> describe({"classes": ["background", "major", "minor"], "gsd_m": 0.5, "tile_size": 512})
    'Classes: major, minor · 0.5 m/px · tile 512 px'
    """
    if not info:
        return tr("No model information.")
    classes = [str(c) for c in info.get("classes", [])[1:]]
    parts = [tr("Classes: {classes}").format(classes=", ".join(classes) if classes else "?")]
    if info.get("gsd_m"):
        parts.append(f"{fmt_gsd(float(info['gsd_m']))} m/px")
    if info.get("tile_size"):
        parts.append(tr("tile {tile} px").format(tile=int(info["tile_size"])))
    return " · ".join(parts)
