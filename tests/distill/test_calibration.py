"""Pseudo-label quality on labelled images and the calibrated threshold."""
import numpy as np

from dpsnet_d2.distill.calibration import (
    agnostic_nms_keep,
    calibrate_threshold,
    selection_quality,
    threshold_grid,
)

BOX_A, BOX_B, BOX_C = [0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]


def _pred(boxes, scores, classes, count):
    return {"boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "scores": np.array(scores, np.float32), "classes": np.array(classes, np.int64),
            "counts": np.array([count], np.float32)}


def _truth(boxes, classes):
    return {"boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "classes": np.array(classes, np.int64)}


def test_agnostic_nms_drops_a_cross_class_duplicate():
    boxes = [BOX_A, [0, 0, 10, 11], BOX_B]
    keep = agnostic_nms_keep(boxes, [0.9, 0.8, 0.7], 0.5)
    assert keep.tolist() == [True, False, True]
    assert agnostic_nms_keep(boxes, [0.9, 0.8, 0.7], 0.0).all()


def test_selection_quality_counts_right_and_wrong_pseudo_labels():
    preds = [
        _pred([BOX_A, BOX_B], [0.9, 0.95], [0, 1], 2.2),        # consistent, both right
        _pred([BOX_A, BOX_B], [0.9, 0.95], [0, 0], 1.9),        # consistent, one wrong class
        _pred([BOX_A, BOX_B, BOX_C], [0.9, 0.95, 0.3], [0, 1, 2], 3.0),  # 2 confident vs 3
    ]
    truths = [_truth([BOX_A, BOX_B], [0, 1]), _truth([BOX_A, BOX_B], [0, 1]),
              _truth([BOX_A, BOX_B, BOX_C], [0, 1, 2])]
    q = selection_quality(preds, truths, threshold=0.8, class_to_channel=[0, 0, 0])
    assert (q["selected"], q["pseudo_boxes"], q["selected_ids"]) == (2, 4, [0, 1])
    assert q["precision"] == 0.75 and q["entirely_correct"] == 0.5
    assert q["rate"] == 2 / 3
    # at tau 0.2 the third image agrees too, all three boxes right
    assert selection_quality(preds, truths, threshold=0.2,
                             class_to_channel=[0, 0, 0])["selected"] == 3
    # MIN_BOXES 3 keeps only images with 3 confident boxes
    assert selection_quality(preds, truths, threshold=0.2, class_to_channel=[0, 0, 0],
                             min_boxes=3)["selected_ids"] == [2]


def test_calibrated_threshold_reaches_the_precision_with_most_images():
    # a wrong box scored 0.6 in every image: below 0.6 it makes the count 3 (inconsistent with
    # a density of 2) or adds a false pseudo box
    preds = [_pred([BOX_A, BOX_B, BOX_C], [0.9, 0.85, 0.6], [0, 1, 2], 2.0) for _ in range(12)]
    truths = [_truth([BOX_A, BOX_B], [0, 1]) for _ in range(12)]
    tau, rows = calibrate_threshold(preds, truths, target_precision=0.95,
                                    class_to_channel=[0, 0, 0], min_pseudo_boxes=20)
    assert tau is not None and 0.6 <= tau <= 0.85  # ties go to the higher tau
    assert next(r for r in rows if r["threshold"] == tau)["selected"] == 12
    assert len(rows) == len(threshold_grid())
    assert rows[0]["selected"] == 0  # at tau 0.30 three boxes are counted against 2
    none, _ = calibrate_threshold(preds, truths, target_precision=0.95,
                                  class_to_channel=[0, 0, 0], min_pseudo_boxes=1000)
    assert none is None
