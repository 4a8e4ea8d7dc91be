"""Pixel metrics from confusion matrices, for training's validation and for evaluation.

Pure: arrays in, numbers out. :func:`confusion_matrix` counts (truth,
prediction) pairs of numpy arrays, or of torch tensors on their device (so
training sums matrices over batches and ranks without copying); matrices add
up. :func:`pixel_scores` turns one into per-class IoU, F1 (Dice), precision,
recall and the means; :func:`metrics_from_confusion` flattens that into the
``miou``, ``road_iou``, ``iou_<class>``... keys training logs.

One convention for undefined values: a class that is neither in the truth nor
predicted has no score (NaN, left out of the means); a class that is in one of
them but not the other scores 0 where the denominator is 0 (a class the model
never predicts has precision 0, not "no precision"), so the means punish it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Label value of pixels that are not counted (nodata, no imagery).
IGNORE = 255


def confusion_matrix(truth: Any, pred: Any, num_classes: int, ignore: int = IGNORE) -> Any:
    """Pixel counts ``cm[t, p]`` of truth class ``t`` predicted as ``p`` (int64, K×K).

    Pixels where either side holds ``ignore`` or a value outside the classes are
    not counted. numpy arrays give a numpy matrix; torch tensors a tensor on
    their device.

    >>> confusion_matrix(np.array([0, 1, 1, 255]), np.array([0, 1, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    k = int(num_classes)
    if type(truth).__module__.startswith("torch"):
        import torch

        t = truth.reshape(-1).long()
        p = pred.reshape(-1).long()
        ok = (t != ignore) & (p != ignore) & (t >= 0) & (t < k) & (p >= 0) & (p < k)
        return torch.bincount(t[ok] * k + p[ok], minlength=k * k).reshape(k, k)
    t = np.asarray(truth).ravel().astype(np.int64)
    p = np.asarray(pred).ravel().astype(np.int64)
    ok = (t != ignore) & (p != ignore) & (t >= 0) & (t < k) & (p >= 0) & (p < k)
    return np.bincount(t[ok] * k + p[ok], minlength=k * k).reshape(k, k)


@dataclass(frozen=True)
class PixelScores:
    """Per-class and overall pixel metrics (see the module docstring for undefined values).

    Attributes:
        names: Class names.
        iou: Intersection over union per class.
        f1: F1 (Dice) per class.
        precision: Precision per class.
        recall: Recall per class.
        support: Truth pixels per class.
        predicted: Predicted pixels per class.
        pixel_accuracy: Correct pixels / counted pixels.
        miou: Mean IoU over the classes (background included).
        miou_roads: Mean IoU over the road classes (background excluded).
        road_iou: IoU of every road class together against background.

    """

    names: tuple[str, ...]
    iou: tuple[float, ...]
    f1: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    support: tuple[int, ...]
    predicted: tuple[int, ...]
    pixel_accuracy: float
    miou: float
    miou_roads: float
    road_iou: float

    def per_class(self) -> dict[str, dict[str, float | int]]:
        """Metrics by class name."""
        return {
            n: {
                "iou": self.iou[i],
                "f1": self.f1[i],
                "precision": self.precision[i],
                "recall": self.recall[i],
                "support": self.support[i],
                "predicted": self.predicted[i],
            }
            for i, n in enumerate(self.names)
        }


def _mean(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def pixel_scores(cm: Any, names: Sequence[str] | None = None) -> PixelScores:
    """Metrics from a confusion matrix (rows truth, columns prediction).

    >>> s = pixel_scores(np.array([[6, 2], [1, 3]]), ("background", "road"))
    >>> round(s.iou[1], 3), round(s.precision[1], 3), round(s.recall[1], 3), s.pixel_accuracy
    (0.5, 0.6, 0.75, 0.75)
    """
    c = np.asarray(cm.cpu() if hasattr(cm, "cpu") else cm, dtype=np.float64)
    k = c.shape[0]
    names = tuple(names) if names is not None else tuple(f"class_{i}" for i in range(k))
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
    road_iou = float("nan")
    if k > 1:
        road_tp = c[1:, 1:].sum()
        road_union = c[1:, :].sum() + c[:, 1:].sum() - road_tp
        road_iou = float(road_tp / road_union) if road_union else float("nan")
    return PixelScores(
        names=names,
        iou=tuple(float(v) for v in iou),
        f1=tuple(float(v) for v in f1),
        precision=tuple(float(v) for v in prec),
        recall=tuple(float(v) for v in rec),
        support=tuple(int(v) for v in truth),
        predicted=tuple(int(v) for v in predicted),
        pixel_accuracy=float(tp.sum() / total) if total else float("nan"),
        miou=_mean(iou),
        miou_roads=_mean(iou[1:]),
        road_iou=road_iou,
    )


def metrics_from_confusion(cm: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """Training's flat metrics: ``miou``, ``road_iou``, ``f1``, ``precision``, ``recall``,
    ``accuracy``, ``pixels`` and per class ``iou_<name>``, ``f1_<name>``, ``precision_<name>``,
    ``recall_<name>`` (means over the classes that have a score).

    >>> m = metrics_from_confusion(np.array([[8, 0], [1, 1]]), ["background", "road"])
    >>> round(m["iou_road"], 3), round(m["accuracy"], 3), round(m["miou"], 3)
    (0.5, 0.9, 0.694)
    """  # noqa: D205 - the keys are the summary
    s = pixel_scores(cm, class_names)
    out: dict[str, Any] = {
        "miou": s.miou,
        "f1": _mean(np.array(s.f1)),
        "precision": _mean(np.array(s.precision)),
        "recall": _mean(np.array(s.recall)),
        "accuracy": s.pixel_accuracy,
        "pixels": int(sum(s.support)),
    }
    if len(s.names) > 1:
        out["road_iou"] = s.road_iou
    for i, name in enumerate(s.names):
        out[f"iou_{name}"] = s.iou[i]
        out[f"f1_{name}"] = s.f1[i]
        out[f"precision_{name}"] = s.precision[i]
        out[f"recall_{name}"] = s.recall[i]
    return out


def collapse_to_roads(cm: Any) -> np.ndarray:
    """Road / not-road 2×2 matrix from a multi-class one (any road class counts as road).

    >>> collapse_to_roads(np.array([[5, 1, 0], [1, 2, 1], [0, 1, 3]])).tolist()
    [[5, 1], [1, 7]]
    """
    c = np.asarray(cm)
    return np.array([[c[0, 0], c[0, 1:].sum()], [c[1:, 0].sum(), c[1:, 1:].sum()]], dtype=c.dtype)
