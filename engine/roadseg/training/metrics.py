"""Training's validation metrics: the shared :mod:`roadseg.metrics`, in training's argument order.

:func:`confusion_matrix` counts (truth, prediction) pairs on the device (the
ignore index excluded); matrices of several batches and ranks are summed;
:func:`metrics_from_confusion` turns the sum into the logged metrics.
"""

from __future__ import annotations

from typing import Any

from roadseg.metrics import confusion_matrix as _confusion_matrix
from roadseg.metrics import metrics_from_confusion


def confusion_matrix(pred: Any, target: Any, num_classes: int, ignore_index: int = 255) -> Any:
    """K×K int64 counts: rows = truth (``target``), columns = prediction.

    >>> import torch
    >>> confusion_matrix(torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 255]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    return _confusion_matrix(target, pred, num_classes, ignore_index)


__all__ = ["confusion_matrix", "metrics_from_confusion"]
