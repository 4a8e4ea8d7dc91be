"""Road classes: names, colours, widths, and how label attributes map to them.

Pure (no I/O). :class:`Classes` is the one description of a set of classes
that model files, prediction, class rasters, vectorising and evaluation share.
A :class:`ClassScheme` is a :class:`Classes` that also says which attribute of
a road vector holds its class and which raw values map to which class index;
the widths buffer centrelines into road surfaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roadseg.errors import ConfigError

RGB = tuple[int, int, int]

#: Width assumed for a road class whose width is unknown (metres).
DEFAULT_WIDTH_M = 6.0
#: Colour of a road class whose colour is unknown.
DEFAULT_COLOR: RGB = (255, 140, 0)


@dataclass(frozen=True)
class Classes:
    """Class names (index 0 is background), one colour and one road width per class.

    >>> Classes.untagged(2).names
    ('background', 'class_1', 'class_2')

    Attributes:
        names: Class names; ``names[0]`` is the background.
        colors: One RGB colour per class.
        widths_m: Typical total road width in metres per class (``[0]`` unused).

    """

    names: tuple[str, ...]
    colors: tuple[RGB, ...]
    widths_m: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.colors) == len(self.widths_m)):
            raise ConfigError("class names, colours and widths must have the same length")

    @classmethod
    def of(
        cls, names: Sequence[str], colors: Sequence[Sequence[int]], widths_m: Sequence[float]
    ) -> Classes:
        """Build from any sequences (colours as ints, widths as floats).

        >>> Classes.of(["background", "road"], [[0, 0, 0], [255, 0, 0]], [0, 6]).colors[1]
        (255, 0, 0)
        """
        return cls(
            tuple(str(n) for n in names),
            tuple((int(c[0]), int(c[1]), int(c[2])) for c in colors),
            tuple(float(w) for w in widths_m),
        )

    @classmethod
    def untagged(cls, max_class: int) -> Classes:
        """Classes ``class_1..class_<max_class>`` for class ids whose names are unknown."""
        n = max(1, int(max_class))
        names = ("background", *(f"class_{i}" for i in range(1, n + 1)))
        return cls(names, ((0, 0, 0), *(DEFAULT_COLOR,) * n), (0.0, *(DEFAULT_WIDTH_M,) * n))

    @property
    def num_classes(self) -> int:
        """Number of classes, background included."""
        return len(self.names)

    @property
    def max_width_m(self) -> float:
        """Widest road class in metres."""
        return max(self.widths_m[1:], default=DEFAULT_WIDTH_M)

    def plain(self) -> Classes:
        """Just the classes (a :class:`ClassScheme` without its attribute mapping)."""
        return Classes(self.names, self.colors, self.widths_m)

    def road_or_not(self) -> Classes:
        """Road / not road, as wide as the widest class.

        >>> Classes.untagged(3).road_or_not().names
        ('background', 'road')
        """
        return Classes(("background", "road"), ((0, 0, 0), DEFAULT_COLOR), (0.0, self.max_width_m))

    def layer_name(self, class_id: int) -> str:
        """GeoPackage polygon layer name of a class.

        >>> Classes(("background", "Major road"), ((0, 0, 0),) * 2, (0.0, 8.0)).layer_name(1)
        'roads_major_road'
        """
        return "roads_" + safe_name(self.names[class_id])


def safe_name(name: str) -> str:
    """Return a lowercase identifier for layer and column names.

    >>> safe_name("Minor road (paved)")
    'minor_road_paved'
    """
    s = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower()).strip("_")
    return s or "class"


@dataclass(frozen=True)
class ClassScheme(Classes):
    """:class:`Classes` plus how label attributes map to them.

    Attributes:
        names: Class names; ``names[0] == "background"``.
        colors: One RGB colour per class.
        widths_m: Typical total road width in metres per class (``[0]`` unused).
        values: Raw attribute value (as text) → class index. Empty: every feature is class 1.
        field: Default attribute holding the class (None: every feature is class 1).
        width_field: Optional attribute holding each feature's own width in metres.
        ignore_index: Label value for pixels to ignore (no imagery).

    """

    values: Mapping[str, int] = field(default_factory=dict)
    field: str | None = None
    width_field: str | None = None
    ignore_index: int = 255

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.names) < 2 or self.names[0] != "background":
            raise ConfigError("a class scheme needs 'background' first and at least one road class")
        bad = {k: v for k, v in self.values.items() if not 0 <= v < len(self.names)}
        if bad:
            raise ConfigError(f"class map values {bad} are outside 0..{len(self.names) - 1}")

    @property
    def binary(self) -> bool:
        """True for road / not-road."""
        return self.num_classes == 2

    def class_of(self, raw: Any) -> int | None:
        """Class index of a raw attribute value (None when unmapped).

        >>> ClassScheme.preset("spacenet").class_of(5)
        2
        >>> ClassScheme.preset("binary").class_of("anything")
        1
        """
        if not self.values:
            return 1
        key = _key(raw)
        return self.values.get(key)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in model files and run configs)."""
        return {
            "names": list(self.names),
            "colors": [list(c) for c in self.colors],
            "widths_m": list(self.widths_m),
            "values": dict(self.values),
            "field": self.field,
            "width_field": self.width_field,
            "ignore_index": self.ignore_index,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClassScheme:
        """Inverse of :meth:`as_dict`."""
        return cls(
            names=tuple(d["names"]),
            colors=tuple(tuple(int(v) for v in c) for c in d["colors"]),  # type: ignore[misc]
            widths_m=tuple(float(w) for w in d["widths_m"]),
            values={str(k): int(v) for k, v in d.get("values", {}).items()},
            field=d.get("field"),
            width_field=d.get("width_field"),
            ignore_index=int(d.get("ignore_index", 255)),
        )

    @classmethod
    def preset(cls, name: str) -> ClassScheme:
        """A named scheme: ``synth``, ``spacenet``, ``osm``, ``roads3`` or ``binary``."""
        try:
            return PRESETS[name]
        except KeyError:
            raise ConfigError(
                f"unknown class scheme {name!r}; valid: {', '.join(sorted(PRESETS))}"
            ) from None

    def with_field(self, field_name: str | None) -> ClassScheme:
        """The same scheme reading another attribute."""
        return ClassScheme(
            self.names,
            self.colors,
            self.widths_m,
            self.values,
            field_name,
            self.width_field,
            self.ignore_index,
        )

    def with_values(self, values: Mapping[str, int], field_name: str | None = None) -> ClassScheme:
        """The same classes with another value mapping (and optionally another field)."""
        return ClassScheme(
            self.names,
            self.colors,
            self.widths_m,
            {_key(k): int(v) for k, v in values.items()},
            field_name if field_name is not None else self.field,
            self.width_field,
            self.ignore_index,
        )


def _key(raw: Any) -> str:
    """Normalise an attribute value to text: 5, 5.0 and "5" are the same key.

    >>> _key(5.0), _key("5"), _key(" Primary ")
    ('5', '5', 'primary')
    """
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw).strip().lower()


def parse_class_map(text: str, scheme: ClassScheme) -> dict[str, int]:
    """Parse ``"1=major,2=major,5=minor,7=track"`` (class names or indexes) into a value map.

    >>> parse_class_map("1=major, 7=3", ClassScheme.preset("roads3"))
    {'1': 1, '7': 3}
    """
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ConfigError(
                f"`class_map` entry {part!r} must be VALUE=CLASS, e.g. 5=minor",
                param="class_map",
                value=text,
            )
        raw, cls_ = (s.strip() for s in part.split("=", 1))
        if cls_.isdigit():
            idx = int(cls_)
        elif cls_.lower() in [n.lower() for n in scheme.names]:
            idx = [n.lower() for n in scheme.names].index(cls_.lower())
        else:
            raise ConfigError(
                f"`class_map` class {cls_!r} is not one of {', '.join(scheme.names)}",
                param="class_map",
                value=text,
            )
        out[_key(raw)] = idx
    return out


_ROADS3_NAMES = ("background", "major", "minor", "track")
_ROADS3_COLORS: tuple[RGB, ...] = ((0, 0, 0), (230, 85, 13), (253, 208, 35), (140, 81, 10))
_ROADS3_WIDTHS = (0.0, 12.0, 7.0, 4.0)

PRESETS: dict[str, ClassScheme] = {
    "roads3": ClassScheme(_ROADS3_NAMES, _ROADS3_COLORS, _ROADS3_WIDTHS),
    "synth": ClassScheme(
        _ROADS3_NAMES,
        _ROADS3_COLORS,
        _ROADS3_WIDTHS,
        values={"major": 1, "minor": 2, "track": 3},
        field="road_class",
        width_field="width_m",
    ),
    # SpaceNet road_type: 1 motorway, 2 primary, 3 secondary, 4 tertiary,
    # 5 residential, 6 unclassified, 7 cart track.
    "spacenet": ClassScheme(
        _ROADS3_NAMES,
        _ROADS3_COLORS,
        _ROADS3_WIDTHS,
        values={"1": 1, "2": 1, "3": 1, "4": 2, "5": 2, "6": 2, "7": 3},
        field="road_type",
    ),
    # OpenStreetMap highway tags.
    "osm": ClassScheme(
        _ROADS3_NAMES,
        _ROADS3_COLORS,
        _ROADS3_WIDTHS,
        values={
            **{
                k: 1
                for k in (
                    "motorway",
                    "trunk",
                    "primary",
                    "secondary",
                    "motorway_link",
                    "trunk_link",
                    "primary_link",
                    "secondary_link",
                )
            },
            **{
                k: 2
                for k in (
                    "tertiary",
                    "tertiary_link",
                    "residential",
                    "unclassified",
                    "service",
                    "living_street",
                    "road",
                    "pedestrian",
                )
            },
            **{k: 3 for k in ("track", "unpaved")},
        },
        field="highway",
    ),
    "binary": ClassScheme(("background", "road"), ((0, 0, 0), (255, 140, 0)), (0.0, 7.0)),
}
