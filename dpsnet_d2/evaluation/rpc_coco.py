"""
COCO box AP of the RPC protocol (mAP50, mmAP) per level, with faster-coco-eval's
``COCOeval_faster``: pycocotools' COCOeval with the per-image matching and the accumulation in
C++, giving the same numbers (the tests compare them with pycocotools' own runs).

Shapes: D detections, K categories, I images.

As the official tool, each level (and "averaged", all images) is evaluated on its own images:
the per-image matching does not depend on the other images, so it runs once over all images on
IoUs computed once, and each level accumulates its own images' matches. Only the area range and
detection limit that mAP50 / mmAP read are evaluated.
"""
import copy
import logging
import time

import faster_coco_eval.faster_eval_api_cpp as _C
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


def _sorted_groups(image_pos, category, *sort_keys):
    """
    Order records by (image position, category, ``sort_keys``..., record order) and cut them
    into (image, category) groups.

    Returns:
        (order (R,), group image positions (P,), group categories (P,), group starts (P + 1,)).
    """
    order = np.lexsort((np.arange(len(image_pos)), *sort_keys[::-1], category, image_pos))
    img, cat = image_pos[order], category[order]
    new = np.ones(len(order), bool)
    new[1:] = (img[1:] != img[:-1]) | (cat[1:] != cat[:-1])
    starts = np.flatnonzero(new)
    return order, img[starts], cat[starts], np.append(starts, len(order))


def _box_ious(coco_gt, coco_dt, image_ids, category_ids, max_dets):
    """
    The IoU matrices COCOeval's ``computeIoU`` gives for every (image, category), computed at
    once with numpy (the same double arithmetic as pycocotools' ``bbIou``, so the same values):
    rows the detections by descending score (stable, at most ``max_dets``), columns the ground
    truth in dataset order; ``[]`` where either is empty.

    Returns:
        list over ``image_ids`` of lists over ``category_ids`` of D x G nested lists.
    """
    pos = {int(i): k for k, i in enumerate(image_ids)}
    cat_pos = {int(c): k for k, c in enumerate(category_ids)}

    def table(anns, with_score):
        anns = [a for a in anns if a["image_id"] in pos and a["category_id"] in cat_pos]
        img = np.fromiter((pos[a["image_id"]] for a in anns), np.int64, len(anns))
        cat = np.fromiter((cat_pos[a["category_id"]] for a in anns), np.int64, len(anns))
        box = np.asarray([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
        crowd = np.fromiter((int(a.get("iscrowd", 0)) for a in anns), np.int64, len(anns))
        if not with_score:
            return img, cat, box, crowd, None
        return img, cat, box, crowd, np.fromiter((a["score"] for a in anns), np.float64, len(anns))

    g_img, g_cat, g_box, g_crowd, _ = table(coco_gt.dataset.get("annotations", []), False)
    d_img, d_cat, d_box, _, d_score = table(coco_dt.dataset.get("annotations", []), True)
    ious = [[[] for _ in category_ids] for _ in image_ids]
    if not len(g_img) or not len(d_img):
        return ious
    g_order, gi, gc, g_starts = _sorted_groups(g_img, g_cat)
    d_order, di, dc, d_starts = _sorted_groups(d_img, d_cat, -d_score)
    # keep the first max_dets detections of each group, and the groups that have ground truth
    rank = np.arange(len(d_order)) - np.repeat(d_starts[:-1], np.diff(d_starts))
    g_group = {(int(i), int(c)): k for k, (i, c) in enumerate(zip(gi.tolist(), gc.tolist()))}
    d_to_g = np.asarray([g_group.get(key, -1) for key in zip(di.tolist(), dc.tolist())], np.int64)
    d_group = np.repeat(np.arange(len(di)), np.diff(d_starts))
    keep = (rank < max_dets) & (d_to_g[d_group] >= 0)
    d_rows, d_group = d_order[keep], d_group[keep]
    g_of = d_to_g[d_group]
    g_len = np.diff(g_starts)[g_of]
    # every (detection, ground truth) pair of a group, detection-major: row d, then columns g
    pair_d = np.repeat(d_rows, g_len)
    first = np.repeat(np.cumsum(g_len) - g_len, g_len)
    pair_g = g_order[np.repeat(g_starts[:-1][g_of], g_len) + np.arange(len(pair_d)) - first]
    d, g = d_box[pair_d], g_box[pair_g]
    w = np.minimum(d[:, 0] + d[:, 2], g[:, 0] + g[:, 2]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 1] + d[:, 3], g[:, 1] + g[:, 3]) - np.maximum(d[:, 1], g[:, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    d_area, g_area = d[:, 2] * d[:, 3], g[:, 2] * g[:, 3]
    union = np.where(g_crowd[pair_g] > 0, d_area, d_area + g_area - inter)
    iou = np.where(inter > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    # one D x G block per group that has both
    groups, counts = np.unique(d_group, return_counts=True)
    sizes = counts * np.diff(g_starts)[d_to_g[groups]]
    blocks = np.split(iou, np.cumsum(sizes)[:-1])
    for k, n, block in zip(groups.tolist(), counts.tolist(), blocks):
        ious[int(di[k])][int(dc[k])] = block.reshape(n, -1).tolist()
    return ious


def coco_ap_per_level(coco_gt, results, levels):
    """
    COCO box AP per level: the per-image matching (faster-coco-eval's C++ ``evaluateImg``) runs
    once over all images, on IoUs computed once (:func:`_box_ious`), and is accumulated per
    level (C++ ``accumulate`` on the level's images), as if COCOeval ran on each level alone.

    Args:
        coco_gt (COCO): ground truth with the dataset's ids (:func:`coco_from_dict`).
        results (list[dict]): COCO result records (the COCO api adds fields to them).
        levels (dict): name -> (I,) dataset image ids.
    Returns:
        dict: name -> {"mAP50": float or None, "mmAP": float or None} (fractions); 0 for a level
        with ground truth and no detection, None for one without ground truth.
    """
    start = time.perf_counter()
    coco_dt = coco_gt.loadRes(results)
    evaluator = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=logger.debug,
                                separate_eval=True)
    params = evaluator.params
    params.imgIds = sorted({int(i) for ids in levels.values() for i in ids})
    params.catIds = sorted(int(c) for c in params.catIds)
    _only_reported(params)
    evaluator._prepare()  # faster-coco-eval's C++ datasets of ground truth and detections
    ious = _box_ious(coco_gt, coco_dt, params.imgIds, params.catIds, params.maxDets[-1])
    per_image = _C.COCOevalEvaluateImages(
        params.areaRng, params.maxDets[-1], params.iouThrs, ious, evaluator.gt_dataset,
        evaluator.dt_dataset, params.imgIds, params.catIds, bool(params.useCats))
    logger.info("COCO AP: %d images matched in %.1f s", len(params.imgIds),
                time.perf_counter() - start)
    num_images, position = len(params.imgIds), {i: k for k, i in enumerate(params.imgIds)}
    out = {}
    for name, ids in levels.items():
        level = copy.deepcopy(params)
        level.imgIds = sorted({int(i) for i in ids})
        columns = [position[i] for i in level.imgIds]
        # evaluations are ordered (category, area range, image); one area range here
        subset = [per_image[c * num_images + i] for c in range(len(params.catIds))
                  for i in columns]
        evaluator.eval = _C.COCOevalAccumulate(level, subset)
        evaluator.params = level
        out[name] = dict(zip(("mAP50", "mmAP"), _stats(evaluator)))
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
