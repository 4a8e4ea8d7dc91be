"""Road IoU of a model on an adaptation's hold-out blocks.

Each hold-out block is one window read exactly as validation reads it (imagery
resampled to the model's resolution, labels on the same grid); the model decides road
as prediction does (road where the road classes' summed probability reaches the
model's threshold). Road IoU pools all blocks: predicted road ∩ labelled road over
their union, ignored pixels left out. The same function scores the starting model
before training and the adapted model after, on the same windows.

The adapted model's threshold is chosen by its training's validation, which runs on these
same blocks: its "after" is the best it does on them. To compare like with like, the
starting model is also scored at the threshold that is best for it on the hold-out
(:attr:`HoldoutScore.best_iou`, searched in the range training searches); the adapted model
is kept only when it beats that too (measured: see the README's *Adapt to your area*).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from roadseg.adaptation.result import Kept
from roadseg.data.catalog import MaskOptions, open_pair
from roadseg.data.labelmap import IGNORE
from roadseg.data.scene import Scene
from roadseg.models import ModelMeta, RoadNet
from roadseg.training.road_stats import BINS, best_threshold, decide_classes, histogram_update


def holdout_scenes(
    pairs: Sequence[tuple[Path, Path]], meta: ModelMeta, image_gsd: float | None
) -> list[Scene]:
    """The hold-out blocks as scenes on the model's grid (codes read as they are)."""
    codes = {v: v for v in range(256)}
    scheme = meta.scheme
    out = []
    for image, mask in pairs:
        raster, labels = open_pair(
            image, mask, scheme, MaskOptions(values=codes), meta.bands, image_gsd
        )
        out.append(Scene(raster, labels, meta.gsd_m, image.name))
    return out


@dataclass(frozen=True)
class HoldoutScore:
    """A model's pooled road IoU on the hold-out.

    Attributes:
        iou: At the model's own threshold (how the model maps as it is).
        best_iou: At the threshold best for it on these blocks (within the range training
            searches); NaN when the hold-out has no labelled road.
        best_threshold: That threshold.

    """

    iou: float
    best_iou: float
    best_threshold: float


def holdout_score(
    net: RoadNet,
    meta: ModelMeta,
    scenes: Sequence[Scene],
    tile: int,
    device: str = "cpu",
    batch_size: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> HoldoutScore:
    """Road IoU of ``net`` over one window per scene, at its threshold and at its best one.

    ``iou`` is NaN when the hold-out has neither labelled nor predicted road.
    """
    inter = union = 0
    hist = torch.zeros((1, 2, BINS), dtype=torch.float64, device=device)
    one_source = torch.zeros(batch_size, dtype=torch.long, device=device)
    net = net.eval().to(device)
    for k in range(0, len(scenes), batch_size):
        batch = [s.read(0, 0, tile) for s in scenes[k : k + batch_size]]
        x = torch.from_numpy(np.stack([b.image for b in batch])).to(device)
        with torch.no_grad():
            logits = net(x)
        # At the model's own threshold the decision is prediction's (exact, not binned) ...
        pred = decide_classes(logits, meta.road_threshold).cpu().numpy() > 0
        # ... and every other threshold comes from training's histogram (bins of 1 / BINS).
        masks = torch.from_numpy(np.stack([b.mask for b in batch]).astype(np.int64)).to(device)
        hist = histogram_update(hist, logits, masks, one_source[: len(batch)], IGNORE)
        for p, b in zip(pred, batch, strict=True):
            valid = b.mask != IGNORE
            truth = (b.mask > 0) & valid
            p = p & valid
            inter += int((p & truth).sum())
            union += int((p | truth).sum())
        if progress:
            progress(min(k + batch_size, len(scenes)), len(scenes))
    iou = inter / union if union else float("nan")
    h = hist.cpu().numpy()
    if h[0, 1].sum() == 0:
        return HoldoutScore(iou, float("nan"), float(meta.road_threshold))
    t, ious = best_threshold(h)
    return HoldoutScore(iou, float(ious[0]), float(t))


def keep_adapted(before: HoldoutScore, after: float, min_gain: float) -> bool:
    """Whether the adapted model beats the starting model by ``min_gain`` on the hold-out.

    ``after`` is the adapted model's road IoU at its own threshold, which its training chose
    on the hold-out; the start must be beaten at its own threshold and at its best one there.

    >>> keep_adapted(HoldoutScore(0.47, 0.52, 0.3), 0.50, 0.005)  # a better threshold, no more
    False
    >>> keep_adapted(HoldoutScore(0.47, 0.48, 0.5), 0.50, 0.005)
    True
    >>> keep_adapted(HoldoutScore(float("nan"), float("nan"), 0.6), 0.1, 0.005)  # nothing to beat
    True
    >>> keep_adapted(HoldoutScore(0.4, 0.4, 0.6), float("nan"), 0.0)
    False
    """
    if not math.isfinite(after):
        return False
    bar = max((v for v in (before.iou, before.best_iou) if math.isfinite(v)), default=None)
    return bar is None or after >= bar + min_gain


def outcome(before: HoldoutScore, after: float, min_gain: float) -> Kept:
    """What to write: ``adapted``, ``threshold`` or ``starting``.

    The adapted model when it beats the start (:func:`keep_adapted`); else the starting
    model with its road threshold re-chosen on the hold-out (``threshold``) when that
    alone gains ``min_gain`` there — the adapted model's threshold is chosen on the same
    blocks, so the bar is the same; else the starting model unchanged.

    >>> outcome(HoldoutScore(0.47, 0.52, 0.43), 0.50, 0.005)
    'threshold'
    >>> outcome(HoldoutScore(0.47, 0.52, 0.43), 0.53, 0.005)
    'adapted'
    >>> outcome(HoldoutScore(0.47, 0.472, 0.55), 0.46, 0.005)
    'starting'
    >>> outcome(HoldoutScore(float("nan"), float("nan"), 0.6), float("nan"), 0.005)
    'starting'
    >>> outcome(HoldoutScore(0.47, 0.47, 0.5), 0.40, 0.0)  # its own threshold is the best
    'starting'
    """
    if keep_adapted(before, after, min_gain):
        return "adapted"
    if (
        math.isfinite(before.iou)
        and math.isfinite(before.best_iou)
        and before.best_iou > before.iou
        and before.best_iou >= before.iou + min_gain
    ):
        return "threshold"
    return "starting"
