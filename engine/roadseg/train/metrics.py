"""Validation metrics from a confusion matrix accumulated over an epoch.

:func:`confusion_matrix` counts (truth, prediction) pairs on the device, the
ignore index excluded; matrices of several batches (and ranks) are summed;
:func:`metrics_from_confusion` turns the sum into per-class IoU, mIoU, F1/Dice,
precision, recall and pixel accuracy. Classes absent from both truth and
prediction are left out of the means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """K×K int64 counts: rows = truth, columns = prediction; ``ignore_index`` pixels skipped.

    >>> confusion_matrix(torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 255]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    t = target.reshape(-1).long()
    p = pred.reshape(-1).long()
    keep = (t != ignore_index) & (t >= 0) & (t < num_classes)
    idx = t[keep] * num_classes + p[keep].clamp(0, num_classes - 1)
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def metrics_from_confusion(
    cm: np.ndarray | torch.Tensor, class_names: Sequence[str]
) -> dict[str, Any]:
    """Per-class and mean metrics from a confusion matrix (rows = truth).

    Keys: ``miou``, ``road_iou`` (every road class against background),
    ``f1`` (mean Dice), ``precision``, ``recall``, ``accuracy`` (pixel accuracy)
    and per class ``iou_<name>``, ``f1_<name>``, ``precision_<name>``,
    ``recall_<name>``.

    >>> m = metrics_from_confusion(np.array([[8, 0], [1, 1]]), ["background", "road"])
    >>> round(m["iou_road"], 3), round(m["accuracy"], 3), round(m["miou"], 3)
    (0.5, 0.9, 0.694)
    """
    c = np.asarray(cm.cpu() if isinstance(cm, torch.Tensor) else cm, dtype=np.float64)
    tp = np.diag(c)
    truth = c.sum(axis=1)
    predicted = c.sum(axis=0)
    union = truth + predicted - tp
    present = union > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(present, tp / union, np.nan)
        prec = np.where(predicted > 0, tp / predicted, np.where(present, 0.0, np.nan))
        rec = np.where(truth > 0, tp / truth, np.where(present, 0.0, np.nan))
        f1 = np.where(present, 2 * tp / (truth + predicted), np.nan)
    total = c.sum()
    out: dict[str, Any] = {
        "miou": _mean(iou),
        "f1": _mean(f1),
        "precision": _mean(prec),
        "recall": _mean(rec),
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "pixels": int(total),
    }
    if len(c) > 1:
        road_tp = c[1:, 1:].sum()
        road_union = c[1:, :].sum() + c[:, 1:].sum() - road_tp
        out["road_iou"] = float(road_tp / road_union) if road_union else float("nan")
    for i, name in enumerate(class_names):
        out[f"iou_{name}"] = float(iou[i])
        out[f"f1_{name}"] = float(f1[i])
        out[f"precision_{name}"] = float(prec[i])
        out[f"recall_{name}"] = float(rec[i])
    return out


def _mean(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")
