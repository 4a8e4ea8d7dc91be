"""Which model class each road feature teaches when adapting a model (pure).

Road layers users already have carry their class in many ways, or not at all. The
rule for one layer (:class:`ClassRule`) is chosen from its attributes:

* ``class_field`` (with an optional ``class_map`` ``"value=class,..."``), else the first
  known attribute the layer has: ``class`` (the ``centerlines`` layer that
  ``roadseg.predict(..., vectorize=...)`` writes: values are the model's class names),
  ``highway`` (OpenStreetMap), ``road_class`` (roadseg synthetic scenes) or
  ``road_type`` (SpaceNet); else no attribute.
* Values are mapped to the model's classes by name (``major``, ``minor``...), through
  the OpenStreetMap ``highway`` table of the ``osm`` preset (motorway → major,
  residential → minor, track → track...) or the preset of the attribute.
* A feature whose class is missing or not recognised is a *road of unknown class*
  (:data:`~roadseg.data.labelmap.ANY_ROAD`): it teaches "road here", never a guessed
  class. OpenStreetMap ways that are not roads (footways, paths, steps, roads not
  built...) are :data:`~roadseg.data.labelmap.IGNORE`: their surface is neither road
  nor background.

>>> rule = class_rule(["highway", "name"], ("background", "major", "minor", "track"))
>>> rule.field, rule.source
('highway', 'osm')
>>> feature_codes(["primary", "footway", None, "bus_guideway"], rule).tolist()
[1, 255, 254, 254]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from roadseg.data.labelmap import ANY_ROAD, IGNORE
from roadseg.errors import ConfigError
from roadseg.geo.classes import PRESETS, ClassScheme, _key, parse_class_map

#: OpenStreetMap ``highway`` values that are not roads a road model should map: their
#: surfaces are ignored (neither road nor background).
OSM_NOT_ROADS = frozenset(
    {
        "footway",
        "path",
        "cycleway",
        "bridleway",
        "steps",
        "corridor",
        "elevator",
        "platform",
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "razed",
        "planned",
        "via_ferrata",
        "ladder",
        "services",
        "rest_area",
        "bus_stop",
        "emergency_bay",
    }
)

#: Attributes recognised without ``class_field``, in order of preference, and the preset
#: whose value table they use (``None``: values are the model's class names).
KNOWN_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("class", None),
    ("highway", "osm"),
    ("road_class", "synth"),
    ("road_type", "spacenet"),
)

#: Width (m) drawn for ignored ways (footways, paths...).
IGNORE_WIDTH_M = 3.0


@dataclass(frozen=True)
class ClassRule:
    """How one road layer's attribute becomes model class codes.

    Attributes:
        field: The attribute read (None: every feature is a road of unknown class).
        values: Normalised raw value → model class index (or :data:`ANY_ROAD`).
        names: Model class names (background first).
        not_roads: Raw values whose features are ignored.
        source: Where the value table came from: ``osm``, ``synth``, ``spacenet``,
            ``class-map``, ``names`` (the model's class names) or ``none``.

    """

    field: str | None
    values: Mapping[str, int]
    names: tuple[str, ...]
    not_roads: frozenset[str] = frozenset()
    source: str = "none"

    @property
    def binary(self) -> bool:
        """True when the model has one road class (every road maps to it)."""
        return len(self.names) == 2

    def code_of(self, raw: Any) -> int:
        """Code of one raw attribute value: a class index, :data:`ANY_ROAD` or :data:`IGNORE`.

        >>> r = class_rule(["class"], ("background", "major", "minor", "track"))
        >>> r.code_of("minor"), r.code_of("Track"), r.code_of("bridge"), r.code_of(None)
        (2, 3, 254, 254)
        """
        unknown = 1 if self.binary else ANY_ROAD
        if self.field is None or raw is None or (isinstance(raw, float) and np.isnan(raw)):
            return unknown
        key = _key(raw)
        if key in self.not_roads:
            return IGNORE
        return int(self.values.get(key, unknown))

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (for the model file and the JSON result)."""
        return {"field": self.field, "source": self.source, "values": dict(self.values)}


def _to_model(
    preset_values: Mapping[str, int], preset: ClassScheme, names: Sequence[str]
) -> dict[str, int]:
    """Re-target a preset's value table (raw → preset class) onto the model's class names."""
    lower = [n.lower() for n in names]
    out = {}
    for raw, idx in preset_values.items():
        cname = preset.names[idx].lower()
        if len(names) == 2:
            out[raw] = 1
        elif cname in lower:
            out[raw] = lower.index(cname)
        else:
            out[raw] = ANY_ROAD
    return out


def _by_name(names: Sequence[str]) -> dict[str, int]:
    return {n.lower(): i for i, n in enumerate(names) if i > 0}


def class_rule(
    fields: Sequence[str],
    names: Sequence[str],
    class_field: str | None = None,
    class_map: str | None = None,
) -> ClassRule:
    """The rule for a layer with attributes ``fields`` and a model with classes ``names``.

    Args:
        fields: The layer's attribute names.
        names: The model's classes (background first).
        class_field: Attribute to read (default: the first of :data:`KNOWN_FIELDS` present).
        class_map: ``"value=class,..."`` (class names or indexes of the model) for that attribute.

    >>> class_rule(["fid"], ("background", "road")).source
    'none'
    >>> class_rule(["kind"], ("background", "major", "minor", "track"), "kind", "a=major").values
    {'a': 1}

    """
    names = tuple(names)
    if class_field is not None and class_field not in fields:
        raise ConfigError(
            f"`class_field` {class_field!r} is not an attribute of the labels",
            param="class_field",
            value=class_field,
            hint=f"valid: {', '.join(f for f in fields if f != 'geometry') or '(none)'}",
        )
    if class_map and class_field is None:
        raise ConfigError(
            "`class_map` needs `class_field`",
            param="class_map",
            value=class_map,
            hint="say which attribute it maps with `class_field`",
        )
    scheme = ClassScheme(names, ((0, 0, 0),) * len(names), (0.0,) * len(names))
    if class_field is not None:
        if class_map:
            return ClassRule(
                class_field, parse_class_map(class_map, scheme), names, source="class-map"
            )
        preset = dict(KNOWN_FIELDS).get(class_field, "osm")
        values = _table(preset, names)
        values.update(_by_name(names))
        nr = OSM_NOT_ROADS if preset == "osm" else frozenset()
        return ClassRule(class_field, values, names, nr, preset or "names")
    for name, preset in KNOWN_FIELDS:
        if name in fields:
            nr = OSM_NOT_ROADS if preset == "osm" else frozenset()
            return ClassRule(name, _table(preset, names), names, nr, preset or "names")
    return ClassRule(None, {}, names, source="none")


def _table(preset: str | None, names: tuple[str, ...]) -> dict[str, int]:
    if preset is None:
        return _by_name(names)
    p = PRESETS[preset]
    return _to_model(p.values, p, names)


def feature_codes(raw_values: Sequence[Any] | np.ndarray, rule: ClassRule) -> np.ndarray:
    """One code per feature (uint8): class index, :data:`ANY_ROAD` or :data:`IGNORE`."""
    return np.array([rule.code_of(v) for v in raw_values], dtype=np.uint8)


def feature_widths(codes: np.ndarray, widths_m: Sequence[float]) -> np.ndarray:
    """Road width in metres per feature: its class's width; the median road width when unknown.

    >>> feature_widths(np.array([1, 254, 255], np.uint8), (0.0, 12.0, 7.0, 4.0)).tolist()
    [12.0, 7.0, 3.0]
    """
    w = np.asarray(widths_m, dtype=np.float64)
    road = w[1:] if len(w) > 1 else np.array([7.0])
    unknown = float(np.median(road))
    out = np.full(codes.shape, unknown, dtype=np.float64)
    known = codes < len(w)
    out[known] = w[codes[known]]
    out[codes == IGNORE] = IGNORE_WIDTH_M
    return out


def code_summary(codes: np.ndarray, names: Sequence[str]) -> dict[str, int]:
    """Features per code, by name (``road`` for unknown class, ``ignored``).

    >>> code_summary(np.array([1, 1, 254, 255], np.uint8), ("background", "major"))
    {'major': 2, 'road (class unknown)': 1, 'ignored (not a road)': 1}
    """
    out: dict[str, int] = {}
    for c, n in zip(*np.unique(codes, return_counts=True), strict=True):
        c = int(c)
        name = (
            names[c]
            if c < len(names)
            else ("road (class unknown)" if c == ANY_ROAD else "ignored (not a road)")
        )
        out[name] = int(n)
    return out
