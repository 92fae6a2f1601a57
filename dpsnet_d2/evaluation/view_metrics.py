"""
Each view of DPSNet measured on labelled images, for diagnosis (tools/benchmark_views.py): how
well the counting view counts and where its density lies, and how many objects the detection
view finds at a given precision. The consistency check needs both: a detector confident on most
objects and a density map that counts products, not the counter.

Shape shorthand — C: density channels, h x w: the density map (stride s of the network input),
G: ground-truth objects of an image (XYXY boxes in image pixels).
"""
from typing import Dict, Sequence, Tuple

import numpy as np

import torch
from torchvision.ops import box_iou

__all__ = ["counting_view_metrics", "density_outside_boxes", "match_detections",
           "precision_recall_at", "recall_at_precision"]


def match_detections(boxes, scores, classes, gt_boxes, gt_classes,
                     iou_threshold: float = 0.5) -> np.ndarray:
    """
    True positives of one image, matched greedily from the highest score down (as COCO does):
    a detection is true when an unmatched ground-truth object of its class overlaps it with
    IoU >= ``iou_threshold``. A detection's flag does not depend on lower-scored detections, so
    the flags of any score threshold are a prefix of this matching.

    Returns:
        (D,) bool, in the order of ``scores``.
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    tp = np.zeros(len(scores), bool)
    gt_classes = np.asarray(gt_classes, np.int64).reshape(-1)
    if not len(scores) or not len(gt_classes):
        return tp
    iou = box_iou(torch.as_tensor(np.asarray(boxes, np.float64).reshape(-1, 4)),
                  torch.as_tensor(np.asarray(gt_boxes, np.float64).reshape(-1, 4))).numpy()
    iou[np.asarray(classes, np.int64).reshape(-1, 1) != gt_classes.reshape(1, -1)] = -1.0
    used = np.zeros(len(gt_classes), bool)
    for d in np.argsort(-scores, kind="stable"):
        row = np.where(used, -1.0, iou[d])
        g = int(row.argmax())
        if row[g] >= iou_threshold:
            used[g] = tp[d] = True
    return tp


def precision_recall_at(predictions: Sequence[Dict], truths: Sequence[Dict],
                        thresholds: Sequence[float], iou_threshold: float = 0.5
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """
    Class-aware detection precision and recall of the boxes with score > tau, for each tau.

    Returns:
        precision (T,), recall (T,); precision is 1 where no box passes.
    """
    scores, hits = [], []
    for p, t in zip(predictions, truths):
        scores.append(np.asarray(p["scores"], np.float64).reshape(-1))
        hits.append(match_detections(p["boxes"], p["scores"], p["classes"], t["boxes"],
                                     t["classes"], iou_threshold))
    scores, hits = np.concatenate(scores or [[]]), np.concatenate(hits or [[]]).astype(bool)
    num_gt = sum(len(np.asarray(t["classes"]).reshape(-1)) for t in truths)
    taus = np.asarray(thresholds, np.float64).reshape(-1, 1)
    above = scores.reshape(1, -1) > taus  # T x all detections
    n, tp = above.sum(1), (above & hits.reshape(1, -1)).sum(1)
    precision = np.where(n > 0, tp / np.maximum(n, 1), 1.0)
    return precision, tp / max(num_gt, 1)


def density_outside_boxes(density: np.ndarray, boxes: np.ndarray, image_hw) -> float:
    """
    Objects' worth of density outside every ground-truth box.

    Args:
        density: C x h x w, the counting view's map of one image (channels are summed).
        boxes: G x 4 XYXY in image pixels (``image_hw``: the image's H, W).
    Returns:
        the density mass over map cells whose centre lies in no box.
    """
    total = np.asarray(density, np.float64).reshape(-1, *density.shape[-2:]).sum(0)
    h, w = total.shape
    inside = np.zeros((h, w), bool)
    sy, sx = h / float(image_hw[0]), w / float(image_hw[1])  # image pixels -> map cells
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        # cells whose centre (j + 0.5) lies in [x0, x1) in map units
        c0, c1 = int(np.ceil(x0 * sx - 0.5)), int(np.ceil(x1 * sx - 0.5))
        r0, r1 = int(np.ceil(y0 * sy - 0.5)), int(np.ceil(y1 * sy - 0.5))
        inside[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
    return float(total[~inside].sum())


def counting_view_metrics(predictions: Sequence[Dict], truths: Sequence[Dict]) -> Dict:
    """
    The counting view's total count against the number of ground-truth objects.

    Args:
        predictions: per image ``counts`` (C,) and, for the outside measure, ``density``.
        truths: per image ``boxes`` G x 4, ``height``, ``width``.
    Returns:
        dict: ``count_acc`` (rounded total == G), ``within_1``, ``mae``, ``mean_error``
        (signed, > 0 over-counts), and ``outside_per_image`` (mean density outside the boxes;
        None without density maps), over the images.
    """
    errors, outside = [], []
    for p, t in zip(predictions, truths):
        total = float(np.asarray(p["counts"], np.float64).sum())
        errors.append(total - len(np.asarray(t["boxes"]).reshape(-1, 4)))
        if "density" in p:
            outside.append(density_outside_boxes(p["density"], t["boxes"],
                                                 (t["height"], t["width"])))
    errors = np.asarray(errors, np.float64)
    rounded = np.floor(errors + 0.5)  # the count is rounded half up; G is an integer
    return {
        "images": len(errors),
        "count_acc": float(np.mean(rounded == 0)) if len(errors) else None,
        "within_1": float(np.mean(np.abs(rounded) <= 1)) if len(errors) else None,
        "mae": float(np.mean(np.abs(errors))) if len(errors) else None,
        "mean_error": float(np.mean(errors)) if len(errors) else None,
        "outside_per_image": float(np.mean(outside)) if outside else None,
    }


def recall_at_precision(predictions: Sequence[Dict], truths: Sequence[Dict],
                        min_precision: float, thresholds: Sequence[float]) -> Dict:
    """
    Class-aware detection recall (IoU 0.5) at the lowest tau of ``thresholds`` whose precision
    is at least ``min_precision`` (with at least one true box: no box at all is no recall).

    Returns:
        dict: ``threshold`` (None when no tau reaches the precision), ``precision``, ``recall``.
    """
    precision, recall = precision_recall_at(predictions, truths, thresholds)
    ok = np.flatnonzero((precision >= min_precision) & (recall > 0))
    if not len(ok):
        return {"threshold": None, "precision": None, "recall": 0.0}
    i = int(ok[0])
    return {"threshold": float(thresholds[i]), "precision": float(precision[i]),
            "recall": float(recall[i])}
