"""Training sources: several kinds of labelled imagery mixed in one run.

A source is one of

* **rasters**: georeferenced imagery with vector labels (or raster masks), ``image`` +
  ``labels`` paired in order;
* **dataset**: a folder of plain image/mask pairs (``images/`` + ``masks/``, DeepGlobe
  ``*_sat``/``*_mask``) with their ground resolution ``image_gsd``;
* **synthetic**: ``synthetic`` scenes made once by the run with ``roadseg synth``
  (styles and resolutions cycled, seeds from ``synthetic_seed``).

Each source has a sampling ``weight`` (windows are drawn from a source with probability
proportional to it, whatever its size), its own validation hold-out and its own label
mapping. Validation of a source is one of: separate ``val_image``/``val_labels``
(``val_dataset`` for folders, ``synthetic_val`` scenes for synthetic sources), whole
pairs of a dataset whose relative path matches a ``val_match`` glob, or a spatial block
split of its training rasters (``val_fraction``, ``split``).

>>> s = SourceConfig.from_dict({"name": "mass", "dataset": "d", "image_gsd": 1.0, "weight": 2})
>>> s.kind, s.weight, s.image_gsd
('dataset', 2.0, 1.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from roadseg.errors import ConfigError

SourceKind = Literal["rasters", "dataset", "synthetic"]
SYNTH_STYLES = ("urban", "suburban", "rural", "random")

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class SourceConfig:
    """One training source (an item of the config's ``data.sources`` list).

    Attributes:
        name: Short name (letters, digits, ``_.-``) used in metric names and logs.
        weight: Relative sampling weight of the source (> 0).
        image: Imagery rasters (kind ``rasters``).
        labels: Their labels, one per image (vector files or raster masks).
        val_image: Separate validation rasters.
        val_labels: Their labels.
        dataset: Folder of plain image/mask pairs (kind ``dataset``).
        val_dataset: Separate validation folder of the same layout.
        val_match: Glob patterns (on the image path relative to ``dataset``, e.g.
            ``"Tile 5/*"``) of pairs held out for validation.
        image_gsd: Ground resolution of plain images (m/px).
        synthetic: Number of synthetic training scenes to make (kind ``synthetic``).
        synthetic_val: Number of synthetic validation scenes (other seeds).
        synthetic_size: Side of each synthetic scene in pixels.
        synthetic_styles: Layout styles cycled over the scenes.
        synthetic_gsd: Ground resolutions (m/px) cycled over the training scenes.
        synthetic_seed: First seed of the training scenes (validation: ``+ 100000``).
        classes: Class preset of this source's labels (``auto``: detected).
        class_field: Attribute holding the class in vector labels.
        class_map: Raw attribute values → classes, e.g. ``"1=major,5=minor"``.
        mask_colors: Colour-coded masks: ``"110,193,228=road; 155,155,155=ignore"``.
        mask_values: Index masks: ``"1=road,255=ignore"``.
        mask_threshold: Soft masks: values ≥ this are road.
        road_bias: Probability that a window is centred on a road (default: the run's).
        val_fraction: Share of blocks held out when the source is split spatially.
        split: Block pattern of the spatial split (default: the run's).
        scale_jitter: Relative window-scale jitter (0.3: ground footprint × 0.7…1.3);
            default: the run's ``data.scale_jitter``.
        max_val_windows: Cap on this source's validation windows.

    """

    name: str
    weight: float = 1.0
    image: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    val_image: tuple[str, ...] = ()
    val_labels: tuple[str, ...] = ()
    dataset: str | None = None
    val_dataset: str | None = None
    val_match: tuple[str, ...] = ()
    image_gsd: float | None = None
    synthetic: int = 0
    synthetic_val: int = 0
    synthetic_size: int = 1024
    synthetic_styles: tuple[str, ...] = SYNTH_STYLES
    synthetic_gsd: tuple[float, ...] = (0.3, 0.5, 0.75, 1.0)
    synthetic_seed: int = 1000
    classes: str = "auto"
    class_field: str | None = None
    class_map: str | None = None
    mask_colors: str | None = None
    mask_values: str | None = None
    mask_threshold: float | None = None
    road_bias: float | None = None
    val_fraction: float | None = None
    split: str | None = None
    scale_jitter: float | None = None
    max_val_windows: int | None = None

    def __post_init__(self) -> None:
        where = f"data.sources[{self.name!r}]"
        if not _NAME.match(self.name):
            raise ConfigError(
                f"data.sources: name {self.name!r} must be letters, digits, '_', '.' or '-' "
                "(it names the source's metrics)"
            )
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ConfigError(f"{where}.weight must be a positive number, got {self.weight}")
        if not (self.image or self.dataset or self.synthetic > 0):
            raise ConfigError(
                f"{where} has no data: give image+labels (rasters), dataset (a plain "
                "image/mask folder) or synthetic (a number of scenes to make)"
            )
        if self.synthetic > 0 and (self.image or self.dataset):
            raise ConfigError(
                f"{where}: a synthetic source makes its own scenes; put image/dataset in "
                "another source"
            )
        if len(self.image) != len(self.labels):
            raise ConfigError(
                f"{where}: {len(self.image)} image(s) but {len(self.labels)} label file(s); "
                "give one labels file per image"
            )
        if len(self.val_image) != len(self.val_labels):
            raise ConfigError(f"{where}: give one val_labels file per val_image")
        if self.image_gsd is not None and not (self.image_gsd > 0):
            raise ConfigError(f"{where}.image_gsd must be > 0 metres, got {self.image_gsd}")
        if self.synthetic < 0 or self.synthetic_val < 0:
            raise ConfigError(f"{where}: synthetic scene counts must be ≥ 0")
        if self.synthetic and not 128 <= self.synthetic_size <= 8192:
            raise ConfigError(f"{where}.synthetic_size must be in 128..8192 px")
        bad = sorted(set(self.synthetic_styles) - set(SYNTH_STYLES))
        if bad or not self.synthetic_styles:
            raise ConfigError(
                f"{where}.synthetic_styles {list(bad) or '[]'} invalid; valid: "
                f"{', '.join(SYNTH_STYLES)}"
            )
        if not self.synthetic_gsd or any(not g > 0 for g in self.synthetic_gsd):
            raise ConfigError(f"{where}.synthetic_gsd must list positive resolutions in m/px")
        if self.road_bias is not None and not 0 <= self.road_bias <= 1:
            raise ConfigError(f"{where}.road_bias must be in [0, 1], got {self.road_bias}")
        if self.val_fraction is not None and not 0 <= self.val_fraction < 1:
            raise ConfigError(f"{where}.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.scale_jitter is not None and not 0 <= self.scale_jitter < 1:
            raise ConfigError(f"{where}.scale_jitter must be in [0, 1), got {self.scale_jitter}")
        if self.val_match and not self.dataset:
            raise ConfigError(f"{where}.val_match selects pairs of a dataset; give dataset too")

    @property
    def kind(self) -> SourceKind:
        """``rasters`` (with or without a dataset folder too), ``dataset`` or ``synthetic``."""
        if self.image:
            return "rasters"
        if self.dataset:
            return "dataset"
        return "synthetic"

    @property
    def has_own_validation(self) -> bool:
        """True when validation data is given separately (no spatial split needed)."""
        return bool(self.val_image or self.val_dataset or self.val_match or self.synthetic_val)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], index: int = 0) -> SourceConfig:
        """Validate one mapping of the ``data.sources`` list (unknown keys list the valid ones)."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"data.sources[{index}] must be a mapping of keys, got {d!r}")
        valid = {f.name for f in fields(cls)}
        bad = sorted(set(d) - valid)
        if bad:
            raise ConfigError(
                f"data.sources[{index}]: unknown key(s) {bad}; valid: {', '.join(sorted(valid))}"
            )
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d or d[f.name] is None:
                continue
            kw[f.name] = _coerce(f.name, d[f.name], getattr(cls, f.name, None), index)
        kw.setdefault("name", f"source{index}")
        return cls(**kw)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (YAML-able), defaults left out."""
        default = {f.name: f.default for f in fields(self)}
        out = {}
        for k, v in asdict(self).items():
            if k == "name" or v != default.get(k):
                out[k] = list(v) if isinstance(v, tuple) else v
        return out


def _coerce(key: str, value: Any, default: Any, index: int) -> Any:
    where = f"data.sources[{index}].{key}"
    if isinstance(default, tuple) or key in ("image", "labels", "val_image", "val_labels"):
        items = [value] if isinstance(value, str | int | float) else list(value)
        if key == "synthetic_gsd":
            return tuple(_num(v, where) for v in items)
        return tuple(str(v) for v in items)
    if key in ("weight", "image_gsd", "mask_threshold", "road_bias", "val_fraction"):
        return _num(value, where)
    if key == "scale_jitter":
        return _num(value, where)
    if key in ("synthetic", "synthetic_val", "synthetic_size", "synthetic_seed", "max_val_windows"):
        v = _num(value, where)
        if not float(v).is_integer():
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return int(v)
    if isinstance(value, Mapping | list):
        raise ConfigError(f"{where} must be text, got {value!r}")
    return str(value)


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number, got {value!r}") from None


def parse_sources(items: Sequence[Any]) -> tuple[SourceConfig, ...]:
    """Validate a ``data.sources`` list; names must be unique.

    >>> [s.name for s in parse_sources([{"name": "a", "synthetic": 2}, {"synthetic": 1}])]
    ['a', 'source1']
    """
    out = tuple(SourceConfig.from_dict(d, i) for i, d in enumerate(items))
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"data.sources: names {dup} are used twice; give each source its own")
    return out
