"""Layer styles from a model's classes: colours, polygon fills, centreline widths.

Pure: the ``gui.layers`` module turns these specs into QGIS symbols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RGB = tuple[int, int, int]

#: Colours used when a model or raster carries none (road classes 1..n).
FALLBACK_COLORS: tuple[RGB, ...] = (
    (230, 85, 13),
    (253, 174, 107),
    (140, 109, 49),
    (49, 130, 189),
    (117, 107, 177),
    (49, 163, 84),
)
FALLBACK_WIDTH_M = 6.0


@dataclass(frozen=True)
class ClassStyle:
    """Style of one road class.

    Attributes:
        index: Class id in the class raster (1..K-1; 0 is background).
        name: Class name (``"major"``, ``"road"``...).
        rgb: Class colour.
        width_m: Typical road width of the class in metres.

    """

    index: int
    name: str
    rgb: RGB
    width_m: float = FALLBACK_WIDTH_M

    @property
    def hex(self) -> str:
        """Colour as ``#rrggbb``.

        >>> ClassStyle(1, "major", (230, 85, 13)).hex
        '#e6550d'
        """
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)

    @property
    def outline_rgb(self) -> RGB:
        """A darker shade of the colour for outlines.

        >>> ClassStyle(1, "a", (200, 100, 50)).outline_rgb
        (130, 65, 32)
        """
        r, g, b = self.rgb
        return (int(r * 0.65), int(g * 0.65), int(b * 0.65))

    @property
    def line_width_mm(self) -> float:
        """Centreline width on screen, growing with the road width (0.4 to 1.8 mm).

        >>> ClassStyle(1, "major", (0, 0, 0), 10.0).line_width_mm
        1.2
        >>> ClassStyle(3, "track", (0, 0, 0), 3.0).line_width_mm
        0.57
        """
        return round(min(1.8, max(0.4, 0.3 + 0.09 * self.width_m)), 2)

    @property
    def polygon_layer(self) -> str:
        """Name of the class's polygon layer in the engine's GeoPackage."""
        return f"roads_{self.name}"


@dataclass(frozen=True)
class ClassScheme:
    """The road classes of a run (background excluded)."""

    classes: tuple[ClassStyle, ...]

    def by_name(self, name: str) -> ClassStyle | None:
        """Return the class called ``name`` (None if absent)."""
        return next((c for c in self.classes if c.name == name), None)

    def by_index(self, index: int) -> ClassStyle | None:
        """Return the class with id ``index`` (None if absent)."""
        return next((c for c in self.classes if c.index == index), None)

    @property
    def names(self) -> list[str]:
        """Road class names in id order."""
        return [c.name for c in self.classes]


def _rgb(value: Any, fallback: RGB) -> RGB:
    try:
        r, g, b = (int(v) for v in list(value)[:3])
    except (TypeError, ValueError):
        return fallback
    return (max(0, min(255, r)), max(0, min(255, g)), max(0, min(255, b)))


def scheme_from_lists(
    names: Sequence[str],
    colors: Sequence[Any] | None = None,
    widths_m: Sequence[Any] | None = None,
) -> ClassScheme:
    """Build a scheme from the model/raster lists (index 0 is background and skipped).

    >>> s = scheme_from_lists(["background", "major", "minor"],
    ...                       [[0, 0, 0], [255, 0, 0], [0, 0, 255]],
    ...                       [0, 12, 6])
    >>> [(c.index, c.name, c.hex, c.width_m) for c in s.classes]
    [(1, 'major', '#ff0000', 12.0), (2, 'minor', '#0000ff', 6.0)]
    """
    colors = list(colors or [])
    widths = list(widths_m or [])
    out = []
    for i, name in enumerate(names):
        if i == 0:
            continue
        fallback = FALLBACK_COLORS[(i - 1) % len(FALLBACK_COLORS)]
        rgb = _rgb(colors[i], fallback) if i < len(colors) else fallback
        try:
            width = float(widths[i]) if i < len(widths) and widths[i] else FALLBACK_WIDTH_M
        except (TypeError, ValueError):
            width = FALLBACK_WIDTH_M
        out.append(ClassStyle(i, str(name), rgb, width))
    return ClassScheme(tuple(out))


def scheme_from_info(info: dict[str, Any] | None) -> ClassScheme | None:
    """Scheme from a model description (``roadseg models --json`` entry) or result layers.

    >>> info = {"classes": ["background", "road"], "colors": [[0, 0, 0], [9, 9, 9]]}
    >>> scheme_from_info(info).names
    ['road']
    >>> scheme_from_info({}) is None
    True
    """
    if not info:
        return None
    names = info.get("classes")
    if not isinstance(names, list) or len(names) < 2:
        return None
    widths = info.get("widths_m") or info.get("widths")
    return scheme_from_lists([str(n) for n in names], info.get("colors"), widths)


def scheme_from_layer_names(layer_names: Sequence[str]) -> ClassScheme:
    """Return a fallback scheme from the GeoPackage's ``roads_<class>`` layer names.

    >>> scheme_from_layer_names(["centerlines", "roads_major", "roads_track"]).names
    ['major', 'track']
    """
    names = [n[len("roads_") :] for n in layer_names if n.startswith("roads_")]
    return scheme_from_lists(["background", *names])
