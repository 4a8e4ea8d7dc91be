"""Freezing encoders, whole or by stage: ``encoder``, ``none`` or ``last:N``.

Stages are found for any encoder (smp's own or timm ``tu-*``) by one dummy
forward pass: each module with parameters belongs to the stage of its output
stride (2, 4, 8, 16, 32). ``last:N`` leaves the N deepest stages trainable and
freezes the others. Frozen parameters get ``requires_grad=False`` and frozen
batch-norm layers stay in eval mode, so neither weights nor running statistics
change while frozen.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from roadseg.errors import ConfigError

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm, nn.LayerNorm)


def parse_freeze(spec: str | None) -> int | None:
    """Stages left trainable: None for all (``none``), 0 for a frozen encoder, N for ``last:N``.

    >>> parse_freeze("encoder"), parse_freeze("none"), parse_freeze("last:2")
    (0, None, 2)
    """
    s = (spec or "none").strip().lower()
    if s in ("none", "", "false", "no"):
        return None
    if s in ("encoder", "all", "true", "yes"):
        return 0
    m = re.fullmatch(r"last:(\d+)", s)
    if m:
        return int(m.group(1))
    raise ConfigError(
        f"`model.freeze` {spec!r} is not valid",
        param="model.freeze",
        value=spec,
        hint="use encoder, none or last:N (the N deepest encoder stages trainable)",
    )


def encoder_stages(encoder: nn.Module, in_channels: int, size: int = 64) -> list[list[str]]:
    """Module names of the encoder grouped by stage, shallow to deep (by output stride)."""
    strides: dict[str, int] = {}
    hooks = []
    for name, mod in encoder.named_modules():
        if name and any(True for _ in mod.parameters(recurse=False)):

            def hook(m: nn.Module, inp: object, out: object, name: str = name) -> None:
                t = out[0] if isinstance(out, list | tuple) else out
                if isinstance(t, torch.Tensor) and t.dim() == 4 and name not in strides:
                    strides[name] = max(1, round(size / t.shape[-1]))

            hooks.append(mod.register_forward_hook(hook))
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            encoder(torch.zeros(1, in_channels, size, size))
    finally:
        for h in hooks:
            h.remove()
        encoder.train(was_training)
    by_stride: dict[int, list[str]] = {}
    for name, s in strides.items():
        by_stride.setdefault(s, []).append(name)
    return [by_stride[s] for s in sorted(by_stride)]


def apply_freeze(
    encoder: nn.Module, trainable_stages: int | None, in_channels: int
) -> list[nn.Module]:
    """Freeze an encoder except its ``trainable_stages`` deepest stages; return the frozen modules.

    ``None`` unfreezes everything (returns ``[]``).
    """
    for p in encoder.parameters():
        p.requires_grad_(True)
    if trainable_stages is None:
        return []
    stages = encoder_stages(encoder, in_channels)
    keep = {
        n
        for st in (stages[len(stages) - trainable_stages :] if trainable_stages else [])
        for n in st
    }
    frozen: list[nn.Module] = []
    for name, mod in encoder.named_modules():
        if name in keep or not any(True for _ in mod.parameters(recurse=False)):
            continue
        for p in mod.parameters(recurse=False):
            p.requires_grad_(False)
        frozen.append(mod)
    # Parameters held by modules the probe did not see (never called) follow the encoder setting.
    if trainable_stages == 0:
        for p in encoder.parameters():
            p.requires_grad_(False)
    return frozen


def keep_frozen_norms_in_eval(frozen: list[nn.Module]) -> None:
    """Put frozen normalisation layers back in eval mode (call after ``model.train()``)."""
    for m in frozen:
        if isinstance(m, _BN):
            m.eval()
