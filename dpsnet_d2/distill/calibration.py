"""
How good the consistency check's pseudo labels are on *labelled* images, and the threshold tau
that makes them good enough: the calibrated tau mode of distillation, and the measurements of
tools/benchmark_views.py.

The run stays label-free on the target: tau is calibrated on labelled **source** images
(synthesized scenes never trained on), never on target labels. On target images the same
measures are an audit, after the fact.

Shape shorthand — D: detections of one image, G: its ground-truth objects, C: density channels.
A prediction is a dict ``boxes`` D x 4 XYXY, ``scores`` (D,), ``classes`` (D,), ``counts`` (C,)
(what :func:`~dpsnet_d2.engine.distill_predict.predict_images` returns); a truth is a dict
``boxes`` G x 4 XYXY and ``classes`` (G,) in the same image coordinates.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torchvision.ops import nms

from ..evaluation.view_metrics import match_detections
from .consistency import check_consistency

__all__ = [
    "agnostic_nms_keep",
    "apply_agnostic_nms",
    "calibrate_threshold",
    "selection_quality",
    "threshold_grid",
]


def threshold_grid(lo: float = 0.30, hi: float = 0.99, step: float = 0.01) -> np.ndarray:
    """Candidate thresholds, ascending: lo, lo + step, ..., hi (rounded to 1e-6)."""
    return np.round(np.arange(lo, hi + step / 2, step), 6)


def agnostic_nms_keep(boxes, scores, iou_threshold: float) -> np.ndarray:
    """
    Class-agnostic non-maximum suppression: one box per object whatever its class (per-class NMS
    leaves near-identical boxes of two similar SKUs, which the detection count counts twice).

    Args:
        boxes: D x 4 XYXY; scores: (D,); iou_threshold: suppress a box overlapping a
            higher-scored one by more than this; <= 0 or >= 1 keeps every box.
    Returns:
        (D,) bool, the boxes kept.
    """
    scores = np.asarray(scores, np.float32).reshape(-1)
    keep = np.zeros(len(scores), bool)
    if not 0 < iou_threshold < 1 or len(scores) == 0:
        keep[:] = True
        return keep
    kept = nms(torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
               torch.as_tensor(scores), float(iou_threshold))
    keep[kept.numpy()] = True
    return keep


def apply_agnostic_nms(predictions: Sequence[Dict], iou_threshold: float) -> List[Dict]:
    """The predictions with only the boxes :func:`agnostic_nms_keep` keeps (copies)."""
    out = []
    for p in predictions:
        keep = agnostic_nms_keep(p["boxes"], p["scores"], iou_threshold)
        out.append({**p, **{k: np.asarray(p[k])[keep] for k in ("boxes", "scores", "classes")}})
    return out


def selection_quality(predictions: Sequence[Dict], truths: Sequence[Dict], *, threshold: float,
                      class_to_channel: Sequence[int], min_boxes: int = 0,
                      nms_iou: float = 0.0, iou_threshold: float = 0.5) -> Dict:
    """
    The consistency check at ``threshold`` over labelled images (after class-agnostic NMS at
    ``nms_iou``, 0: none), and how right its pseudo labels are.

    Returns:
        dict: ``images``, ``selected`` (consistent images), ``rate`` (selected / images),
        ``pseudo_boxes``, ``precision`` (pseudo boxes matching a ground-truth object of their
        class; None without pseudo boxes), ``recall`` (matched / ground-truth objects of the
        selected images), ``entirely_correct`` (share of selected images whose pseudo labels are
        exactly their ground truth; None when none is selected), ``selected_ids`` (indices).
    """
    if 0 < nms_iou < 1:
        predictions = apply_agnostic_nms(predictions, nms_iou)
    selected, boxes, hits, objects, exact = [], 0, 0, 0, 0
    for i, (p, t) in enumerate(zip(predictions, truths)):
        result = check_consistency(p["scores"], p["classes"], p["counts"], threshold=threshold,
                                   class_to_channel=class_to_channel, min_boxes=min_boxes)
        if not result.consistent:
            continue
        chosen = result.keep
        tp = match_detections(np.asarray(p["boxes"]).reshape(-1, 4)[chosen],
                              np.asarray(p["scores"])[chosen], np.asarray(p["classes"])[chosen],
                              t["boxes"], t["classes"], iou_threshold)
        num_gt = len(np.asarray(t["classes"]).reshape(-1))
        selected.append(i)
        boxes, hits, objects = boxes + len(tp), hits + int(tp.sum()), objects + num_gt
        exact += int(tp.all() and len(tp) == num_gt)
    n = len(predictions)
    return {
        "images": n,
        "selected": len(selected),
        "rate": len(selected) / max(n, 1),
        "pseudo_boxes": boxes,
        "precision": hits / boxes if boxes else None,
        "recall": hits / objects if objects else None,
        "entirely_correct": exact / len(selected) if selected else None,
        "selected_ids": selected,
    }


def calibrate_threshold(predictions: Sequence[Dict], truths: Sequence[Dict], *,
                        target_precision: float, class_to_channel: Sequence[int],
                        min_boxes: int = 0, nms_iou: float = 0.0,
                        grid: Optional[Sequence[float]] = None,
                        min_pseudo_boxes: int = 20) -> Tuple[Optional[float], List[Dict]]:
    """
    The tau that selects the most labelled (source) images while their pseudo boxes keep at
    least ``target_precision`` precision (with at least ``min_pseudo_boxes`` pseudo boxes, so
    the precision is measured, not guessed); ties go to the higher tau.

    Returns:
        (tau or None when no candidate reaches the target, one :func:`selection_quality` row per
        candidate with its ``threshold``).
    """
    if 0 < nms_iou < 1:
        predictions = apply_agnostic_nms(predictions, nms_iou)
    rows, best = [], None
    for tau in threshold_grid() if grid is None else grid:
        row = selection_quality(predictions, truths, threshold=float(tau),
                                class_to_channel=class_to_channel, min_boxes=min_boxes)
        row = {"threshold": float(tau), **{k: v for k, v in row.items() if k != "selected_ids"}}
        rows.append(row)
        ok = row["pseudo_boxes"] >= min_pseudo_boxes and row["precision"] >= target_precision
        if ok and (best is None or row["selected"] >= best["selected"]):
            best = row
    return (best["threshold"] if best else None), rows
