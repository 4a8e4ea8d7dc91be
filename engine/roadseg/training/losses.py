"""Losses for road segmentation: cross-entropy/BCE, Dice, Focal, and weighted sums of them.

Binary models (one logit channel) use sigmoid versions, multi-class models
softmax versions; every loss skips the ignore index. A pixel labelled ``ANY_ROAD``
(254: road, class unknown — e.g. from a road/background mask) counts as road for
binary models and, for multi-class models, asks only that the road classes together
be likely (cross-entropy and focal on ``log Σ_{c≥1} p_c``; Dice on road vs background). A spec such as
``"ce+dice"`` or ``"ce+0.5*focal"`` builds a sum (``bce`` is a synonym of
``ce``). Class weights (one per class, background first) weight the
cross-entropy/BCE and Focal terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from roadseg.errors import ConfigError

IGNORE_INDEX = 255
#: Label of a road pixel of unknown class (see :mod:`roadseg.data.labelmap`).
ANY_ROAD = 254
LOSSES = ("ce", "bce", "dice", "focal")


def parse_loss_spec(spec: str) -> list[tuple[float, str]]:
    """``"ce+0.5*dice"`` → ``[(1.0, "ce"), (0.5, "dice")]``.

    >>> parse_loss_spec("CE + 0.5*dice")
    [(1.0, 'ce'), (0.5, 'dice')]
    """
    out = []
    for part in filter(None, (p.strip().lower() for p in str(spec).split("+"))):
        w, _, name = part.rpartition("*")
        name = name.strip()
        if name not in LOSSES:
            raise ConfigError(
                f"unknown loss {name!r} in `loss.name` {spec!r}",
                param="loss.name",
                value=spec,
                hint=f"valid: {', '.join(LOSSES)} and sums like ce+dice",
            )
        try:
            weight = float(w) if w else 1.0
        except ValueError:
            raise ConfigError(
                f"bad loss weight {w!r} in `loss.name` {spec!r}",
                param="loss.name",
                value=spec,
                hint="write e.g. ce+0.5*dice",
            ) from None
        out.append((weight, "ce" if name == "bce" else name))
    if not out:
        raise ConfigError(
            "`loss.name` is empty",
            param="loss.name",
            value=spec,
            hint="give e.g. ce, dice, focal or ce+dice",
        )
    return out


class SegLoss(nn.Module):
    """A weighted sum of segmentation losses.

    Args:
        spec: Loss spec (see :func:`parse_loss_spec`).
        num_classes: Classes including background.
        binary: Logits have one channel (sigmoid) instead of ``num_classes``.
        class_weights: One weight per class (background first), or None.
        focal_gamma: Focusing parameter of the Focal loss.
        ignore_index: Label value to skip.

    """

    class_weights: torch.Tensor | None

    def __init__(
        self,
        spec: str,
        num_classes: int,
        binary: bool,
        class_weights: Sequence[float] | None = None,
        focal_gamma: float = 2.0,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        self.terms = parse_loss_spec(spec)
        self.num_classes = num_classes
        self.binary = binary
        self.gamma = float(focal_gamma)
        self.ignore_index = ignore_index
        if class_weights is not None and len(class_weights) != num_classes:
            raise ConfigError(
                f"loss.class_weights has {len(class_weights)} values but there are "
                f"{num_classes} classes "
                "(background first); give one per class or 'auto'"
            )
        w = (
            torch.tensor(list(class_weights), dtype=torch.float32)
            if class_weights is not None
            else None
        )
        self.register_buffer("class_weights", w, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of logits (B,K,H,W) against class ids (B,H,W)."""
        logits = logits.float()
        valid = target != self.ignore_index
        if not bool(valid.any()):
            return logits.sum() * 0.0
        total = logits.new_zeros(())
        for weight, name in self.terms:
            if self.binary:
                term = _BINARY[name](self, logits[:, 0], target, valid)
            else:
                term = _MULTI[name](self, logits, target, valid)
            total = total + weight * term
        return total

    # ------------------------------------------------------------------ binary
    def _bce(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        y = (t > 0).float()
        loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
        if self.class_weights is not None:
            loss = loss * torch.where(y > 0, self.class_weights[1], self.class_weights[0])
        return loss[valid].mean()

    def _bdice(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(z)[valid]
        y = (t[valid] > 0).float()
        return 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)

    def _bfocal(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        y = (t > 0).float()
        ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
        p_t = torch.exp(-ce)
        loss = (1 - p_t) ** self.gamma * ce
        if self.class_weights is not None:
            loss = loss * torch.where(y > 0, self.class_weights[1], self.class_weights[0])
        return loss[valid].mean()

    # ------------------------------------------------------------------ multi-class
    # Pixels labelled ANY_ROAD (road of unknown class) ask only that the road classes
    # together be likely: their log-likelihood is log Σ_{c ≥ 1} p_c.
    def _target_logp(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Log p(label) per pixel: of its class, or of any road class for ANY_ROAD."""
        logp = F.log_softmax(z, dim=1)
        anyr = t == ANY_ROAD
        tt = torch.where(valid & ~anyr, t.long(), torch.zeros_like(t, dtype=torch.long))
        own = logp.gather(1, tt.unsqueeze(1))[:, 0]
        return torch.where(anyr, torch.logsumexp(logp[:, 1:], dim=1), own)

    def _pixel_weights(self, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor | None:
        if self.class_weights is None:
            return None
        anyr = t == ANY_ROAD
        tt = torch.where(valid & ~anyr, t.long(), torch.zeros_like(t, dtype=torch.long))
        return torch.where(anyr, self.class_weights[1:].mean(), self.class_weights[tt])

    def _ce(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        if not bool((t == ANY_ROAD).any()):
            return F.cross_entropy(
                z, t.long(), weight=self.class_weights, ignore_index=self.ignore_index
            )
        nll = -self._target_logp(z, t, valid)
        w = self._pixel_weights(t, valid)
        if w is None:
            return nll[valid].mean()
        return (nll * w)[valid].sum() / w[valid].sum()

    def _dice(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(z, dim=1).permute(0, 2, 3, 1)[valid]  # (N, K)
        tv = t[valid].long()
        anyr = tv == ANY_ROAD
        if not bool(anyr.any()):
            y = F.one_hot(tv, self.num_classes).float()
            inter = (p * y).sum(0)
            card = p.sum(0) + y.sum(0)
            dice = (2 * inter + 1) / (card + 1)
            road = dice[1:] if self.num_classes > 2 else dice[1:2]
            return 1 - road.mean()
        # Road (all road classes together) against background on every pixel, and the
        # road classes on the pixels whose class is known.
        pr = 1.0 - p[:, 0]
        yr = (tv > 0).float()
        terms = [(2 * (pr * yr).sum() + 1) / (pr.sum() + yr.sum() + 1)]
        known = ~anyr
        if bool((tv[known] > 0).any()):
            y = F.one_hot(tv[known], self.num_classes).float()
            pk = p[known]
            dice = (2 * (pk * y).sum(0) + 1) / (pk.sum(0) + y.sum(0) + 1)
            terms.append(dice[1:].mean())
        return 1 - torch.stack(terms).mean()

    def _focal(self, z: torch.Tensor, t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        logp = self._target_logp(z, t, valid)
        loss = -((1 - logp.exp()) ** self.gamma) * logp
        w = self._pixel_weights(t, valid)
        if w is not None:
            loss = loss * w
        return loss[valid].mean()


_BINARY = {"ce": SegLoss._bce, "dice": SegLoss._bdice, "focal": SegLoss._bfocal}
_MULTI = {"ce": SegLoss._ce, "dice": SegLoss._dice, "focal": SegLoss._focal}


def auto_class_weights(
    counts: Sequence[int], clip: tuple[float, float] = (0.1, 10.0)
) -> list[float]:
    """Inverse square-root frequency weights, scaled to average 1; unseen classes get 1.

    >>> [round(w, 2) for w in auto_class_weights([900, 100])]
    [0.5, 1.5]
    """
    c = torch.tensor([float(v) for v in counts], dtype=torch.float64)
    seen = c > 0
    w = torch.ones_like(c)
    if seen.any():
        f = c[seen] / c[seen].sum()
        w[seen] = f.rsqrt()
        w[seen] = w[seen] / w[seen].mean()
    return [float(v) for v in w.clamp(*clip)]
