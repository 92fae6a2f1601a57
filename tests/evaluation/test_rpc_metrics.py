"""RPC counting metrics and the official sweep, on hand-computed cases (numpy only)."""
import math

import numpy as np
import pytest

from dpsnet_d2.evaluation.rpc_metrics import CountTable, official_sweep

A, B, C = 0, 1, 2


def table(gt, det, num_classes=3):
    """gt: per image a list of classes; det: per image a list of (class, score)."""
    gt_image = [i for i, objs in enumerate(gt) for _ in objs]
    gt_class = [c for objs in gt for c in objs]
    det_image = [i for i, ds in enumerate(det) for _ in ds]
    det_class = [c for ds in det for c, _ in ds]
    det_score = [s for ds in det for _, s in ds]
    return CountTable(len(gt), num_classes, gt_image=gt_image, gt_class=gt_class,
                      det_image=det_image, det_class=det_class, det_score=det_score)


def test_perfect_predictions():
    t = table([[A, A, B], [C]], [[(A, 0.9), (A, 0.8), (B, 0.7)], [(C, 0.6)]])
    m = t.metrics_at(0.5)
    assert (m["cAcc"], m["ACD"], m["mCCD"], m["mCIoU"], m["count_acc"]) == (1.0, 0.0, 0.0, 1.0, 1.0)
    assert m["classes_with_gt"] == 3 and m["phantom_classes"] == 0


def test_one_missing_item():
    # image 0: G = {A: 2, B: 1}, P = {A: 1, B: 1}; image 1 right.
    t = table([[A, A, B], [A]], [[(A, 0.9), (B, 0.9)], [(A, 0.9)]], num_classes=2)
    m = t.metrics_at(0.5)
    assert m["cAcc"] == 0.5
    assert m["ACD"] == 0.5
    assert m["mCCD"] == pytest.approx((1 / 3 + 0) / 2)  # A: 1 / 3 objects, B: 0 / 1
    assert m["mCIoU"] == pytest.approx((2 / 3 + 1) / 2)  # A: min 1+1 / max 2+1
    assert m["count_acc"] == 0.5


def test_one_extra_item():
    t = table([[A]], [[(A, 0.9), (A, 0.8)]], num_classes=1)
    m = t.metrics_at(0.5)
    assert (m["cAcc"], m["ACD"], m["mCCD"], m["mCIoU"], m["count_acc"]) == (0.0, 1.0, 1.0, 0.5, 0.0)


def test_wrong_class():
    # G = {A: 1, B: 1}, P = {A: 2}: total right, vector wrong.
    t = table([[A, B]], [[(A, 0.9), (A, 0.9)]], num_classes=2)
    m = t.metrics_at(0.5)
    assert (m["cAcc"], m["ACD"], m["count_acc"]) == (0.0, 2.0, 1.0)
    assert m["mCCD"] == 1.0  # A: 1 / 1, B: 1 / 1
    assert m["mCIoU"] == 0.25  # A: 1 / 2, B: 0 / 1


def test_empty_predictions():
    t = table([[A, A], [B]], [[], []], num_classes=2)
    for m in (t.metrics_at(0.5), t.metrics_at(0.5, drop_undetected=True)):
        values = (m["cAcc"], m["ACD"], m["mCCD"], m["mCIoU"], m["count_acc"])
        assert values == (0.0, 1.5, 1.0, 0.0, 0.0)
        assert m["num_images"] == 2 and m["images_dropped"] == 0
    assert t.cacc_at(0.01, drop_undetected=True) == 0.0


def test_threshold_is_inclusive():
    t = table([[A]], [[(A, 0.5), (A, 0.49999)]], num_classes=1)
    assert t.metrics_at(0.5)["cAcc"] == 1.0  # score == t counts, score < t does not
    assert t.metrics_at(0.49999)["cAcc"] == 0.0
    assert t.metrics_at(0.50001)["cAcc"] == 0.0


def test_official_image_set_drops_images_without_detection():
    # image 1 has no detection >= t: the official tool leaves it out of N.
    t = table([[A], [A], [B]], [[(A, 0.9)], [(A, 0.2)], [(A, 0.9)]], num_classes=2)
    honest, official = t.metrics_at(0.5), t.metrics_at(0.5, drop_undetected=True)
    assert honest["cAcc"] == pytest.approx(1 / 3) and honest["ACD"] == pytest.approx(3 / 3)
    assert official["cAcc"] == 0.5 and official["ACD"] == 1.0
    assert official["num_images"] == 2 and official["images_dropped"] == 1
    assert t.cacc_at(0.5, drop_undetected=True) == 0.5 and t.cacc_at(0.5) == pytest.approx(1 / 3)


def test_class_absent_in_ground_truth_is_a_phantom_not_a_nan():
    # C never in the ground truth but predicted once: ACD / cAcc see it; mCCD averages A, B (the
    # official value is inf); mCIoU counts C's IoU 0 / 1 = 0 as the official tool: (1 + 1 + 0) / 3.
    t = table([[A], [B]], [[(A, 0.9), (C, 0.9)], [(B, 0.9)]])
    m = t.metrics_at(0.5)
    assert m["phantom_classes"] == 1 and m["classes_with_gt"] == 2
    assert (m["cAcc"], m["ACD"], m["mCCD"]) == (0.5, 0.5, 0.0)
    assert m["mCIoU"] == pytest.approx(2 / 3)
    assert all(math.isfinite(m[k]) for k in ("cAcc", "ACD", "mCCD", "mCIoU"))


def test_no_ground_truth_at_all_gives_none_not_nan():
    t = table([[], []], [[(A, 0.9)], []])
    m = t.metrics_at(0.5)
    assert m["mCCD"] is None and m["mCIoU"] == 0.0  # A predicted, never true: IoU 0
    assert table([[], []], [[], []]).metrics_at(0.5)["mCIoU"] is None
    assert (m["cAcc"], m["ACD"], m["phantom_classes"]) == (0.5, 0.5, 1)


def test_scatter_counts_per_cell():
    t = CountTable(2, 3, gt_image=[0, 0, 1], gt_class=[A, A, C],
                   pred_image=[0, 1], pred_class=[A, B])
    pred = t.scatter([0, 1, 1], [A, B, C], [2, 1, 0])
    m = t.metrics(pred)
    # image 1: B extra, C missing
    assert (m["cAcc"], m["ACD"], m["phantom_classes"]) == (0.5, 1.0, 1)
    with pytest.raises(ValueError, match="outside the table's cells"):
        t.scatter([1], [A], [1])


def test_bad_indices_are_rejected():
    with pytest.raises(ValueError, match="gt_class must lie in"):
        CountTable(1, 2, gt_image=[0], gt_class=[2])


def test_sweep_ties_take_the_first_threshold():
    # cAcc is a step: 1 for t >= 0.5. Pass 1 ties at 0.5544..0.99 -> keeps the first 3, and so on:
    # the span's low end never moves, the answer is the first grid point above 0.5.
    best, history = official_sweep(lambda t: float(t >= 0.5))
    assert best == pytest.approx(0.01 + 5 * 0.98 / 9)
    assert len(history) == 4 and all(len(g) == 10 for g, _ in history)
    assert history[0][0].tolist() == np.linspace(0.01, 0.99, 10).tolist()
    lo, hi = history[0][0][5], history[0][0][7]
    assert history[1][0].tolist() == np.linspace(lo, hi, 10).tolist()

    best, _ = official_sweep(lambda t: 0.0)  # all tied: the lowest threshold
    assert best == 0.01


def test_sweep_narrows_to_the_peak():
    best, history = official_sweep(lambda t: -abs(t - 0.3))
    # pass 1's 3 best: 0.3367, 0.2278, 0.4456 -> pass 2 spans [0.2278, 0.4456]
    assert history[1][0][0] == pytest.approx(0.01 + 2 * 0.98 / 9)
    assert history[1][0][-1] == pytest.approx(0.01 + 4 * 0.98 / 9)
    step = history[-1][0][1] - history[-1][0][0]
    assert abs(best - 0.3) <= step / 2 + 1e-12


def test_sweep_finds_the_known_best_threshold_of_detections():
    # Image i has one object A; its true detection scores 0.9 and a false one scores f_i; the
    # image is right iff f_i < t <= 0.9. cAcc is highest (3/4) for t in (0.6, 0.9].
    t = table([[A]] * 4, [[(A, 0.9), (A, f)] for f in (0.2, 0.4, 0.6, 0.95)], num_classes=1)
    best, history = official_sweep(lambda th: t.cacc_at(th, drop_undetected=True))
    assert 0.6 < best <= 0.9
    assert t.metrics_at(best, drop_undetected=True)["cAcc"] == 0.75
    assert max(max(s) for _, s in history) == 0.75
