"""From user inputs to scenes: class scheme, mask colour/value maps, opened image/label pairs.

The class scheme comes from ``classes`` (a preset), ``class_map`` (raw
attribute values → classes), ``mask_colors``/``mask_values`` (mask codes →
class names) or, with ``classes="auto"``, from the label file: a preset whose
attribute the file has (``road_class`` → synth, ``road_type`` → spacenet,
``highway`` → osm), else road / not road.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadseg.data.labelmap import ANY_ROAD, ANY_ROAD_NAMES, IGNORE, IGNORE_NAMES
from roadseg.errors import ConfigError, DataError
from roadseg.geo.classes import PRESETS, ClassScheme, parse_class_map
from roadseg.geo.labels import RASTER_SUFFIXES, LabelSource, open_labels
from roadseg.geo.raster import RasterSource, open_raster

RGB = tuple[int, int, int]
_DEFAULT_WIDTH = 7.0
_PALETTE: tuple[RGB, ...] = (
    (255, 140, 0),
    (253, 208, 35),
    (140, 81, 10),
    (31, 120, 180),
    (51, 160, 44),
    (227, 26, 28),
)


@dataclass(frozen=True)
class MaskOptions:
    """How raster masks map to classes (colour codes, values or a threshold)."""

    colors: dict[RGB, int] | None = None
    values: dict[int, int] | None = None
    threshold: float | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~roadseg.geo.labels.MaskLabels`."""
        return {"colors": self.colors, "values": self.values, "threshold": self.threshold}


def _entries(text: str, param: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, (p.strip() for p in text.replace("\n", ";").split(";"))):
        if "=" not in part:
            raise ConfigError(
                f"`{param}` entry {part!r} must be CODE=CLASS, e.g. 110,193,228=road",
                param=param,
                value=text,
            )
        code, name = (s.strip() for s in part.rsplit("=", 1))
        out.append((code, name))
    return out


def parse_mask_colors(text: str) -> list[tuple[RGB, str]]:
    """``"110,193,228=road; 60,16,152=building"`` → ``[((110,193,228), "road"), ...]``.

    >>> parse_mask_colors("110,193,228=road")
    [((110, 193, 228), 'road')]
    """
    out = []
    for code, name in _entries(text, "mask_colors"):
        try:
            rgb = tuple(int(v) for v in code.replace(" ", "").split(","))
        except ValueError:
            rgb = ()
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise ConfigError(
                f"`mask_colors` code {code!r} must be R,G,B with values 0..255",
                param="mask_colors",
                value=text,
            )
        out.append(((rgb[0], rgb[1], rgb[2]), name))
    return out


def parse_mask_values(text: str) -> list[tuple[int, str]]:
    """``"255=road;128=track"`` (or comma-separated) → ``[(255, "road"), (128, "track")]``.

    >>> parse_mask_values("255=road,1=road")
    [(255, 'road'), (1, 'road')]
    """
    out = []
    for part in _entries(text.replace(",", ";"), "mask_values"):
        try:
            out.append((int(float(part[0])), part[1]))
        except ValueError:
            raise ConfigError(
                f"`mask_values` code {part[0]!r} must be a number, e.g. 255=road",
                param="mask_values",
                value=text,
            ) from None
    return out


def _no_road(param: str, text: str) -> None:
    raise ConfigError(
        f"`{param}` names no road class",
        param=param,
        value=text,
        hint="map at least one code to a road class, e.g. 110,193,228=road",
    )


def _scheme_from_names(
    codes: Sequence[tuple[Any, str]], preset: ClassScheme | None, param: str, text: str
) -> tuple[ClassScheme, dict[Any, int]]:
    """Class scheme + code → class index from ``(code, class name or index)`` pairs.

    ``param`` and ``text`` (the option and its value) name the option in errors.
    """
    if preset is not None:
        lower = [n.lower() for n in preset.names]
        mapping = {}
        for code, name in codes:
            n = name.strip().lower()
            if name.isdigit() and int(name) < preset.num_classes:
                mapping[code] = int(name)
            elif n in lower:
                mapping[code] = lower.index(n)
            elif n in IGNORE_NAMES:
                mapping[code] = IGNORE
            elif n in ANY_ROAD_NAMES:
                mapping[code] = 1 if preset.binary else ANY_ROAD
            else:
                raise ConfigError(
                    f"`{param}` class {name!r} is not one of {', '.join(preset.names)} "
                    "(or road, ignore)",
                    param=param,
                    value=text,
                    hint=f"name each code's class as one of {', '.join(preset.names)}, road "
                    "or ignore, e.g. 1=road,255=ignore",
                )
        if not any(v not in (0, IGNORE) for v in mapping.values()):
            _no_road(param, text)
        return preset, mapping
    names: list[str] = ["background"]
    colors: list[RGB] = [(0, 0, 0)]
    mapping = {}
    for code, name in codes:
        n = name.strip()
        if n.lower() in ("background", "bg", "0"):
            mapping[code] = 0
            continue
        if n.lower() in IGNORE_NAMES:
            mapping[code] = IGNORE
            continue
        if n not in names:
            names.append(n)
            colors.append(
                code if isinstance(code, tuple) else _PALETTE[(len(names) - 2) % len(_PALETTE)]
            )
        mapping[code] = names.index(n)
    if len(names) < 2:
        _no_road(param, text)
    return ClassScheme(
        tuple(names), tuple(colors), (0.0,) + (_DEFAULT_WIDTH,) * (len(names) - 1)
    ), mapping


def resolve_scheme(
    classes: str,
    first_labels: Path | None,
    class_field: str | None = None,
    class_map: str | None = None,
    mask_colors: str | None = None,
    mask_values: str | None = None,
    mask_threshold: float | None = None,
    target: ClassScheme | None = None,
) -> tuple[ClassScheme, MaskOptions]:
    """The class scheme and mask options for the inputs.

    ``target`` (the model's classes, in multi-source training) is the scheme that
    mask codes name classes of; it wins over ``classes`` for colour/value maps.
    """
    preset = None if classes in (None, "auto") else ClassScheme.preset(classes)
    if target is not None and (mask_colors or mask_values):
        preset = target
    if mask_colors:
        scheme, mapping = _scheme_from_names(
            parse_mask_colors(mask_colors), preset, "mask_colors", mask_colors
        )
        return scheme, MaskOptions(colors=mapping)
    if mask_values:
        scheme, mapping = _scheme_from_names(
            parse_mask_values(mask_values), preset, "mask_values", mask_values
        )
        return scheme, MaskOptions(values=mapping)
    is_mask = first_labels is not None and first_labels.suffix.lower() in RASTER_SUFFIXES
    if is_mask or first_labels is None:
        scheme = preset or ClassScheme.preset("binary")
        return scheme, MaskOptions(threshold=mask_threshold)
    if preset is None:
        preset = _detect_preset(first_labels, class_field, class_map)
    scheme = preset
    if class_map:
        scheme = scheme.with_values(parse_class_map(class_map, scheme), class_field or scheme.field)
    if class_field:
        scheme = scheme.with_field(class_field)
    return scheme, MaskOptions()


def _detect_preset(path: Path, class_field: str | None, class_map: str | None) -> ClassScheme:
    import pyogrio

    try:
        fields = [str(f) for f in pyogrio.read_info(path)["fields"]]
    except Exception:  # noqa: BLE001 - the labels module reports unreadable files clearly
        fields = []
    for name in ("synth", "spacenet", "osm"):
        p = PRESETS[name]
        if (class_field or p.field) == p.field and p.field in fields:
            return p
    if class_map:
        return ClassScheme.preset("roads3")
    if class_field:
        raise ConfigError(
            f"`class_field` {class_field!r}: its values map to no class",
            param="class_field",
            value=class_field,
            hint="say how with `classes` (synth, spacenet, osm, roads3, binary) or "
            "`class_map` VALUE=CLASS,...",
        )
    return ClassScheme.preset("binary")


def round_gsd(g: float) -> float:
    """A raster's ground resolution rounded to two significant digits.

    >>> round_gsd(0.30412), round_gsd(1.19), round_gsd(0.5)
    (0.3, 1.2, 0.5)
    """
    if g <= 0 or not math.isfinite(g):
        raise DataError(f"invalid ground resolution {g}")
    return float(f"{g:.2g}")


def open_pair(
    image: str | os.PathLike[str],
    labels: str | os.PathLike[str],
    scheme: ClassScheme,
    mask: MaskOptions,
    bands: Sequence[int] | None = None,
    image_gsd: float | None = None,
    class_field: str | None = None,
) -> tuple[RasterSource, LabelSource]:
    """Open one imagery raster and its labels (vector or mask), with clear errors."""
    raster = open_raster(image, bands=bands, gsd=image_gsd)
    raster.require_georeference("image_gsd")
    lab: LabelSource
    lab = open_labels(labels, scheme, raster, class_field=class_field, **mask.as_kwargs())
    grid = getattr(lab, "grid", None)
    if (
        grid is not None
        and raster.grid.crs is None
        and (grid.width, grid.height) != (raster.width, raster.height)
    ):
        raise DataError(
            f"mask {str(labels)!r} is {grid.width}x{grid.height} px but image {str(image)!r} is "
            f"{raster.width}x{raster.height}; pair each image with its own mask"
        )
    return raster, lab


def raster_gsd(raster: RasterSource) -> float:
    """Mean ground resolution (m/px) of a raster."""
    gx, gy = raster.gsd_m()
    return math.sqrt(gx * gy)
