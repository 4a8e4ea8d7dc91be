"""Building the network, its metadata and the loss from the configuration and the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from roadseg.errors import ConfigError, about
from roadseg.models import ModelMeta, RoadNet, build_model, load_model
from roadseg.models.freeze import parse_freeze
from roadseg.models.pretrained import IMAGENET_NORM, init_encoder
from roadseg.models.transfer import transfer_weights
from roadseg.training.losses import SegLoss, auto_class_weights

BASE_MONITORS = (
    "val_miou",
    "val_road_iou",
    "val_f1",
    "val_precision",
    "val_recall",
    "val_accuracy",
    "val_loss",
)


@dataclass
class ModelSetup:
    """The network to train and what was done to initialise it."""

    net: RoadNet
    meta: ModelMeta
    init: dict[str, Any]
    trainable_stages: int | None


def load_init_model(init_from: str | None) -> tuple[RoadNet | None, ModelMeta | None]:
    """The model to fine-tune (``model.init_from``: a file or ``default``), or (None, None)."""
    if not init_from:
        return None, None
    with about("model.init_from"):
        return load_model(init_from)


def build_network(cfg: Any, dm: Any, src: RoadNet | None, src_meta: ModelMeta | None) -> ModelSetup:
    """Create the RoadNet for the data module's classes, bands and resolution; initialise it."""
    scheme = dm.scheme
    m = cfg.model
    if src_meta is not None:
        arch, encoder = src_meta.arch, src_meta.encoder
        if src_meta.in_channels != dm.in_channels:
            raise ConfigError(
                f"the `model.init_from` model takes {src_meta.in_channels} band(s) but the "
                f"imagery has {dm.in_channels}",
                param="data.bands",
                hint="choose bands with `data.bands`",
            )
    else:
        arch, encoder = m.arch, m.encoder
    binary = m.binary if m.binary is not None else scheme.num_classes == 2
    if binary and scheme.num_classes != 2:
        raise ConfigError(
            f"`model.binary` needs exactly one road class, but the classes are "
            f"{list(scheme.names)}",
            param="model.binary",
            value=True,
        )
    norm = IMAGENET_NORM.get(encoder) if m.encoder_weights == "imagenet" else None
    mean = m.mean or (norm[0] if norm else (src_meta.mean if src_meta else (0.5,)))
    std = m.std or (norm[1] if norm else (src_meta.std if src_meta else (0.5,)))
    meta = ModelMeta(
        arch=arch,
        encoder=encoder,
        in_channels=dm.in_channels,
        classes=tuple(scheme.names),
        colors=tuple(tuple(int(v) for v in c) for c in scheme.colors),  # type: ignore[misc]
        widths_m=tuple(float(w) for w in scheme.widths_m),
        gsd_m=float(dm.gsd_m),
        tile_size=int(dm.tile),
        bands=dm.bands,
        scaling=dm.scaling,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        binary=bool(binary),
    )
    torch.manual_seed(int(cfg.trainer.seed))
    net = build_model(meta)
    init: dict[str, Any] = {}
    if src is not None and src_meta is not None:
        new_head = tuple(src_meta.classes) != meta.classes or src_meta.binary != meta.binary
        counts = transfer_weights(src, net, new_head=new_head)
        init["init_from"] = {"model": str(m.init_from), "new_head": new_head, **counts}
    if m.encoder_weights:
        init["encoder_weights"] = init_encoder(net.encoder, encoder, m.encoder_weights)
    return ModelSetup(net, meta, init, parse_freeze(m.freeze))


def class_weights_for(cfg: Any, dm: Any) -> list[float] | None:
    """``loss.class_weights``: None, ``auto`` (from sampled windows) or an explicit list."""
    cw = cfg.loss.class_weights
    if cw is None or cw == "none":
        return None
    if isinstance(cw, str):
        if cw == "auto":
            return auto_class_weights(dm.estimate_class_counts().tolist())
        try:
            cw = tuple(float(v) for v in cw.replace(" ", "").split(",") if v)
        except ValueError:
            raise ConfigError(
                f"`loss.class_weights` {cw!r} must be 'auto' or numbers like 0.5,2",
                param="loss.class_weights",
                value=cw,
            ) from None
    return [float(v) for v in cw]


def build_loss(cfg: Any, meta: ModelMeta, weights: list[float] | None) -> SegLoss:
    """The loss module."""
    return SegLoss(cfg.loss.name, meta.num_classes, meta.binary, weights, cfg.loss.focal_gamma)


def check_monitor(monitor: str, classes: tuple[str, ...]) -> str:
    """Validate ``trainer.monitor``; return the mode (``max``/``min``)."""
    valid = list(BASE_MONITORS) + [
        f"val_{k}_{c}" for c in classes for k in ("iou", "f1", "precision", "recall")
    ]
    if monitor not in valid:
        raise ConfigError(
            f"`trainer.monitor` {monitor!r} is not a validation metric",
            param="trainer.monitor",
            value=monitor,
            hint=f"valid: {', '.join(valid)}",
        )
    return "min" if monitor.endswith("loss") else "max"
