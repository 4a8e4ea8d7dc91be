"""Fine-tuning: copy weights from an earlier model, with a new head when the classes differ."""

from __future__ import annotations

from torch import nn

from roadseg.errors import ConfigError

#: State-dict prefix of the smp segmentation head inside :class:`~roadseg.models.RoadNet`.
HEAD_PREFIX = "net.segmentation_head."


def transfer_weights(src: nn.Module, dst: nn.Module, new_head: bool) -> dict[str, int]:
    """Copy ``src``'s weights into ``dst`` (same architecture and encoder).

    With ``new_head`` the segmentation head keeps ``dst``'s fresh initialisation
    (another number of classes); every other tensor must match in name and
    shape. Returns counts of tensors ``copied`` and ``kept`` (new head).
    """
    s = src.state_dict()
    d = dst.state_dict()
    copied, kept = 0, 0
    new = dict(d)
    for k, v in d.items():
        if new_head and k.startswith(HEAD_PREFIX):
            kept += 1
            continue
        if k not in s or s[k].shape != v.shape:
            raise ConfigError(
                f"weight {k!r} of the model to fine-tune does not match the new model",
                param="model.init_from",
                hint="keep the earlier model's architecture, encoder and bands",
            )
        new[k] = s[k].to(v.dtype)
        copied += 1
    dst.load_state_dict(new)
    return {"copied": copied, "kept": kept}
