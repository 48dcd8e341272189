"""The real-data matching rule: IoU >= 0.3, or each box holds the other's centre."""

from __future__ import annotations

import math

import pytest

from training.evaluate import MatchCounts, box_iou, boxes_match, f_beta, holds_centre, judge


def test_iou_of_identical_disjoint_and_half_overlapping_boxes() -> None:
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == pytest.approx(1.0)
    assert box_iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [10, 0, 20, 10]) == 0.0  # touching edges share no area
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0  # degenerate boxes do not divide by zero


def test_iou_threshold_is_inclusive_at_0_3() -> None:
    # A 10x3 box inside a 10x10 one: intersection 30, union 100.
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 3]) == pytest.approx(0.3)
    assert boxes_match([0, 0, 10, 3], [0, 0, 10, 10])
    # 10x2.9 at the top: IoU just under 0.3, and the thin box does not hold the big one's centre.
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 2.9]) < 0.3
    assert not boxes_match([0, 0, 10, 2.9], [0, 0, 10, 10])


def test_centre_rule_needs_both_directions() -> None:
    big, small_centred = [0, 0, 100, 100], [45, 45, 55, 55]
    # IoU is only 0.01, but each holds the other's centre: a tight prediction inside a loose label matches.
    assert box_iou(big, small_centred) < 0.3
    assert holds_centre(big, small_centred) and holds_centre(small_centred, big)
    assert boxes_match(small_centred, big)
    # A small box in a corner of the big one: the big one holds its centre, not the other way round.
    corner = [0, 0, 10, 10]
    assert holds_centre(big, corner) and not holds_centre(corner, big)
    assert not boxes_match(corner, big)


def test_low_iou_without_centres_does_not_match() -> None:
    assert not boxes_match([0, 0, 10, 10], [8, 8, 30, 30])


def test_match_counts_recall_and_precision() -> None:
    c = MatchCounts()
    truths = [[0, 0, 10, 10], [100, 100, 120, 110]]
    preds = [[1, 1, 10, 10], [50, 50, 60, 60], [200, 200, 210, 210]]
    c.add(preds, truths)
    assert (c.found, c.labelled, c.correct, c.predicted) == (1, 2, 1, 3)
    assert c.recall == pytest.approx(0.5)
    assert c.precision == pytest.approx(1 / 3)
    assert math.isnan(MatchCounts().recall) and math.isnan(MatchCounts().precision)


def test_judge_flags_false_chart_rate_as_an_upper_bound() -> None:
    real = {
        "chart_recall": 0.97,
        "false_chart_rate": 0.10,
        "per_class": {"barcode": {"recall": 0.95}, "scale_bar": {"recall": 0.80}, "label": {"recall": 0.9}},
    }
    v = judge({"fg_miou": 0.9}, real)
    assert v["synthetic_fg_miou"]["pass"] is True
    assert v["chart_recall"]["pass"] is True
    assert v["false_chart_rate"]["pass"] is False
    assert v["scale_bar_recall"]["pass"] is False
    assert judge(None, None)["barcode_recall"]["pass"] is None


def test_f_half_weights_precision_twice_as_much_as_recall() -> None:
    # the stamp floor is chosen by F0.5: a surer, smaller set of regions beats a fuller, noisier one
    surer = {"recall": 0.45, "precision": 0.87}
    fuller = {"recall": 0.52, "precision": 0.74}
    assert f_beta(surer, 0.5) > f_beta(fuller, 0.5)
    assert f_beta(surer, 1.0) < f_beta(fuller, 1.0)
    assert f_beta({"recall": 0.6, "precision": 0.6}, 0.5) == pytest.approx(0.6)
    assert f_beta({"recall": None, "precision": 0.9}, 0.5) == 0.0
    assert f_beta({"recall": 0.0, "precision": 0.0}, 0.5) == 0.0
