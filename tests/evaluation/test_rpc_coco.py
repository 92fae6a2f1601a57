"""COCO AP per level (faster-coco-eval) is pycocotools' COCOeval run on each level's images."""
import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dpsnet_d2.evaluation.rpc_coco import coco_ap_per_level, coco_from_dict


def _case(seed=0, num_images=30, num_classes=4):
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for i in range(num_images):
        # ids descending: the per-level results must be re-ordered for "averaged"
        images.append({"id": 50 - i, "width": 100, "height": 100, "file_name": f"{i}.jpg"})
        for _ in range(int(rng.integers(1, 5))):
            box = [*map(float, rng.uniform(0, 60, 2)), *map(float, rng.uniform(8, 40, 2))]
            c = int(rng.integers(1, num_classes + 1))
            anns.append({"id": len(anns) + 1, "image_id": 50 - i, "category_id": c, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
            jitter = [box[0] + float(rng.normal(0, 3)), box[1], box[2], box[3]]
            results.append({"image_id": 50 - i, "category_id": c, "bbox": jitter,
                            "score": round(float(rng.uniform(0, 1)), 1)})  # ties across images
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": c, "name": str(c)} for c in range(1, num_classes + 1)]}
    return gt, results


def _direct(gt, results, image_ids):
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO()  # pycocotools itself, the reference
        api.dataset = copy.deepcopy(gt)
        api.createIndex()
        evaluator = COCOeval(api, api.loadRes(copy.deepcopy(results)), "bbox")
        evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats[1], evaluator.stats[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_levels_and_averaged_match_direct_cocoeval(seed):
    gt, results = _case(seed)
    ids = [im["id"] for im in gt["images"]]
    levels = {"easy": ids[0::3], "medium": ids[1::3], "hard": ids[2::3], "averaged": ids}
    ap = coco_ap_per_level(coco_from_dict(copy.deepcopy(gt)), copy.deepcopy(results), levels)
    assert list(ap) == list(levels)
    for name, level_ids in levels.items():
        map50, mmap = _direct(gt, results, level_ids)
        assert ap[name]["mAP50"] == map50 and ap[name]["mmAP"] == mmap, name


def test_images_without_level_count_in_averaged_only():
    gt, results = _case(2)
    ids = [im["id"] for im in gt["images"]]
    levels = {"easy": ids[:10], "averaged": ids}
    ap = coco_ap_per_level(coco_from_dict(copy.deepcopy(gt)), copy.deepcopy(results), levels)
    assert ap["averaged"]["mAP50"] == _direct(gt, results, ids)[0]
    assert ap["easy"]["mmAP"] == _direct(gt, results, ids[:10])[1]


def test_no_detections_is_zero_and_no_ground_truth_is_none():
    gt, _ = _case(3)
    ids = [im["id"] for im in gt["images"]]
    ap = coco_ap_per_level(coco_from_dict(gt), [], {"averaged": ids})
    assert ap == {"averaged": {"mAP50": 0.0, "mmAP": 0.0}}
    gt["annotations"] = []
    ap = coco_ap_per_level(coco_from_dict(gt), [], {"averaged": ids})
    assert ap == {"averaged": {"mAP50": None, "mmAP": None}}
