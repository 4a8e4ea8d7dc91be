"""Training configuration: one YAML file with every parameter, overridable key by key.

Sections mirror LightningCLI configs: ``data``, ``model``, ``loss``, ``optim``,
``trainer``, ``augment`` plus the run folder ``out``. Values are resolved in
this order, later wins: defaults < ``RUN_DIR/config.yaml`` (when resuming) <
a YAML config file < overrides (dotted keys such as ``data.tile`` reach any
key; unique field names such as ``tile`` work too). The resolved configuration is written to ``RUN_DIR/config.yaml``.

>>> c = TrainConfig.resolve(overrides={"epochs": 3, "data.tile": "128"})
>>> c.trainer.epochs, c.data.tile
(3, 128)
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from roadseg.data.augment import AugmentConfig
from roadseg.errors import ConfigError, InputNotFoundError
from roadseg.options import check_range


@dataclass(frozen=True)
class DataConfig:
    """Where samples come from and how they are cut (section ``data``).

    Attributes:
        image: Imagery rasters, paired in order with ``labels``.
        labels: Label files (vector road lines/polygons, or raster masks).
        val_image: Separate validation rasters (else a spatial block split).
        val_labels: Their labels.
        dataset: Folder of plain image/mask pairs (DeepGlobe or images/+masks/).
        val_dataset: Separate validation folder of the same kind.
        class_field: Attribute holding the road class in vector labels.
        classes: Class scheme: auto, synth, spacenet, osm, roads3 or binary.
        class_map: Raw attribute values → classes, e.g. ``"1=major,5=minor"``.
        mask_colors: Colour-coded masks: ``"110,193,228=road;60,16,152=building"``.
        mask_values: Index masks: ``"255=road"`` (default: 0 background, >0 road for binary).
        mask_threshold: Soft masks: values ≥ this are road.
        bands: 1-based bands to read (default: all but alpha).
        gsd: Model ground resolution in m/px (default: the first raster's, rounded).
        image_gsd: Pixel size of plain images without georeferencing (default: gsd).
        tile: Window side in model pixels (multiple of 32).
        batch_size: Windows per batch (per device).
        samples_per_epoch: Training windows per epoch (all devices together).
        road_bias: Probability that a window is drawn around a road.
        val_fraction: Share of blocks held out for validation.
        split: Block pattern: checkerboard, stripes or random.
        block: Block side in model pixels (default: auto, a multiple of tile).
        max_val_windows: Cap on validation windows per epoch (evenly thinned).
        workers: DataLoader worker processes (default: CPU count − 1, at most 4).
        sources: Several training sources mixed in one run, each a mapping (see
            :class:`roadseg.data.sources.SourceConfig`: ``name``, ``weight``, ``image`` +
            ``labels`` | ``dataset`` + ``image_gsd`` | ``synthetic``, its label mapping and
            validation hold-out). When given, ``image``/``labels``/``dataset`` above must
            be empty; the other keys here are defaults for every source.
        scale_jitter: Relative jitter of each window's ground footprint (0.3: windows
            cover 0.7–1.3 × the tile's ground), so the model copes with imagery at
            other resolutions than ``gsd``.

    """

    image: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    val_image: tuple[str, ...] = ()
    val_labels: tuple[str, ...] = ()
    dataset: str | None = None
    val_dataset: str | None = None
    class_field: str | None = None
    classes: str = "auto"
    class_map: str | None = None
    mask_colors: str | None = None
    mask_values: str | None = None
    mask_threshold: float | None = None
    bands: tuple[int, ...] | None = None
    gsd: float | None = None
    image_gsd: float | None = None
    tile: int = 256
    batch_size: int = 8
    samples_per_epoch: int = 1024
    road_bias: float = 0.5
    val_fraction: float = 0.2
    split: Literal["checkerboard", "stripes", "random"] = "checkerboard"
    block: int | None = None
    max_val_windows: int = 256
    workers: int | None = None
    sources: tuple[dict[str, Any], ...] = ()
    scale_jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.sources:
            from roadseg.data.sources import parse_sources

            parse_sources(self.sources)
            flat = [
                k
                for k in ("image", "labels", "dataset", "val_image", "val_dataset")
                if getattr(self, k)
            ]
            if flat:
                raise ConfigError(
                    f"`data.sources` is given, so `data.{flat[0]}` must be empty",
                    param=f"data.{flat[0]}",
                    hint="put every input inside a source",
                )
        check_range("data.tile", self.tile, 32, 8192, integer=True, example=256)
        if self.tile % 32:
            lo = max(32, self.tile // 32 * 32)
            raise ConfigError(
                f"`data.tile` {self.tile} must be a multiple of 32 (the encoders' output stride)",
                param="data.tile",
                value=self.tile,
                hint=f"e.g. `data.tile` {lo} or {lo + 32}",
            )
        check_range("data.batch_size", self.batch_size, 1, 4096, integer=True, example=8)
        check_range("data.samples_per_epoch", self.samples_per_epoch, 1, integer=True, example=1024)
        if self.samples_per_epoch < self.batch_size:
            raise ConfigError(
                f"`data.samples_per_epoch` {self.samples_per_epoch} must be at least "
                f"`data.batch_size` ({self.batch_size})",
                param="data.samples_per_epoch",
                value=self.samples_per_epoch,
                hint=f"raise `data.samples_per_epoch` to {self.batch_size} or more, or lower "
                "`data.batch_size`",
            )
        check_range("data.road_bias", self.road_bias, 0, 1, example=0.5)
        check_range("data.val_fraction", self.val_fraction, 0, 1, high_open=True, example=0.2)
        check_range("data.max_val_windows", self.max_val_windows, 1, integer=True, example=256)
        if self.workers is not None:
            check_range("data.workers", self.workers, 0, 256, integer=True, example=2)
        for name in ("gsd", "image_gsd"):
            v = getattr(self, name)
            if v is not None:
                check_range(f"data.{name}", v, 0, 10_000, low_open=True, unit="metres", example=0.5)
        if self.mask_threshold is not None:
            check_range("data.mask_threshold", self.mask_threshold, example=128)
        if self.block is not None:
            check_range("data.block", self.block, self.tile, integer=True, example=4 * self.tile)
        if self.bands is not None and (not self.bands or min(self.bands) < 1):
            raise ConfigError(
                f"`data.bands` {list(self.bands)} are not band numbers",
                param="data.bands",
                value=list(self.bands),
                hint="give 1-based band numbers like 1,2,3",
            )
        check_range("data.scale_jitter", self.scale_jitter, 0, 1, high_open=True, example=0.3)


@dataclass(frozen=True)
class ModelConfig:
    """The network (section ``model``).

    Attributes:
        arch: smp architecture (Unet, UnetPlusPlus, DeepLabV3Plus, FPN, Linknet...).
        encoder: Encoder (resnet18/34/50, vgg16, efficientnet-b0, mobilenet_v2,
            tu-tf_efficientnet_lite0...).
        binary: One sigmoid output (road / not road); default: when there is one road class.
        init_from: Earlier roadseg model file (or ``default``) to fine-tune.
        encoder_weights: Local encoder weight file, or ``imagenet`` (local packages only).
        mean: Per-band mean applied inside the network (default 0.5).
        std: Per-band std (default 0.5).
        freeze: ``none``, ``encoder`` or ``last:N``.
        unfreeze_after: Unfreeze everything after this many epochs.
        channels_last: Use the channels-last memory format.

    """

    arch: str = "Unet"
    encoder: str = "resnet34"
    binary: bool | None = None
    init_from: str | None = None
    encoder_weights: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    freeze: str = "none"
    unfreeze_after: int | None = None
    channels_last: bool = True

    def __post_init__(self) -> None:
        from roadseg.models.factory import _check_names

        try:
            _check_names(self.arch, self.encoder)
        except ConfigError as exc:
            exc.param = f"model.{exc.param}" if exc.param else exc.param
            raise
        if self.unfreeze_after is not None:
            check_range("model.unfreeze_after", self.unfreeze_after, 0, integer=True, example=2)
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is not None and name == "std" and any(not x > 0 for x in v):
                raise ConfigError(
                    f"`model.std` {list(v)} must be more than 0 for every band",
                    param="model.std",
                    value=list(v),
                    hint="e.g. `model.std` 0.5",
                )


@dataclass(frozen=True)
class LossConfig:
    """The loss (section ``loss``).

    Attributes:
        name: ``ce``, ``dice``, ``focal`` or sums like ``ce+dice``, ``ce+0.5*focal``.
        class_weights: ``auto`` (inverse sqrt frequency) or one weight per class.
        focal_gamma: Focal loss focusing parameter.

    """

    name: str = "ce+dice"
    class_weights: str | tuple[float, ...] | None = None
    focal_gamma: float = 2.0

    def __post_init__(self) -> None:
        check_range("loss.focal_gamma", self.focal_gamma, 0, 10, example=2)
        if isinstance(self.class_weights, tuple) and any(
            not (w >= 0 and w < float("inf")) for w in self.class_weights
        ):
            raise ConfigError(
                f"`loss.class_weights` {list(self.class_weights)} must be numbers ≥ 0",
                param="loss.class_weights",
                value=list(self.class_weights),
                hint="give one weight ≥ 0 per class, or auto",
            )


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedule (section ``optim``): AdamW.

    Attributes:
        lr: Peak learning rate.
        weight_decay: AdamW weight decay.
        schedule: ``cosine`` (with linear warm-up), ``onecycle`` or ``constant``.
        warmup: Warm-up as a fraction of all steps.
        grad_clip: Gradient norm clipping (0: off).

    """

    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: Literal["cosine", "onecycle", "constant"] = "cosine"
    warmup: float = 0.05
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        check_range("optim.lr", self.lr, 0, 10, low_open=True, example=0.001)
        check_range("optim.weight_decay", self.weight_decay, 0, 10, example=0.0001)
        check_range("optim.warmup", self.warmup, 0, 1, high_open=True, example=0.05)
        check_range("optim.grad_clip", self.grad_clip, 0, example=1)


@dataclass(frozen=True)
class TrainerConfig:
    """The loop (section ``trainer``), run by Lightning.

    Attributes:
        epochs: Maximum epochs.
        seed: Seed of weights, windows and augmentation.
        precision: ``auto`` (bf16-mixed on GPUs that support it; on a CPU the prediction
            rule of :mod:`roadseg.device`: bf16-mixed with AMX or on an AMD CPU with
            avx512_bf16, else fp32), ``32``, ``bf16-mixed``, ``16-mixed``.
        accelerator: ``auto``, ``cpu``, ``gpu``...
        devices: ``auto``, a count or a list.
        strategy: ``auto``, ``ddp``...
        num_nodes: Nodes for multi-node DDP.
        patience: Early stopping patience in epochs (0: off).
        min_delta: Smallest change of the monitored metric that counts as an improvement.
        monitor: Validation metric for the best model and early stopping.
        deterministic: Deterministic algorithms (reproducible runs).
        progress: ``bar``, ``json`` or ``none``.
        checkpoint_every: Also write ``last.ckpt`` every N training steps (0: epoch ends only).
        log_every: Log training metrics every N steps.
        threads: torch CPU threads of the training process (default: CPU cores minus
            DataLoader workers, at least 1: oversubscribed cores make CPU training
            several times slower).
        ema_decay: Keep an exponential moving average of the weights (and batch-norm
            statistics) with this decay per step, e.g. 0.998 (about the last 500 steps);
            validation, the best model and the model file then use the averaged weights,
            which swing less from epoch to epoch than the raw ones. None: off.

    """

    epochs: int = 20
    seed: int = 0
    precision: str = "auto"
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    patience: int = 5
    min_delta: float = 0.0
    monitor: str = "val_miou"
    deterministic: bool = False
    progress: Literal["bar", "json", "none"] = "bar"
    checkpoint_every: int = 100
    log_every: int = 10
    threads: int | None = None
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        check_range("trainer.epochs", self.epochs, 1, 1_000_000, integer=True, example=20)
        check_range("trainer.num_nodes", self.num_nodes, 1, integer=True, example=1)
        check_range("trainer.patience", self.patience, 0, integer=True, example=5)
        check_range("trainer.min_delta", self.min_delta, 0, example=0)
        check_range("trainer.checkpoint_every", self.checkpoint_every, 0, integer=True, example=100)
        check_range("trainer.log_every", self.log_every, 1, integer=True, example=10)
        if self.threads is not None:
            check_range("trainer.threads", self.threads, 1, 1024, integer=True, example=2)
        if self.ema_decay is not None:
            check_range("trainer.ema_decay", self.ema_decay, 0.5, 0.99999, example=0.998)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "optim": OptimConfig,
    "trainer": TrainerConfig,
    "augment": AugmentConfig,
}
#: Friendly names (CLI options, API keyword arguments) → dotted keys, besides unique field names.
ALIASES = {"loss": "loss.name", "out": "out", "run_dir": "out"}


@dataclass(frozen=True)
class TrainConfig:
    """The whole training configuration."""

    out: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Validate a nested dict; unknown keys raise an error listing valid ones."""
        bad = sorted(set(d) - {"out", *SECTIONS})
        if bad:
            raise ConfigError(f"unknown config section(s) {bad}; valid: out, {', '.join(SECTIONS)}")
        kw: dict[str, Any] = {"out": None if d.get("out") is None else str(d["out"])}
        for name, sec_cls in SECTIONS.items():
            sec = d.get(name) or {}
            if not isinstance(sec, Mapping):
                raise ConfigError(f"config section {name!r} must be a mapping of keys, got {sec!r}")
            if sec_cls is AugmentConfig:
                kw[name] = AugmentConfig.from_dict(_coerce_section(AugmentConfig, sec, name))
            else:
                kw[name] = sec_cls(**_coerce_section(sec_cls, sec, name))
        return cls(**kw)

    def as_dict(self) -> dict[str, Any]:
        """Nested plain dict (YAML-able)."""
        out: dict[str, Any] = {"out": self.out}
        for name in SECTIONS:
            sec = getattr(self, name)
            out[name] = (
                sec.as_dict() if isinstance(sec, AugmentConfig) else _plain(dataclasses.asdict(sec))
            )
        return out

    def to_yaml(self) -> str:
        """YAML text of :meth:`as_dict`."""
        return yaml.safe_dump(self.as_dict(), sort_keys=False, default_flow_style=False)

    def replace(self, **changes: Any) -> TrainConfig:
        """Copy with dotted-key overrides (``{"data.tile": 128}``)."""
        return TrainConfig.from_dict(apply_overrides(self.as_dict(), changes))

    @classmethod
    def resolve(
        cls,
        base: Mapping[str, Any] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> TrainConfig:
        """Defaults < ``base`` < ``config_file`` < ``overrides`` (dotted or friendly keys)."""
        d = TrainConfig().as_dict()
        if base:
            d = deep_merge(d, base)
        if config_file is not None:
            d = deep_merge(d, load_yaml(config_file))
        if overrides:
            d = apply_overrides(d, overrides)
        return cls.from_dict(d)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file (a mapping)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(
            f"`config_file` {str(p)!r} does not exist",
            param="config_file",
            value=str(p),
            hint="give a YAML file",
        )
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"`config_file` {str(p)!r} is not UTF-8 text (byte {exc.start}: {exc.reason})",
            param="config_file",
            value=str(p),
            hint="save the YAML file as UTF-8",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"`config_file` {str(p)!r} is not valid YAML{where} ({str(exc).splitlines()[0]})",
            param="config_file",
            value=str(p),
            hint="fix the YAML syntax (the README's training section has a complete example)",
        ) from None
    if not isinstance(d, dict):
        raise ConfigError(
            f"`config_file` {str(p)!r} must hold a mapping of sections (data:, model:, ...)",
            param="config_file",
            value=str(p),
        )
    return d


def deep_merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``a`` updated by ``b``, recursively for mappings.

    >>> deep_merge({"x": {"a": 1, "b": 2}}, {"x": {"b": 3}})
    {'x': {'a': 1, 'b': 3}}
    """
    out = dict(a)
    for k, v in b.items():
        out[k] = (
            deep_merge(out[k], v)
            if isinstance(v, Mapping) and isinstance(out.get(k), Mapping)
            else v
        )
    return out


def key_for(name: str) -> str:
    """Dotted key of a friendly or dotted name (``tile`` → ``data.tile``).

    >>> key_for("epochs"), key_for("augment.hflip"), key_for("class-field")
    ('trainer.epochs', 'augment.hflip', 'data.class_field')
    """
    n = name.replace("-", "_")
    if "." in n or n == "out":
        return n
    if n in ALIASES:
        return ALIASES[n]
    owners = [s for s, c in SECTIONS.items() if n in {f.name for f in fields(c)}]
    if len(owners) == 1:
        return f"{owners[0]}.{n}"
    if not owners:
        raise ConfigError(
            f"unknown config key {name!r}; use a dotted key such as data.tile or augment.hflip"
        )
    raise ConfigError(
        f"config key {name!r} is ambiguous; write one of {', '.join(f'{o}.{n}' for o in owners)}"
    )


def apply_overrides(d: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set dotted or friendly keys in a nested dict (string values are parsed as YAML)."""
    out = deep_merge({}, d)
    for name, value in overrides.items():
        key = key_for(name)
        parts = key.split(".")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] not in SECTIONS):
            raise ConfigError(f"unknown config key {name!r}; sections are {', '.join(SECTIONS)}")
        if isinstance(value, str) and not _is_path_key(key):
            try:
                value = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                pass
        if len(parts) == 1:
            out[parts[0]] = value
        else:
            out.setdefault(parts[0], {})
            out[parts[0]] = {**out[parts[0]], parts[1]: value}
    return out


def parse_set(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["data.tile=128", "augment.hue=0"]`` → overrides dict.

    >>> parse_set(["data.tile=128"])
    {'data.tile': '128'}
    """
    out = {}
    for it in items:
        if "=" not in it:
            raise ConfigError(
                f"`set_items` {it!r} must be KEY=VALUE",
                param="set_items",
                value=it,
                hint="e.g. augment.hue=0",
            )
        k, v = it.split("=", 1)
        out[k.strip()] = v
    return out


_PATH_KEYS = {
    "out",
    "data.image",
    "data.labels",
    "data.val_image",
    "data.val_labels",
    "data.dataset",
    "data.val_dataset",
    "model.init_from",
    "model.encoder_weights",
    "data.class_field",
    "data.class_map",
    "data.mask_colors",
    "data.mask_values",
}


def _is_path_key(key: str) -> bool:
    return key in _PATH_KEYS


# ---------------------------------------------------------------------- coercion
def _coerce_section(cls: type, sec: Mapping[str, Any], name: str) -> dict[str, Any]:
    hints = get_type_hints(cls)
    valid = {f.name for f in fields(cls)}
    bad = sorted(set(sec) - valid)
    if bad:
        raise ConfigError(
            f"unknown key(s) {[f'{name}.{b}' for b in bad]}",
            hint=f"valid in {name}: {', '.join(sorted(valid))}",
        )
    return {k: _coerce(v, hints[k], f"{name}.{k}") for k, v in sec.items()}


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = get_args(hint)
        if type(None) in args and (
            value is None
            or (isinstance(value, str) and value.lower() in ("null", "none", "~", ""))
            or (isinstance(value, str) and value.lower() == "auto" and str not in args)
        ):
            return None
        errors: list[ConfigError] = []
        for a in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, a, key)
            except ConfigError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        raise ConfigError(f"`{key}`: invalid value {value!r}", param=key, value=value)
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise ConfigError(
                f"`{key}` must be one of {', '.join(map(str, choices))}, got {value!r}",
                param=key,
                value=value,
            )
        return value
    if origin is tuple:
        item = get_args(hint)[0]
        if isinstance(value, str):
            value = [value] if item is str else [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            value = [value]
        return tuple(_coerce(v, item, key) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "true",
            "yes",
            "on",
            "1",
            "false",
            "no",
            "off",
            "0",
        ):
            return value.lower() in ("true", "yes", "on", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"`{key}` must be true or false, got {value!r}", param=key, value=value)
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"`{key}` must be an integer, got {value!r}", param=key, value=value)
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"`{key}` must be an integer, got {value!r}", param=key, value=value
            ) from None
        if not f.is_integer():
            raise ConfigError(f"`{key}` must be an integer, got {value!r}", param=key, value=value)
        return int(f)
    if hint is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"`{key}` must be a number, got {value!r}", param=key, value=value
            ) from None
    if hint is str:
        if isinstance(value, dict | list):
            raise ConfigError(f"`{key}` must be text, got {value!r}", param=key, value=value)
        return str(value)
    return value


def _plain(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, list | tuple):
        return [_plain(v) for v in d]
    return d


__all__ = [
    "AugmentConfig",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainConfig",
    "TrainerConfig",
    "apply_overrides",
    "key_for",
    "load_yaml",
    "parse_set",
]
