"""
COCO box matching of detections to ground truth, for all images at once with numpy, with the
semantics of pycocotools' ``COCOeval.evaluateImg`` (area "all", 100 detections per image and
category), so that the AP computed from it equals pycocotools' as floats.

Shapes: G ground-truth boxes, D detections, P (detection, ground truth) pairs of the same image
and category, T IoU thresholds.

Per (image, category): the detections by descending score (stable: equal scores keep their
order), at most 100; the ground truth in dataset order, the ignored ones (crowd, or area
outside "all") last. At each IoU threshold t, detection by detection, the best ground truth not
yet matched at t (crowd ones stay available) with IoU >= min(t, 1 - 1e-10), an equal IoU going
to the later one; an ignored one only when no regular one qualifies. The greedy order is the
only sequential part: it runs over detection ranks (at most 100 steps), each step over every
group at once.
"""
import numpy as np

__all__ = ["IOU_THRESHOLDS", "AREA_ALL", "MAX_DETS", "sorted_groups", "pair_ious", "match_boxes"]

# pycocotools' Params for "bbox": the thresholds exactly as it builds them, area "all", maxDets.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
AREA_ALL = (0.0**2, 1e5**2)
MAX_DETS = 100


def sorted_groups(image_pos, category, num_categories, *sort_keys):
    """
    Order records by (image position, category, ``sort_keys``..., record order) and cut them
    into (image, category) groups.

    Args:
        image_pos, category, sort_keys: (R,) arrays; category in 0..num_categories-1.
    Returns:
        (order (R,), group key image_pos * num_categories + category (R,) int64 of the sorted
        records, rank within the group (R,)).
    """
    order = np.lexsort((np.arange(len(image_pos)), *sort_keys[::-1], category, image_pos))
    key = image_pos[order].astype(np.int64) * num_categories + category[order]
    new = np.ones(len(order), bool)
    new[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    return order, key, rank


def pair_ious(d_box, g_box, g_crowd):
    """
    pycocotools' ``bbIou`` of paired boxes, in the same double arithmetic (so the same values).

    Args:
        d_box, g_box (P, 4): XYWH detection and ground-truth boxes of each pair.
        g_crowd (P,): the ground truth is a crowd (union = the detection's area).
    Returns:
        (P,) float64 IoU.
    """
    w = np.minimum(d_box[:, 2] + d_box[:, 0], g_box[:, 2] + g_box[:, 0]) - np.maximum(
        d_box[:, 0], g_box[:, 0])
    h = np.minimum(d_box[:, 3] + d_box[:, 1], g_box[:, 3] + g_box[:, 1]) - np.maximum(
        d_box[:, 1], g_box[:, 1])
    overlap = (w > 0) & (h > 0)
    inter = np.where(overlap, w * h, 0.0)
    d_area, g_area = d_box[:, 2] * d_box[:, 3], g_box[:, 2] * g_box[:, 3]
    union = np.where(g_crowd, d_area, d_area + g_area - inter)
    return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def _last_best(candidate, iou, starts):
    """
    Per segment (one detection's pairs) and threshold: the pair index of the largest IoU among
    ``candidate`` pairs, the last one on a tie; -1 without a candidate.

    Args:
        candidate (n, T) bool; iou (n,); starts (m,) first pair of each segment.
    Returns:
        (m, T) int64.
    """
    value = np.where(candidate, iou[:, None], -1.0)
    best = np.maximum.reduceat(value, starts, axis=0)
    length = np.diff(np.append(starts, len(iou)))
    at_best = candidate & (value == np.repeat(best, length, axis=0))
    index = np.where(at_best, np.arange(len(iou))[:, None], -1)
    return np.maximum.reduceat(index, starts, axis=0)


def match_boxes(d_key, d_rank, d_box, g_key, g_box, g_ignore, g_crowd):
    """
    Greedy matching of every (image, category) group at every IoU threshold.

    Args:
        d_key (D,): group key of each detection, non-decreasing; within a group by rank.
        d_rank (D,): rank of each detection in its group (0 = highest score), below MAX_DETS.
        d_box (D, 4): XYWH detection boxes.
        g_key (G,): group key of each ground-truth box, non-decreasing; within a group the
            regular boxes first, each part in dataset order.
        g_box (G, 4): XYWH ground-truth boxes.
        g_ignore (G,) bool: ignored (crowd or area outside the range).
        g_crowd (G,) bool: crowd (may match several detections; IoU over the detection's area).
    Returns:
        (D, T) int64: the matched ground-truth index (into the G boxes) or -1.
    """
    num_t = len(IOU_THRESHOLDS)
    match = np.full((len(d_key), num_t), -1, np.int64)
    first, last = np.searchsorted(g_key, d_key, "left"), np.searchsorted(g_key, d_key, "right")
    n_gt = last - first
    if not n_gt.any():
        return match
    # pairs ordered by rank, then detection, then ground truth
    pair_d = np.repeat(np.arange(len(d_key)), n_gt)
    offset = np.arange(len(pair_d)) - np.repeat(np.cumsum(n_gt) - n_gt, n_gt)
    pair_g = np.repeat(first, n_gt) + offset
    by_rank = np.argsort(d_rank[pair_d], kind="stable")
    pair_d, pair_g = pair_d[by_rank], pair_g[by_rank]
    iou = pair_ious(d_box[pair_d], g_box[pair_g], g_crowd[pair_g])
    bounds = np.searchsorted(d_rank[pair_d], np.arange(MAX_DETS + 1))
    threshold = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)
    taken = np.zeros((len(g_key), num_t), bool)
    any_ignored = bool(g_ignore.any())
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        dets, gts, ious = pair_d[lo:hi], pair_g[lo:hi], iou[lo:hi]
        new = np.ones(len(dets), bool)
        new[1:] = dets[1:] != dets[:-1]
        starts = np.flatnonzero(new)
        candidate = (~taken[gts] | g_crowd[gts][:, None]) & (ious[:, None] >= threshold)
        best = _last_best(candidate & ~g_ignore[gts][:, None], ious, starts)
        if any_ignored:
            ignored = _last_best(candidate & g_ignore[gts][:, None], ious, starts)
            best = np.where(best >= 0, best, ignored)
        rows, ts = np.nonzero(best >= 0)
        matched = gts[best[rows, ts]]
        taken[matched, ts] = True
        match[dets[starts[rows]], ts] = matched
    return match
