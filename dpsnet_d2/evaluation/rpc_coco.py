"""
COCO box AP of the RPC protocol (mAP50, mmAP) per level, with pycocotools' COCOeval.

Shapes: D detections, K categories, A area ranges, I images.

The official tool runs COCOeval once on all images and once per level on the level's ground
truth. COCOeval's per-image results (``evalImgs``, laid out [category][area][image] with images
in ascending id order) depend only on that image, so here each level's images are evaluated
once, and the "averaged" AP accumulates the levels' per-image results re-ordered by image id.
The per-image step (:func:`_evaluate`) calls COCOeval's own ``computeIoU`` / ``evaluateImg``
only for the (image, category) pairs with ground truth or detections (pycocotools returns
[] / None for the others): on RPC, ~20 of 200 categories per image; and only for the area
range and detection limit that mAP50 / mmAP read. The numbers are COCOeval's (tests compare
them with plain ``evaluate()`` / ``summarize()`` runs per level).
"""
import contextlib
import copy
import io
import logging
import time

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .rpc_protocol import AVERAGED, build_report, evaluate_counts

__all__ = ["coco_from_dict", "coco_results", "coco_ap_per_level", "rpc_report"]

logger = logging.getLogger(__name__)


def coco_from_dict(dataset):
    """
    A pycocotools COCO api over a COCO-style dict (no file, no prints). Annotations without
    ``area`` (unused by RPC) get the box area and those without ``iscrowd`` get 0, in place.
    """
    for ann in dataset.get("annotations", ()):
        if "area" not in ann:
            ann["area"] = float(ann["bbox"][2]) * float(ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO()
        api.dataset = dataset
        api.createIndex()
    return api


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


def _evaluate(evaluator):
    """
    ``COCOeval.evaluate()`` for bbox with categories, calling ``computeIoU`` / ``evaluateImg`` only
    for (image, category) pairs that have ground truth or detections; the other entries of
    ``evalImgs`` are None, as ``evaluateImg`` returns for them. Sets ``evalImgs``, ``ious`` and
    ``_paramsEval`` as pycocotools does.
    """
    p = evaluator.params
    if p.iouType != "bbox" or not p.useCats:
        raise ValueError("only bbox evaluation per category is supported")
    p.imgIds = list(np.unique(p.imgIds))
    p.catIds = list(np.unique(p.catIds))
    p.maxDets = sorted(p.maxDets)
    evaluator._prepare()
    pairs = set(evaluator._gts) | set(evaluator._dts)
    evaluator.ious = {pair: evaluator.computeIoU(*pair) for pair in pairs}
    image_pos = {int(i): n for n, i in enumerate(p.imgIds)}
    category_pos = {int(c): n for n, c in enumerate(p.catIds)}
    num_images, num_areas, max_det = len(p.imgIds), len(p.areaRng), p.maxDets[-1]
    eval_imgs = [None] * (len(p.catIds) * num_areas * num_images)
    for image, category in pairs:
        base = category_pos[category] * num_areas * num_images + image_pos[image]
        for a, area in enumerate(p.areaRng):
            eval_imgs[base + a * num_images] = evaluator.evaluateImg(image, category, area, max_det)
    evaluator.evalImgs = eval_imgs
    evaluator._paramsEval = copy.deepcopy(p)


def _accumulate(coco_gt, coco_dt, params, image_ids, eval_imgs):
    """COCOeval accumulated over per-image results ``eval_imgs`` (K, A, I) of ``image_ids`` (I,)."""
    evaluator = COCOeval(coco_gt, coco_dt, "bbox")
    evaluator.params = copy.deepcopy(params)
    evaluator.params.imgIds = list(image_ids)
    evaluator._paramsEval = copy.deepcopy(evaluator.params)
    evaluator.evalImgs = eval_imgs.reshape(-1).tolist()
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.accumulate()
    return _stats(evaluator)


def coco_ap_per_level(coco_gt, results, levels):
    """
    Args:
        coco_gt (COCO): ground truth with the dataset's ids.
        results (list[dict]): COCO result records (pycocotools adds fields to them).
        levels (dict): name -> (I,) dataset image ids; the names other than "averaged" must be
            disjoint, and "averaged" (if present) their union.
    Returns:
        dict: name -> {"mAP50": float or None, "mmAP": float or None} (fractions); 0 for a level
        with ground truth and no detection, None for one without ground truth.
    """
    parts = {name: np.unique(np.asarray(ids, dtype=np.int64))
             for name, ids in levels.items() if name != AVERAGED}
    if AVERAGED in levels:
        in_levels = np.concatenate([np.zeros(0, np.int64), *parts.values()])
        rest = np.setdiff1d(np.asarray(levels[AVERAGED], dtype=np.int64), in_levels)
        if rest.size:
            parts[""] = rest
    if not results:
        out = {}
        for name, ids in levels.items():
            has_gt = len(coco_gt.getAnnIds(imgIds=[int(i) for i in ids])) > 0
            out[name] = {"mAP50": 0.0 if has_gt else None, "mmAP": 0.0 if has_gt else None}
        return out

    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(results)
    per_part, params, out = {}, None, {}
    for name, ids in parts.items():
        start = time.perf_counter()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.params.imgIds = ids.tolist()
        _only_reported(evaluator.params)
        _evaluate(evaluator)
        params = evaluator._paramsEval
        shape = (len(params.catIds), len(params.areaRng), len(params.imgIds))
        eval_imgs = np.empty(len(evaluator.evalImgs), dtype=object)
        eval_imgs[:] = evaluator.evalImgs
        per_part[name] = (np.asarray(params.imgIds, dtype=np.int64), eval_imgs.reshape(shape))
        if name:
            ap50, mmap = _accumulate(coco_gt, coco_dt, params, *per_part[name])
            out[name] = {"mAP50": ap50, "mmAP": mmap}
        logger.info("COCO AP: %d images of level %r evaluated in %.1f s", len(ids),
                    name or "(none)", time.perf_counter() - start)
    if AVERAGED in levels:
        ids = np.concatenate([p[0] for p in per_part.values()])
        order = np.argsort(ids, kind="stable")
        eval_imgs = np.concatenate([p[1] for p in per_part.values()], axis=2)[:, :, order]
        ap50, mmap = _accumulate(coco_gt, coco_dt, params, ids[order], eval_imgs)
        out[AVERAGED] = {"mAP50": ap50, "mmAP": mmap}
    return {name: out[name] for name in levels}


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
                    "images (pycocotools; skip it with compute_map=False / --no-map)")
        buckets = {name: gt.image_ids[idx] for name, idx in gt.buckets()}
        ap = coco_ap_per_level(coco_gt, results, buckets)
    num_channels = None if counts is None else counts.shape[1]
    return build_report(levels, history, ap, dataset=dataset, num_channels=num_channels,
                        num_classes=gt.num_classes)
