"""Pixel metrics from a confusion matrix (pure: arrays in, numbers out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(
    truth: np.ndarray, pred: np.ndarray, num_classes: int, ignore: int = 255
) -> np.ndarray:
    """Pixel counts ``cm[t, p]`` of truth class ``t`` predicted as ``p``.

    Pixels where either array holds ``ignore`` (or a value outside the classes)
    are not counted.

    >>> confusion_matrix(np.array([0, 1, 1, 255]), np.array([0, 1, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    t = np.asarray(truth).ravel().astype(np.int64)
    p = np.asarray(pred).ravel().astype(np.int64)
    ok = (t != ignore) & (p != ignore) & (t >= 0) & (t < num_classes) & (p >= 0) & (p < num_classes)
    idx = t[ok] * num_classes + p[ok]
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class PixelScores:
    """Per-class and overall pixel metrics.

    Per-class values are NaN where undefined (a class absent from both truth and
    prediction has no IoU); means skip NaNs.

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


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.maximum(b, 1), np.nan)


def pixel_scores(cm: np.ndarray, names: tuple[str, ...] | None = None) -> PixelScores:
    """Metrics from a confusion matrix (rows truth, columns prediction).

    >>> s = pixel_scores(np.array([[6, 2], [1, 3]]), ("background", "road"))
    >>> round(s.iou[1], 3), round(s.precision[1], 3), round(s.recall[1], 3), s.pixel_accuracy
    (0.5, 0.6, 0.75, 0.75)
    """
    cm = np.asarray(cm, dtype=np.float64)
    k = cm.shape[0]
    names = names or tuple(f"class_{i}" for i in range(k))
    tp = np.diag(cm)
    truth = cm.sum(1)
    pred = cm.sum(0)
    iou = _ratio(tp, truth + pred - tp)
    prec = _ratio(tp, pred)
    rec = _ratio(tp, truth)
    f1 = _ratio(2 * tp, truth + pred)
    total = cm.sum()

    def mean(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else float("nan")

    return PixelScores(
        names=tuple(names),
        iou=tuple(float(v) for v in iou),
        f1=tuple(float(v) for v in f1),
        precision=tuple(float(v) for v in prec),
        recall=tuple(float(v) for v in rec),
        support=tuple(int(v) for v in truth),
        predicted=tuple(int(v) for v in pred),
        pixel_accuracy=float(tp.sum() / total) if total else float("nan"),
        miou=mean(iou),
        miou_roads=mean(iou[1:]),
    )


def collapse_to_roads(cm: np.ndarray) -> np.ndarray:
    """Road / not-road 2×2 matrix from a multi-class one (any road class counts as road).

    >>> collapse_to_roads(np.array([[5, 1, 0], [1, 2, 1], [0, 1, 3]])).tolist()
    [[5, 1], [1, 7]]
    """
    cm = np.asarray(cm)
    return np.array(
        [[cm[0, 0], cm[0, 1:].sum()], [cm[1:, 0].sum(), cm[1:, 1:].sum()]], dtype=cm.dtype
    )
