"""Pure metrics: confusion matrices, per-class scores, relaxed precision/recall."""

from __future__ import annotations

import math

import numpy as np
import pytest
from roadseg.evaluation.relaxed import RelaxedCounts, relaxed_counts
from roadseg.metrics import collapse_to_roads, confusion_matrix, pixel_scores


def test_confusion_matrix_counts_and_ignores():
    t = np.array([[0, 0, 1, 1], [2, 2, 255, 0]])
    p = np.array([[0, 1, 1, 1], [2, 0, 2, 255]])
    cm = confusion_matrix(t, p, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert cm.sum() == 6  # two pixels ignored (255 on either side)


def test_scores_of_a_known_matrix():
    cm = np.array([[50, 10, 0], [5, 20, 5], [0, 0, 10]])
    s = pixel_scores(cm, ("background", "major", "minor"))
    # major: tp 20, truth 30, predicted 30 → IoU 20/40, P = R = F1 = 2/3
    assert s.iou[1] == pytest.approx(0.5)
    assert s.precision[1] == pytest.approx(2 / 3) and s.recall[1] == pytest.approx(2 / 3)
    assert s.f1[1] == pytest.approx(2 / 3)
    # minor: tp 10, truth 10, predicted 15
    assert s.iou[2] == pytest.approx(10 / 15) and s.recall[2] == 1.0
    assert s.pixel_accuracy == pytest.approx(80 / 100)
    assert s.miou == pytest.approx(np.mean([50 / 65, 0.5, 10 / 15]))
    assert s.miou_roads == pytest.approx(np.mean([0.5, 10 / 15]))
    assert s.support == (60, 30, 10) and s.predicted == (55, 30, 15)


def test_absent_class_is_nan_and_skipped_in_means():
    s = pixel_scores(np.array([[5, 0, 0], [1, 4, 0], [0, 0, 0]]))
    assert math.isnan(s.iou[2]) and math.isnan(s.precision[2])
    assert s.miou == pytest.approx(np.mean([5 / 6, 4 / 5]))


def test_collapse_to_roads():
    cm = np.array([[50, 10, 0], [5, 20, 5], [0, 0, 10]])
    assert collapse_to_roads(cm).tolist() == [[50, 10], [5, 35]]


def test_relaxed_forgives_small_offsets_only():
    t = np.zeros((40, 40), bool)
    t[20, 5:35] = True  # a 1-pixel road
    p = np.zeros_like(t)
    p[22, 5:35] = True  # predicted 2 pixels (1 m) off
    assert (p & t).sum() == 0  # strict IoU would be 0
    c = relaxed_counts(p, t, 1.0, (0.5, 0.5))
    assert c.precision == 1.0 and c.recall == 1.0 and c.f1 == 1.0
    c = relaxed_counts(p, t, 0.5, (0.5, 0.5))
    assert c.precision == 0.0 and c.recall == 0.0 and c.f1 == 0.0
    p2 = p.copy()
    p2[35, 5:35] = True  # a spurious road far away
    c = relaxed_counts(p2, t, 1.0, (0.5, 0.5))
    assert c.precision == pytest.approx(0.5) and c.recall == 1.0


def test_relaxed_uses_metres_per_axis():
    t = np.zeros((20, 20), bool)
    t[10, :] = True
    p = np.zeros_like(t)
    p[12, :] = True  # 2 rows off
    # Rows 0.3 m apart (0.6 m offset), columns 1 m: a 0.7 m buffer catches it.
    assert relaxed_counts(p, t, 0.7, (1.0, 0.3)).precision == 1.0
    assert relaxed_counts(p, t, 0.7, (0.3, 1.0)).precision == 0.0


def test_relaxed_counts_add_up_over_blocks():
    rng = np.random.default_rng(1)
    t = rng.random((64, 64)) > 0.9
    p = rng.random((64, 64)) > 0.9
    whole = relaxed_counts(p, t, 1.0, (0.5, 0.5))
    parts = RelaxedCounts()
    for r0 in (0, 32):
        lo, hi = max(0, r0 - 4), min(64, r0 + 32 + 4)
        count = np.zeros((hi - lo, 64), bool)
        count[r0 - lo : r0 - lo + 32] = True
        parts = parts + relaxed_counts(p[lo:hi], t[lo:hi], 1.0, (0.5, 0.5), count=count)
    assert parts == whole


def test_empty_relaxed_is_nan():
    z = np.zeros((4, 4), bool)
    c = relaxed_counts(z, z, 1.0, (1, 1))
    assert math.isnan(c.precision) and math.isnan(c.f1)


def test_training_and_evaluation_share_one_convention():
    from roadseg.metrics import metrics_from_confusion

    # "minor" is in the truth but never predicted: precision 0 (not NaN), so means punish it.
    cm = np.array([[50, 10, 0], [5, 20, 0], [3, 2, 0]])
    names = ("background", "major", "minor")
    s = pixel_scores(cm, names)
    m = metrics_from_confusion(cm, names)
    assert s.precision[2] == 0.0 and s.recall[2] == 0.0 and s.iou[2] == 0.0
    for i, n in enumerate(names):
        assert m[f"iou_{n}"] == s.iou[i] and m[f"precision_{n}"] == s.precision[i]
    assert m["miou"] == s.miou and m["road_iou"] == s.road_iou
    assert s.road_iou == pytest.approx(pixel_scores(collapse_to_roads(cm)).iou[1])
