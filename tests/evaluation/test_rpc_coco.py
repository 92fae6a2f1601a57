"""The results file written from arrays is json.dumps's text of the records; rpc_report's AP."""
import json

import numpy as np
import pytest

from dpsnet_d2.evaluation.rpc_coco import (
    coco_ground_truth,
    results_json,
    rounded_boxes,
    rpc_report,
)
from dpsnet_d2.evaluation.rpc_protocol import Detections, RPCGroundTruth


def _gt():
    return RPCGroundTruth.from_dataset_dicts(
        [{"image_id": 7, "level": "easy", "annotations": [{"category_id": 0}]},
         {"image_id": 3, "level": "hard", "annotations": [{"category_id": 1}]}],
        [10, 20], source="test")


def _detections(rng, n):
    boxes = np.concatenate([rng.uniform(-5, 1e4, (n, 2)), rng.uniform(0, 1e3, (n, 2))], axis=1)
    boxes[:3] = [[0.0, -0.0, 1e-7, 1e17], [1 / 3, 2.5, 1e16, 12345.678], [0.1, 0.2, 0.3, 0.0]]
    score = rng.uniform(0, 1, n).astype(np.float32).astype(np.float64)
    score[:2] = [0.0, 1.0]
    return Detections(image=rng.integers(0, 2, n), cls=rng.integers(0, 2, n), score=score,
                      boxes=boxes)


def test_results_json_is_the_text_of_json_dumps():
    gt, det = _gt(), rounded_boxes(_detections(np.random.default_rng(0), 50))
    records = [{"image_id": int(gt.image_ids[i]), "category_id": int(gt.category_ids[c]),
                "bbox": b, "score": s}
               for i, c, b, s in zip(det.image, det.cls, det.boxes.tolist(), det.score.tolist())]
    text = results_json(gt, det)
    assert text == json.dumps(records)
    assert json.loads(text) == records
    assert results_json(gt, Detections(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                       np.zeros(0), np.zeros((0, 4)))) == "[]"


def test_rounded_boxes_keep_0_001_px():
    det = _detections(np.random.default_rng(1), 20)
    rounded = rounded_boxes(det)
    assert np.array_equal(rounded.boxes, np.round(det.boxes, 3))
    assert rounded.score is det.score and not np.array_equal(rounded.boxes, det.boxes)


def test_rpc_report_reads_ap_per_level_from_the_detections():
    gt = _gt()
    coco = {"annotations": [
        {"id": 1, "image_id": 7, "category_id": 10, "bbox": [0.0, 0.0, 10.0, 10.0]},
        {"id": 2, "image_id": 3, "category_id": 20, "bbox": [5.0, 5.0, 10.0, 10.0]}],
        "categories": [{"id": 10}, {"id": 20}]}
    # image 7 found; image 3: only a detection of the wrong class
    det = Detections(image=np.array([0, 1]), cls=np.array([0, 0]), score=np.array([0.9, 0.8]),
                     boxes=np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 10.0, 10.0]]))
    report = rpc_report(gt, det, dataset="t", coco_gt=coco_ground_truth(coco))
    rows = {(r["level"], r["method"]): r for r in report["rows"]}
    assert rows["easy", "sweep"]["mAP50"] == pytest.approx(100.0)
    assert rows["hard", "sweep"]["mAP50"] == 0.0
    assert rows["averaged", "sweep"]["mAP50"] == pytest.approx(50.0)
    assert rpc_report(gt, det, dataset="t")["rows"][0]["mAP50"] is None
