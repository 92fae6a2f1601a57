"""
COCO box AP of the RPC protocol (mAP50, mmAP) per level, with faster-coco-eval's
``COCOeval_faster``: pycocotools' COCOeval with the per-image matching and the accumulation in
C++, giving the same numbers (the tests compare them with pycocotools' own runs).

Shapes: D detections, K categories, I images.

As the official tool, each level (and "averaged", all images) is evaluated on its own images.
Only the area range and detection limit that mAP50 / mmAP read are evaluated.
"""
import logging
import time

import numpy as np
from faster_coco_eval import COCO, COCOeval_faster

from .rpc_protocol import build_report, evaluate_counts

__all__ = ["coco_from_dict", "coco_results", "coco_ap_per_level", "rpc_report"]

logger = logging.getLogger(__name__)


def coco_from_dict(dataset):
    """
    A COCO api (faster-coco-eval's, pycocotools' interface) over a COCO-style dict; no prints.
    Annotations without ``area`` (unused by RPC) get the box area and those without ``iscrowd``
    get 0, in place.
    """
    for ann in dataset.get("annotations", ()):
        if "area" not in ann:
            ann["area"] = float(ann["bbox"][2]) * float(ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
    return COCO(dataset, print_function=logger.debug)


def coco_results(gt, det):
    """
    COCO result records of detections, with the dataset's own image and category ids; boxes are
    rounded to 0.001 px (a shorter file; AP is computed from these same records), scores exact.

    Args:
        gt (RPCGroundTruth), det (Detections).
    Returns:
        list[dict]: {"image_id", "category_id", "bbox" [x, y, w, h], "score"} per detection (D).
    """
    image_ids = gt.image_ids[det.image].tolist()
    category_ids = np.asarray(gt.category_ids, dtype=np.int64)[det.cls].tolist()
    boxes = np.round(np.asarray(det.boxes, dtype=np.float64), 3).tolist()
    scores = np.asarray(det.score).tolist()
    return [
        {"image_id": i, "category_id": c, "bbox": b, "score": s}
        for i, c, b, s in zip(image_ids, category_ids, boxes, scores)
    ]


def _only_reported(params):
    """
    Keep in COCOeval params only what mAP50 / mmAP read: ``summarize()``'s first two stats use
    area "all" and 100 detections per image; other areas and limits are evaluated and
    accumulated independently of them, so dropping them changes neither number.
    """
    params.areaRng = [params.areaRng[params.areaRngLbl.index("all")]]
    params.areaRngLbl = ["all"]
    params.maxDets = [100]


def _stats(evaluator):
    """
    (mAP50, mmAP) fractions of an accumulated COCOeval, as ``summarize()``'s stats[1] and
    stats[0]: the mean precision over IoU .5 (resp. .5:.95), recall levels and categories with
    ground truth; None without ground truth.
    """
    precision = evaluator.eval["precision"][..., 0, 0]  # (T IoUs, R recalls, K categories)
    at_50 = precision[np.flatnonzero(evaluator.params.iouThrs == 0.5)]
    return tuple(float(np.mean(p[p > -1])) if np.any(p > -1) else None for p in (at_50, precision))


def coco_ap_per_level(coco_gt, results, levels):
    """
    Args:
        coco_gt (COCO): ground truth with the dataset's ids (:func:`coco_from_dict`).
        results (list[dict]): COCO result records (the COCO api adds fields to them).
        levels (dict): name -> (I,) dataset image ids.
    Returns:
        dict: name -> {"mAP50": float or None, "mmAP": float or None} (fractions); 0 for a level
        with ground truth and no detection, None for one without ground truth.
    """
    coco_dt = coco_gt.loadRes(results)
    out = {}
    for name, ids in levels.items():
        start = time.perf_counter()
        evaluator = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=logger.debug)
        evaluator.params.imgIds = sorted({int(i) for i in ids})
        _only_reported(evaluator.params)
        evaluator.evaluate()
        evaluator.accumulate()
        ap50, mmap = _stats(evaluator)
        out[name] = {"mAP50": ap50, "mmAP": mmap}
        logger.info("COCO AP: %d images of level %r evaluated in %.1f s", len(ids), name,
                    time.perf_counter() - start)
    return out


def rpc_report(gt, det, *, dataset, score_threshold=None, counts=None, coco_gt=None,
               results=None):
    """
    The whole RPC report of one set of predictions: count metrics per level and threshold mode
    (:func:`.rpc_protocol.evaluate_counts`) and, when ``coco_gt`` is given, COCO AP per level.

    Args:
        gt (RPCGroundTruth): N images.
        det (Detections): D detections on them.
        dataset (str): name shown in the report.
        score_threshold (float or None): threshold of the ``fixed`` mode.
        counts: (N, C) density counts or None.
        coco_gt (COCO or None): ground truth for mAP50 / mmAP; None skips them.
        results (list or None): COCO result records of ``det``; default :func:`coco_results`.
    Returns:
        the report dict of :func:`.rpc_protocol.build_report`.
    """
    levels, history = evaluate_counts(gt, det, score_threshold=score_threshold, counts=counts)
    ap = None
    if coco_gt is not None:
        results = coco_results(gt, det) if results is None else results
        logger.info(f"RPC evaluation: COCO AP of {len(results)} detections on {gt.num_images} "
                    "images (faster-coco-eval; skip it with compute_map=False / --no-map)")
        buckets = {name: gt.image_ids[idx] for name, idx in gt.buckets()}
        ap = coco_ap_per_level(coco_gt, results, buckets)
    num_channels = None if counts is None else counts.shape[1]
    return build_report(levels, history, ap, dataset=dataset, num_channels=num_channels,
                        num_classes=gt.num_classes)
