"""
COCO box AP per level (mAP50, mmAP) from arrays: equal as floats to pycocotools' COCOeval
(``evaluate``, ``accumulate``, ``summarize``; "bbox", area "all", 100 detections) run on each
level's images alone, without the COCO api objects.

Shapes: G ground-truth boxes, D detections, I images, K categories, T IoU thresholds (10),
R recall thresholds (101).

The matching (:func:`.box_matching.match_boxes`) does not depend on the other images, so it runs
once for all images; each level then accumulates its own images' detections as pycocotools:
per category, the kept detections of the level's images in image-id order (by rank within an
image), stably sorted by descending score, cumulative true / false positives, precision made
non-increasing from the right and read at the recall thresholds; -1 for a category without
regular ground truth in the level. mAP = the mean of the precisions > -1 (``summarize()``).
"""
import itertools
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from ..utils.cli import UserError
from .box_matching import AREA_ALL, IOU_THRESHOLDS, MAX_DETS, match_boxes, sorted_groups

__all__ = ["BoxGroundTruth", "box_ap_per_level"]

RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
_ANNOTATION_KEYS = frozenset({"image_id", "category_id", "bbox"})


@dataclass(frozen=True)
class BoxGroundTruth:
    """The G ground-truth boxes of a COCO dataset in its annotation order, and its categories."""

    image_id: np.ndarray  # (G,) int64 dataset image id
    category_id: np.ndarray  # (G,) int64 dataset category id
    boxes: np.ndarray  # (G, 4) float64 XYWH
    area: np.ndarray  # (G,) float64 "area" (the box area where missing)
    iscrowd: np.ndarray  # (G,) bool
    ann_id: np.ndarray  # (G,) int64 "id" (pycocotools reads a match to id 0 as no match)
    category_ids: np.ndarray  # (K,) int64 sorted ids of the dataset's "categories"

    @classmethod
    def from_coco(cls, dataset, *, source="COCO ground truth"):
        """
        From a COCO-style dict ("annotations" with "image_id", "category_id", "bbox" [x, y, w,
        h], optional "area", "iscrowd", "id"; "categories" with "id"). ``source`` names it in
        errors.
        """
        anns = dataset.get("annotations") or []
        n = len(anns)
        try:
            bboxes = list(map(itemgetter("bbox"), anns))
            if set(map(len, bboxes)) - {4}:
                raise ValueError("a bbox is not [x, y, w, h]")
            boxes = np.fromiter(itertools.chain.from_iterable(bboxes), np.float64).reshape(n, 4)
            return cls(
                image_id=_column(anns, "image_id", np.int64),
                category_id=_column(anns, "category_id", np.int64),
                boxes=boxes,
                area=_column(anns, "area", np.float64, lambda j: boxes[j, 2] * boxes[j, 3]),
                iscrowd=_column(anns, "iscrowd", np.int64, lambda j: 0) != 0,
                ann_id=_column(anns, "id", np.int64, lambda j: j + 1),
                category_ids=np.unique(np.fromiter(
                    map(itemgetter("id"), dataset.get("categories") or []), np.int64)),
            )
        except (KeyError, TypeError, ValueError) as e:
            bad = next((j for j, a in enumerate(anns) if not isinstance(a, dict)
                        or not _ANNOTATION_KEYS <= a.keys()), None)
            where = "every annotation" if bad is None else f"annotation {bad}"
            raise UserError(f"{source}: {where} needs image_id, category_id and bbox [x, y, w, "
                            f"h] as numbers, categories an id ({type(e).__name__}: {e})") from e


def _column(anns, key, dtype, default=None):
    """(G,) ``key`` of every annotation; ``default(j)`` where annotation j has none (None: the
    key is required)."""
    try:
        return np.fromiter(map(itemgetter(key), anns), dtype, len(anns))
    except KeyError:
        if default is None:
            raise
        return np.fromiter((a[key] if key in a else default(j) for j, a in enumerate(anns)),
                           dtype, len(anns))


def _positions(ids, cats, image_ids, category_ids):
    """(kept mask, image positions, category positions) of records on ``image_ids`` (sorted)
    and ``category_ids`` (sorted); the others are not evaluated, as in pycocotools."""
    img = np.searchsorted(image_ids, ids).clip(max=max(len(image_ids) - 1, 0))
    cat = np.searchsorted(category_ids, cats).clip(max=max(len(category_ids) - 1, 0))
    keep = np.zeros(len(ids), bool)
    if len(image_ids) and len(category_ids):
        keep = (image_ids[img] == ids) & (category_ids[cat] == cats)
    return keep, img[keep], cat[keep]


def _precision(tp, fp, category, num_gt):
    """
    pycocotools' ``accumulate`` of one level, area "all", 100 detections.

    Args:
        tp, fp (n, T) bool: the level's detections in accumulation order (category, then
            descending score, image id, rank).
        category (n,): their category positions (non-decreasing).
        num_gt (K,): regular ground-truth boxes per category in the level.
    Returns:
        (T, R, K) float64 precision, -1 where a category has no regular ground truth.
    """
    num_t, num_r = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    precision = -np.ones((num_t, num_r, len(num_gt)))
    bounds = np.searchsorted(category, np.arange(len(num_gt) + 1))
    for k in np.flatnonzero(num_gt):
        lo, hi = bounds[k], bounds[k + 1]
        tp_sum = np.cumsum(tp[lo:hi].T, axis=1).astype(np.float64)  # (T, n_k)
        fp_sum = np.cumsum(fp[lo:hi].T, axis=1).astype(np.float64)
        recall = tp_sum / num_gt[k]
        prec = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        prec = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
        q = np.zeros((num_t, num_r))
        for t in range(num_t):
            at = np.searchsorted(recall[t], RECALL_THRESHOLDS, side="left")
            ok = at < hi - lo
            q[t, ok] = prec[t, at[ok]]
        precision[:, :, k] = q
    return precision


def _stats(precision):
    """(mAP50, mmAP) of a (T, R, K) precision as ``summarize()``'s stats[1] and stats[0]; None
    without ground truth."""
    at_50 = precision[IOU_THRESHOLDS == 0.5]
    return tuple(float(np.mean(p[p > -1])) if np.any(p > -1) else None
                 for p in (at_50, precision))


def box_ap_per_level(gt, image_id, category_id, boxes, score, levels):
    """
    COCO box AP per level, as pycocotools' COCOeval run on each level's images alone.

    Args:
        gt (BoxGroundTruth): ground truth with the dataset's ids.
        image_id, category_id (D,) int: dataset ids of the detections, in their loaded order
            (the order that breaks score ties, as the order of a results file).
        boxes (D, 4) float64 XYWH; score (D,) float64.
        levels (dict): name -> (I,) dataset image ids.
    Returns:
        dict: name -> {"mAP50": float or None, "mmAP": float or None} (fractions); 0 for a level
        with ground truth and no detection, None for one without ground truth.
    """
    image_ids = np.unique(np.concatenate(
        [np.zeros(0, np.int64)] + [np.asarray(i, np.int64).reshape(-1) for i in levels.values()]))
    num_k = len(gt.category_ids)
    keep, g_img, g_cat = _positions(gt.image_id, gt.category_id, image_ids, gt.category_ids)
    g_index = np.flatnonzero(keep)
    area = gt.area[g_index]
    g_ignore = gt.iscrowd[g_index] | (area < AREA_ALL[0]) | (area > AREA_ALL[1])
    order, g_key, _ = sorted_groups(g_img, g_cat, num_k, g_ignore)
    g_img, g_cat, g_ignore, g_index = g_img[order], g_cat[order], g_ignore[order], g_index[order]

    image_id, category_id = np.asarray(image_id).reshape(-1), np.asarray(category_id).reshape(-1)
    keep, d_img, d_cat = _positions(image_id, category_id, image_ids, gt.category_ids)
    d_index = np.flatnonzero(keep)
    d_score = np.asarray(score, np.float64).reshape(-1)[d_index]
    order, d_key, d_rank = sorted_groups(d_img, d_cat, num_k, -d_score)
    top = order[d_rank < MAX_DETS]  # the first 100 of each (image, category)
    d_box = np.asarray(boxes, np.float64).reshape(-1, 4)[d_index][top]
    match = match_boxes(d_key[d_rank < MAX_DETS], d_rank[d_rank < MAX_DETS], d_box,
                        g_key, gt.boxes[g_index], g_ignore, gt.iscrowd[g_index])
    d_img, d_cat, d_score, d_index = d_img[top], d_cat[top], d_score[top], d_index[top]

    # pycocotools' dtMatches holds the matched annotation id, so a match to id 0 reads as none
    gi = match.clip(min=0)
    hit = (match >= 0) & (gt.ann_id[g_index][gi] != 0)
    d_area = d_box[:, 2] * d_box[:, 3]
    outside = (d_area < AREA_ALL[0]) | (d_area > AREA_ALL[1])
    ignored = ((match >= 0) & g_ignore[gi]) | (~hit & outside[:, None])
    tp, fp = hit & ~ignored, ~hit & ~ignored
    acc = np.lexsort((d_index, d_img, -d_score, d_cat))
    tp, fp, d_img, d_cat = tp[acc], fp[acc], d_img[acc], d_cat[acc]

    out = {}
    for name, ids in levels.items():
        in_level = np.isin(image_ids, np.asarray(ids, np.int64).reshape(-1))
        num_gt = np.bincount(g_cat[~g_ignore & in_level[g_img]], minlength=num_k)
        mine = in_level[d_img]
        precision = _precision(tp[mine], fp[mine], d_cat[mine], num_gt)
        out[name] = dict(zip(("mAP50", "mmAP"), _stats(precision)))
    return out
