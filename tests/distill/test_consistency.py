"""The consistency check: detection view vs counting view, per density channel."""
import numpy as np
import pytest

from dpsnet_d2.distill.consistency import (
    check_consistency,
    count_gap,
    rounded_counts,
    threshold_for_round,
)

AGNOSTIC = [0, 0, 0, 0]  # C = 1
SUPER = [0, 1, 1, 2]  # C = 3: classes 1 and 2 share channel 1


def check(scores, classes, counts, mapping, tau=0.8, min_boxes=0):
    return check_consistency(scores, classes, counts, threshold=tau, class_to_channel=mapping,
                             min_boxes=min_boxes)


def test_agree():
    r = check([0.9, 0.95, 0.3], [0, 3, 1], [2.2], AGNOSTIC)
    assert r.consistent and r.keep.tolist() == [True, True, False]
    assert r.detection_counts.tolist() == [2] and r.density_counts.tolist() == [2]


def test_disagree_in_one_channel():
    # channels 0 and 2 agree, channel 1 has 2 confident detections but a count of 1
    r = check([0.9, 0.9, 0.9, 0.9], [0, 1, 2, 3], [1.1, 0.8, 0.9], SUPER)
    assert r.detection_counts.tolist() == [1, 2, 1] and r.density_counts.tolist() == [1, 1, 1]
    assert not r.consistent
    assert check([0.9, 0.9, 0.9, 0.9], [0, 1, 2, 3], [1.1, 2.3, 0.9], SUPER).consistent


def test_c1_ignores_classes_where_c_gt_1_does_not():
    scores, classes = [0.9, 0.9], [1, 1]
    assert check(scores, classes, [2.0], AGNOSTIC).consistent
    # the same two boxes, split 1 / 1 by the counting view over two channels: C > 1 disagrees
    assert not check(scores, classes, [0.0, 1.0, 1.0], SUPER).consistent
    assert check(scores, classes, [0.0, 2.0, 0.0], SUPER).consistent


@pytest.mark.parametrize(
    "count,expected", [(0.49, 0), (0.5, 1), (1.4999, 1), (1.5, 2), (2.5, 3), (0.0, 0)]
)
def test_rounding_edges(count, expected):
    assert rounded_counts([count]).tolist() == [expected]
    scores = [0.9] * expected
    assert check(scores, [0] * expected, [count], AGNOSTIC).consistent


def test_threshold_is_strict_and_min_boxes():
    assert not check([0.8], [0], [1.0], AGNOSTIC, tau=0.8).consistent  # 0.8 is not > 0.8
    assert check([0.8], [0], [0.0], AGNOSTIC, tau=0.8).consistent  # empty, both say 0
    assert not check([0.8], [0], [0.0], AGNOSTIC, tau=0.8, min_boxes=1).consistent
    assert check([0.81], [0], [1.0], AGNOSTIC, tau=0.8, min_boxes=1).consistent


def test_empty_image_and_shape_errors():
    r = check(np.zeros(0), np.zeros(0, int), [0.3, 0.0, 0.1], SUPER)
    assert r.consistent and r.keep.shape == (0,)
    with pytest.raises(ValueError, match="channels"):
        check([0.9], [3], [1.0, 0.0], SUPER)  # class 3 -> channel 2, but only 2 channels
    with pytest.raises(ValueError, match="scores"):
        check([0.9, 0.9], [0], [1.0], AGNOSTIC)


def test_published_threshold_schedule():
    from dpsnet_d2 import get_dpsnet_cfg

    schedule = get_dpsnet_cfg().DISTILL.THRESHOLDS
    taus = [threshold_for_round(schedule, r) for r in range(12)]
    assert taus == [0.8] * 5 + [0.85] * 3 + [0.9] + [0.95] * 3


def test_count_gap_summarises_how_far_the_views_are():
    one = dict(threshold=0.5, class_to_channel=[0, 0])
    checks = [
        check_consistency([0.9, 0.9], [0, 1], [2.2], **one),  # agree: gap 0
        check_consistency([0.9], [0], [3.6], **one),  # 1 detection, density 4: gap -3
        check_consistency([0.9, 0.9, 0.2], [0, 1, 1], [1.0], **one),  # 2 vs 1: gap +1
    ]
    gap = count_gap(checks)
    assert gap == {"median": 0.0, "mean": pytest.approx(-2 / 3), "within_1": pytest.approx(2 / 3)}
    with pytest.raises(ValueError):
        count_gap([])
