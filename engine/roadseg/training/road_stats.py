"""Road-vs-background validation statistics per source, and the road threshold.

During validation every labelled pixel adds one count to a histogram of its road
probability (the summed probability of the road classes, or the sigmoid of a binary
head), split by source and by truth (road or not; a road pixel of unknown class is
road). From these histograms the road IoU of each source follows at any threshold;
the threshold that maximises the mean of the sources' IoUs (searched in
``[0.2, 0.8]``, so a small validation set cannot push it to an extreme) is stored in
the model file and used by prediction for the road/background decision.
"""

from __future__ import annotations

import numpy as np
import torch

#: Histogram bins of the road probability (thresholds are multiples of 1 / BINS).
BINS = 100
#: Range searched for the road threshold.
THRESHOLD_RANGE = (0.2, 0.8)


def road_probability(logits: torch.Tensor) -> torch.Tensor:
    """Probability of road (any road class) per pixel, (B, H, W) in [0, 1].

    >>> round(float(road_probability(torch.zeros(1, 3, 1, 1))), 4)  # 2 of 3 classes are road
    0.6667
    """
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0].float())
    return 1.0 - torch.softmax(logits.float(), dim=1)[:, 0]


def decide_classes(logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Class ids: road where the road probability ≥ ``threshold``, then the likeliest road class.

    A pixel whose road probability is split between classes (0.35 + 0.32) is road.

    >>> z = torch.log(torch.tensor([0.33, 0.35, 0.32])).view(1, 3, 1, 1)
    >>> decide_classes(z).flatten().tolist(), z.argmax(1).flatten().tolist()
    ([1], [1])
    >>> z = torch.log(torch.tensor([0.34, 0.33, 0.33])).view(1, 3, 1, 1)
    >>> decide_classes(z).flatten().tolist(), z.argmax(1).flatten().tolist()
    ([1], [0])
    """
    road = road_probability(logits) >= threshold
    if logits.shape[1] == 1:
        return road.long()
    cls = logits[:, 1:].argmax(dim=1) + 1
    return torch.where(road, cls, torch.zeros_like(cls))


def histogram_update(
    hist: torch.Tensor,
    logits: torch.Tensor,
    mask: torch.Tensor,
    source: torch.Tensor,
    ignore_index: int = 255,
) -> torch.Tensor:
    """Add a batch to ``hist`` (sources × 2 × BINS counts; truth 0 = background, 1 = road)."""
    n_src = hist.shape[0]
    p = road_probability(logits)
    valid = mask != ignore_index
    truth = (mask > 0) & valid
    b = (p * BINS).long().clamp_(0, BINS - 1)
    src = source.view(-1, 1, 1).expand_as(mask).clamp(0, n_src - 1)
    idx = (src * 2 + truth.long()) * BINS + b
    counts = torch.bincount(idx[valid].reshape(-1), minlength=n_src * 2 * BINS)
    return hist + counts.view(n_src, 2, BINS).to(hist.dtype)


def iou_curve(hist: np.ndarray) -> np.ndarray:
    """Road IoU per source (rows) at every threshold ``k / BINS`` (columns, k = 0..BINS-1).

    NaN where a source has neither road truth nor road prediction.

    >>> h = np.zeros((1, 2, BINS)); h[0, 0, 10] = 5; h[0, 1, 70] = 5
    >>> c = iou_curve(h); float(c[0, 50]), float(c[0, 5]), float(c[0, 80])
    (1.0, 0.5, 0.0)
    """
    h = np.asarray(hist, dtype=np.float64)
    # Pixels with probability in bin ≥ k are called road at threshold k / BINS.
    above = np.flip(np.cumsum(np.flip(h, axis=2), axis=2), axis=2)
    tp = above[:, 1]
    fp = above[:, 0]
    fn = h[:, 1].sum(axis=1, keepdims=True) - tp
    union = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def best_threshold(hist: np.ndarray) -> tuple[float, np.ndarray]:
    """The threshold maximising the mean road IoU over sources with road truth, and their IoUs.

    Ties go to the threshold nearest 0.5.

    >>> h = np.zeros((2, 2, BINS)); h[:, 0, 20] = 5; h[:, 1, 40] = 5
    >>> t, ious = best_threshold(h); round(t, 2), ious.tolist()
    (0.4, [1.0, 1.0])
    """
    h = np.asarray(hist, dtype=np.float64)
    curve = iou_curve(h)
    has_road = h[:, 1].sum(axis=1) > 0
    lo, hi = (int(round(v * BINS)) for v in THRESHOLD_RANGE)
    if not has_road.any():
        k = BINS // 2
    else:
        mean = np.nanmean(np.where(has_road[:, None], curve, np.nan)[:, lo : hi + 1], axis=0)
        mean = np.where(np.isfinite(mean), mean, -1.0)
        # Ties go to the threshold nearest 0.5.
        ks = np.arange(lo, hi + 1)
        order = np.lexsort((np.abs(ks - BINS // 2), -mean))
        k = int(ks[order[0]])
    return k / BINS, curve[:, k]
