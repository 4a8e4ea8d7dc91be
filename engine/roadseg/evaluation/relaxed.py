"""Relaxed (buffered) precision and recall for thin roads (pure).

A predicted road pixel is correct when a true road pixel lies within ``B``
metres of it; a true road pixel is found when a predicted road pixel lies within
``B`` metres (Mnih & Hinton's relaxed measures). Distances come from Euclidean
distance transforms with the pixel size in metres, so rectangular pixels
(EPSG:4326) are handled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class RelaxedCounts:
    """Counts that add up over blocks.

    Attributes:
        pred_hit: Predicted road pixels within the buffer of a true road.
        pred: Predicted road pixels.
        true_hit: True road pixels within the buffer of a predicted road.
        true: True road pixels.

    """

    pred_hit: int = 0
    pred: int = 0
    true_hit: int = 0
    true: int = 0

    def __add__(self, o: RelaxedCounts) -> RelaxedCounts:
        return RelaxedCounts(
            self.pred_hit + o.pred_hit,
            self.pred + o.pred,
            self.true_hit + o.true_hit,
            self.true + o.true,
        )

    @property
    def precision(self) -> float:
        """Relaxed precision (NaN without predicted road)."""
        return self.pred_hit / self.pred if self.pred else float("nan")

    @property
    def recall(self) -> float:
        """Relaxed recall (NaN without true road)."""
        return self.true_hit / self.true if self.true else float("nan")

    @property
    def f1(self) -> float:
        """Harmonic mean of relaxed precision and recall.

        >>> RelaxedCounts(3, 4, 1, 2).f1
        0.6
        """
        p, r = self.precision, self.recall
        if math.isnan(p) or math.isnan(r):
            return float("nan")
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def within(mask: np.ndarray, buffer_m: float, gsd: tuple[float, float]) -> np.ndarray:
    """Pixels within ``buffer_m`` metres of any ``mask`` pixel (the mask included).

    >>> m = np.zeros((1, 9), bool); m[0, 4] = True
    >>> within(m, 1.0, (0.5, 0.5)).astype(int).tolist()
    [[0, 0, 1, 1, 1, 1, 1, 0, 0]]
    """
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    gx, gy = gsd
    d = ndi.distance_transform_edt(~mask, sampling=(gy, gx))
    return d <= buffer_m + 1e-9


def relaxed_counts(
    pred_road: np.ndarray,
    true_road: np.ndarray,
    buffer_m: float,
    gsd: tuple[float, float],
    count: np.ndarray | None = None,
) -> RelaxedCounts:
    """Relaxed counts of one block.

    Args:
        pred_road: Predicted road mask.
        true_road: True road mask.
        buffer_m: Tolerance in metres.
        gsd: Pixel size (x, y) in metres.
        count: Pixels to count (block core and valid pixels); all when None.
            Masks should extend ``buffer_m`` beyond it so distances are right.

    >>> t = np.zeros((5, 5), bool); t[2] = True
    >>> p = np.zeros((5, 5), bool); p[3] = True
    >>> c = relaxed_counts(p, t, 0.5, (0.5, 0.5))
    >>> c.precision, c.recall
    (1.0, 1.0)

    """
    sel = np.ones(pred_road.shape, bool) if count is None else count
    near_true = within(true_road, buffer_m, gsd)
    near_pred = within(pred_road, buffer_m, gsd)
    p = pred_road & sel
    t = true_road & sel
    return RelaxedCounts(
        int((p & near_true).sum()), int(p.sum()), int((t & near_pred).sum()), int(t.sum())
    )
