"""COCO box AP per level from arrays is pycocotools' COCOeval run on each level's images (==)."""
import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dpsnet_d2.evaluation.box_ap import BoxGroundTruth, box_ap_per_level
from dpsnet_d2.utils.cli import UserError


def _case(seed=0, num_images=30, num_classes=4, *, score_digits=1, max_objects=4, dets_per_gt=1,
          extra_dets=0, crowd=0.0, size=60.0):
    """A random COCO dataset and results; ids descending (the per-level results must be
    re-ordered by image id); scores rounded (ties); boxes on a grid (equal IoUs) when small."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []

    def box():
        return [*map(float, np.round(rng.uniform(0, size, 2))),
                *map(float, np.round(rng.uniform(8, 40, 2)))]

    for i in range(num_images):
        image_id = 50 + num_images - i
        images.append({"id": image_id, "width": 100, "height": 100, "file_name": f"{i}.jpg"})
        for _ in range(int(rng.integers(0, max_objects + 1))):
            b, c = box(), int(rng.integers(1, num_classes + 1))
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": c, "bbox": b,
                         "area": b[2] * b[3], "iscrowd": int(rng.random() < crowd)})
            for _ in range(dets_per_gt):
                jitter = [b[0] + float(np.round(rng.normal(0, 3))), b[1], b[2], b[3]]
                results.append({"image_id": image_id, "category_id": c, "bbox": jitter,
                                "score": round(float(rng.uniform(0, 1)), score_digits)})
        for _ in range(extra_dets):
            c = int(rng.integers(1, num_classes + 1))
            results.append({"image_id": image_id, "category_id": c, "bbox": box(),
                            "score": round(float(rng.uniform(0, 1)), score_digits)})
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": c, "name": str(c)} for c in range(1, num_classes + 2)]}
    return gt, results


def _direct(gt, results, image_ids):
    """(mAP50, mmAP) of pycocotools itself on ``image_ids``, -1 as None."""
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO()
        api.dataset = copy.deepcopy(gt)
        api.createIndex()
        evaluator = COCOeval(api, api.loadRes(copy.deepcopy(results)), "bbox")
        evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return tuple(None if s == -1 else s for s in (evaluator.stats[1], evaluator.stats[0]))


def _ours(gt, results, levels):
    n = len(results)
    return box_ap_per_level(
        BoxGroundTruth.from_coco(copy.deepcopy(gt)),
        np.array([r["image_id"] for r in results], np.int64),
        np.array([r["category_id"] for r in results], np.int64),
        np.array([r["bbox"] for r in results], np.float64).reshape(n, 4),
        np.array([r["score"] for r in results], np.float64), levels)


def _levels(gt):
    ids = [im["id"] for im in gt["images"]]
    return {"easy": ids[0::3], "medium": ids[1::3], "hard": ids[2::3], "averaged": ids}


def _assert_equal_to_pycocotools(gt, results, levels=None):
    levels = _levels(gt) if levels is None else levels
    ap = _ours(gt, results, levels)
    assert list(ap) == list(levels)
    for name, level_ids in levels.items():
        map50, mmap = _direct(gt, results, level_ids)
        assert (ap[name]["mAP50"], ap[name]["mmAP"]) == (map50, mmap), name
    return ap


@pytest.mark.parametrize("seed", [0, 1])
def test_levels_and_averaged_match_pycocotools(seed):
    ap = _assert_equal_to_pycocotools(*_case(seed))
    assert 0 < ap["averaged"]["mmAP"] < ap["averaged"]["mAP50"] < 1


def test_equal_scores_and_equal_ious_match_pycocotools():
    # scores with one decimal and integer boxes on a small canvas: many equal scores and IoUs,
    # several detections per object (duplicates compete for the same ground truth)
    _assert_equal_to_pycocotools(*_case(3, num_images=40, num_classes=2, max_objects=6,
                                        dets_per_gt=3, extra_dets=3, size=20.0))


def test_equal_iou_goes_to_the_later_ground_truth():
    # the first detection overlaps A and B equally (IoU 2/3): pycocotools takes the later, B,
    # which leaves A to the second detection (IoU 1 with A, 3/7 with B): both are hits
    boxes = {"A": [0.0, 0.0, 10.0, 10.0], "B": [4.0, 0.0, 10.0, 10.0]}
    gt = {"images": [{"id": 1, "width": 20, "height": 20, "file_name": "1.jpg"}],
          "annotations": [{"id": k + 1, "image_id": 1, "category_id": 1, "bbox": b,
                           "area": 100.0, "iscrowd": 0} for k, b in enumerate(boxes.values())],
          "categories": [{"id": 1, "name": "1"}]}
    results = [{"image_id": 1, "category_id": 1, "bbox": [2.0, 0.0, 10.0, 10.0], "score": 0.9},
               {"image_id": 1, "category_id": 1, "bbox": boxes["A"], "score": 0.8}]
    ap = _assert_equal_to_pycocotools(gt, results, {"averaged": [1]})
    assert ap["averaged"]["mAP50"] == 1.0


def test_more_than_100_detections_per_image_and_category():
    gt, results = _case(4, num_images=6, num_classes=1, max_objects=30, dets_per_gt=5,
                        extra_dets=40, score_digits=2)
    per_image = np.unique([r["image_id"] for r in results], return_counts=True)[1]
    assert per_image.max() > 100
    _assert_equal_to_pycocotools(gt, results)


def test_crowd_ground_truth_matches_pycocotools():
    gt, results = _case(5, num_images=30, num_classes=2, max_objects=5, dets_per_gt=2,
                        crowd=0.3, size=30.0)
    assert any(a["iscrowd"] for a in gt["annotations"])
    _assert_equal_to_pycocotools(gt, results)


def test_images_without_ground_truth_or_detections_and_categories_without_ground_truth():
    gt, results = _case(6, num_images=30, max_objects=3)
    ids = [im["id"] for im in gt["images"]]
    # drop the detections of some images and the ground truth of others
    results = [r for r in results if r["image_id"] not in ids[:5]]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] not in ids[5:10]]
    # a category (4) with detections and no ground truth; category 5 has neither
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] != 4]
    assert any(r["category_id"] == 4 for r in results)
    _assert_equal_to_pycocotools(gt, results)


def test_images_without_level_count_in_averaged_only():
    gt, results = _case(2)
    ids = [im["id"] for im in gt["images"]]
    _assert_equal_to_pycocotools(gt, results, {"easy": ids[:10], "averaged": ids})


def test_no_detections_is_zero_and_no_ground_truth_is_none():
    gt, _ = _case(3)
    ids = [im["id"] for im in gt["images"]]
    assert _ours(gt, [], {"averaged": ids}) == {"averaged": {"mAP50": 0.0, "mmAP": 0.0}}
    gt["annotations"] = []
    assert _ours(gt, [], {"averaged": ids}) == {"averaged": {"mAP50": None, "mmAP": None}}


def test_ground_truth_defaults_and_bad_annotations():
    gt = BoxGroundTruth.from_coco({"annotations": [
        {"image_id": 1, "category_id": 2, "bbox": [0, 0, 3, 4]},
        {"image_id": 1, "category_id": 2, "bbox": [1, 1, 2, 2], "area": 9.0, "iscrowd": 1,
         "id": 7}], "categories": [{"id": 2}, {"id": 1}]})
    assert gt.area.tolist() == [12.0, 9.0] and gt.iscrowd.tolist() == [False, True]
    assert gt.ann_id.tolist() == [1, 7] and gt.category_ids.tolist() == [1, 2]
    with pytest.raises(UserError, match="gt.json: annotation 1 needs image_id"):
        BoxGroundTruth.from_coco({"annotations": [{"image_id": 1, "category_id": 2,
                                                   "bbox": [0, 0, 1, 1]}, {"image_id": 1}],
                                  "categories": []}, source="gt.json")
    with pytest.raises(UserError, match="gt.json: every annotation needs"):
        BoxGroundTruth.from_coco({"annotations": [{"image_id": 1, "category_id": 2,
                                                   "bbox": [0, 0, 1]},
                                                  {"image_id": 1, "category_id": 2,
                                                   "bbox": [0, 0, 1, 1, 1]}]}, source="gt.json")
