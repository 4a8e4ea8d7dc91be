"""Confusion-matrix metrics and the losses (binary and multi-class, ignore index, sums, weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from roadseg.errors import ConfigError
from roadseg.training.losses import SegLoss, auto_class_weights, parse_loss_spec
from roadseg.training.metrics import confusion_matrix, metrics_from_confusion


def test_metrics_from_known_confusion():
    # truth rows, prediction columns: background, road
    cm = np.array([[90, 10], [5, 15]])
    m = metrics_from_confusion(cm, ["background", "road"])
    assert m["iou_road"] == pytest.approx(15 / 30)
    assert m["iou_background"] == pytest.approx(90 / 105)
    assert m["miou"] == pytest.approx((15 / 30 + 90 / 105) / 2)
    assert m["precision_road"] == pytest.approx(15 / 25)
    assert m["recall_road"] == pytest.approx(15 / 20)
    assert m["f1_road"] == pytest.approx(2 * 15 / (20 + 25))
    assert m["accuracy"] == pytest.approx(105 / 120)
    assert m["road_iou"] == pytest.approx(m["iou_road"])


def test_confusion_skips_ignore_and_accumulates():
    t = torch.tensor([[0, 1, 2, 255], [2, 2, 1, 0]])
    p = torch.tensor([[0, 1, 1, 2], [2, 0, 1, 0]])
    cm = confusion_matrix(p, t, 3) + confusion_matrix(p, t, 3)
    assert int(cm.sum()) == 14
    assert cm.tolist() == [[4, 0, 0], [0, 4, 0], [2, 2, 2]]
    m = metrics_from_confusion(cm, ["background", "a", "b"])
    assert m["road_iou"] == pytest.approx(8 / 10)  # a and b together against background
    # an absent class is left out of the means
    m2 = metrics_from_confusion(np.array([[5, 0, 0], [0, 5, 0], [0, 0, 0]]), ["bg", "a", "b"])
    assert m2["miou"] == 1.0 and np.isnan(m2["iou_b"])


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("spec", ["ce", "dice", "focal", "ce+dice", "bce+0.5*focal"])
def test_losses_ignore_and_reward_correct_logits(spec, binary):
    k = 3 if not binary else 2
    target = torch.randint(0, k, (2, 16, 16))
    target[:, :4] = 255
    good = (
        torch.nn.functional.one_hot(target.clamp(max=k - 1), k).permute(0, 3, 1, 2).float() * 8 - 4
    )
    if binary:
        good = good[:, 1:] - good[:, :1]
    bad = -good
    loss = SegLoss(spec, k, binary, class_weights=[1.0] * k)
    lg, lb = loss(good, target), loss(bad, target)
    assert torch.isfinite(lg) and lg < lb
    # ignored pixels do not matter
    noisy = good.clone()
    noisy[:, :, :4] = torch.randn_like(noisy[:, :, :4]) * 100
    assert torch.allclose(loss(noisy, target), lg)


def test_loss_spec_and_weights_errors():
    assert parse_loss_spec("ce+dice") == [(1.0, "ce"), (1.0, "dice")]
    with pytest.raises(ConfigError, match="valid: ce, bce, dice, focal"):
        parse_loss_spec("ce+lovasz")
    with pytest.raises(ConfigError, match="one per class"):
        SegLoss("ce", 4, False, class_weights=[1.0, 2.0])
    w = auto_class_weights([1000, 10, 0])
    assert w[1] > w[0] and w[2] == 1.0
