"""Model factory: segmentation-models-pytorch architectures × encoders, one entry point.

:func:`build_network` wraps an smp model in :class:`RoadNet`, which applies the
stored mean/std normalisation inside the network (input is scaled imagery in
[0, 1]) and turns logits into class probabilities for binary and multi-class
heads alike. Unknown names raise an error listing the valid choices.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from roadseg.errors import ConfigError

#: Architecture name (case-insensitive) → smp class name.
ARCHITECTURES: dict[str, str] = {
    "unet": "Unet",
    "unetplusplus": "UnetPlusPlus",
    "unet++": "UnetPlusPlus",
    "deeplabv3": "DeepLabV3",
    "deeplabv3plus": "DeepLabV3Plus",
    "deeplabv3+": "DeepLabV3Plus",
    "fpn": "FPN",
    "linknet": "Linknet",
    "pspnet": "PSPNet",
    "pan": "PAN",
    "manet": "MAnet",
    "upernet": "UPerNet",
    "segformer": "Segformer",
}


def list_encoders() -> list[str]:
    """Names of every encoder smp can build (plus ``tu-*`` timm universal encoders)."""
    import segmentation_models_pytorch as smp

    return sorted(smp.encoders.get_encoder_names())


def _check_names(arch: str, encoder: str) -> str:
    key = arch.lower().replace("_", "").replace("-", "")
    if key not in ARCHITECTURES:
        valid = ", ".join(sorted({v for v in ARCHITECTURES.values()}))
        raise ConfigError(
            f"unknown architecture {arch!r}", param="arch", value=arch, hint=f"valid: {valid}"
        )
    if not encoder.startswith("tu-"):
        names = list_encoders()
        if encoder not in names:
            raise ConfigError(
                f"unknown encoder {encoder!r}",
                param="encoder",
                value=encoder,
                hint=f"valid: {', '.join(names)} (or any timm model as 'tu-<name>', e.g. "
                "tu-tf_efficientnet_lite0)",
            )
    return ARCHITECTURES[key]


class RoadNet(nn.Module):
    """An smp segmentation model with input normalisation and probability output.

    Args:
        arch: Architecture name (see :data:`ARCHITECTURES`).
        encoder: smp encoder name (``resnet34``, ``mobilenet_v2``, ``tu-tf_efficientnet_lite0``...).
        in_channels: Input bands.
        num_classes: Classes including background.
        binary: One sigmoid output channel (road / not road) instead of softmax.
        mean: Per-band mean subtracted from [0, 1] input.
        std: Per-band std dividing it.

    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        arch: str,
        encoder: str,
        in_channels: int,
        num_classes: int,
        binary: bool = False,
        mean: Sequence[float] = (0.5,),
        std: Sequence[float] = (0.5,),
    ) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        cls_name = _check_names(arch, encoder)
        self.binary = binary
        self.num_classes = num_classes
        out = 1 if binary else num_classes
        kwargs = {}
        if cls_name in ("Unet", "UnetPlusPlus", "MAnet") and encoder.startswith("tu-"):
            kwargs["decoder_channels"] = (256, 128, 64, 32, 16)
        try:
            self.net = getattr(smp, cls_name)(
                encoder_name=encoder,
                encoder_weights=None,
                in_channels=in_channels,
                classes=out,
                **kwargs,
            )
        except (KeyError, ValueError, RuntimeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(
                f"cannot build {cls_name} with encoder {encoder!r} ({first})",
                param="encoder",
                value=encoder,
                hint="choose another encoder (`roadseg.models.list_encoders()` lists them)",
            ) from None
        m = torch.tensor(_per_band(mean, in_channels), dtype=torch.float32).view(1, -1, 1, 1)
        s = torch.tensor(_per_band(std, in_channels), dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("mean", m, persistent=False)
        self.register_buffer("std", s, persistent=False)

    @property
    def encoder(self) -> nn.Module:
        """The encoder (for freezing and pretrained weights)."""
        return self.net.encoder

    @property
    def output_stride(self) -> int:
        """Input sides must be multiples of this."""
        return int(getattr(self.net.encoder, "output_stride", 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B×K×H×W, K = 1 for binary) from scaled imagery in [0, 1]."""
        return self.net((x - self.mean) / self.std)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities B×num_classes×H×W (binary expanded to 2 channels)."""
        logits = self.forward(x).float()
        if self.binary:
            p = torch.sigmoid(logits)
            return torch.cat([1 - p, p], dim=1)
        return torch.softmax(logits, dim=1)


def _per_band(values: Sequence[float], n: int) -> list[float]:
    vals = [float(v) for v in values]
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise ConfigError(f"normalisation has {len(vals)} values but the model has {n} bands")
    return vals
