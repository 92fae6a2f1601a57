"""Counting-view and detection-view measures on labelled images."""
import numpy as np

from dpsnet_d2.evaluation.view_metrics import (
    counting_view_metrics,
    density_outside_boxes,
    match_detections,
    precision_recall_at,
    recall_at_precision,
)


def test_density_outside_boxes_counts_mass_off_the_objects():
    density = np.zeros((1, 8, 8), np.float32)
    density[0, 1, 1] = 1.0   # inside the box (image px 0..32 at stride 8 -> cells 0..3)
    density[0, 6, 6] = 0.5   # on bare counter
    boxes = np.array([[0, 0, 32, 32]], np.float32)
    assert density_outside_boxes(density, boxes, (64, 64)) == 0.5
    assert density_outside_boxes(density, np.zeros((0, 4)), (64, 64)) == 1.5


def test_counting_view_metrics():
    truths = [{"boxes": np.zeros((2, 4)), "height": 8, "width": 8},
              {"boxes": np.zeros((3, 4)), "height": 8, "width": 8}]
    preds = [{"counts": np.array([2.4])}, {"counts": np.array([4.6])}]
    m = counting_view_metrics(preds, truths)
    assert m["count_acc"] == 0.5 and m["within_1"] == 0.5
    assert abs(m["mae"] - 1.0) < 1e-6 and abs(m["mean_error"] - 1.0) < 1e-6
    assert m["outside_per_image"] is None


def test_matching_is_greedy_by_score_and_class_aware():
    gt = np.array([[0, 0, 10, 10]], np.float32)
    tp = match_detections([[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 10]], [0.5, 0.9, 0.7],
                          [0, 0, 1], gt, [0])
    assert tp.tolist() == [False, True, False]


def test_recall_at_precision_reads_the_lowest_tau_that_reaches_it():
    preds = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32),
              "scores": np.array([0.9, 0.4], np.float32), "classes": np.array([0, 0])}]
    truths = [{"boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32),
               "classes": np.array([0, 0])}]
    precision, recall = precision_recall_at(preds, truths, [0.3, 0.5])
    assert precision.tolist() == [0.5, 1.0] and recall.tolist() == [0.5, 0.5]
    r = recall_at_precision(preds, truths, 0.9, [0.3, 0.5, 0.95])
    assert r == {"threshold": 0.5, "precision": 1.0, "recall": 0.5}
