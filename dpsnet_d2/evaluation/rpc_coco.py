"""
The COCO side of the RPC protocol: the results file of a set of detections, and the whole
report with COCO box AP (mAP50, mmAP) per level (:mod:`.box_ap`: pycocotools' numbers, computed
from arrays).

Shapes: D detections, N images.

As the official tool, each level (and "averaged", all images) is evaluated on its own images:
the per-image matching does not depend on the other images, so it runs once over all images,
and each level accumulates its own images' matches.
"""
import dataclasses
import logging
import time

import numpy as np

from .box_ap import BoxGroundTruth, box_ap_per_level
from .rpc_protocol import build_report, evaluate_counts

__all__ = ["coco_ground_truth", "rounded_boxes", "results_json", "rpc_report"]

logger = logging.getLogger(__name__)

_RECORD = '{{"image_id": {}, "category_id": {}, "bbox": [{!r}, {!r}, {!r}, {!r}], "score": {!r}}}'


def coco_ground_truth(dataset, *, source="COCO ground truth"):
    """The :class:`.box_ap.BoxGroundTruth` of a COCO-style dict (``source`` names it in errors)."""
    return BoxGroundTruth.from_coco(dataset, source=source)


def rounded_boxes(det):
    """``det`` with its boxes rounded to 0.001 px: what the results file holds (a shorter file),
    and what AP is computed from."""
    return dataclasses.replace(det, boxes=np.round(np.asarray(det.boxes, np.float64), 3))


def results_json(gt, det):
    """
    The COCO results file of detections, with the dataset's own image and category ids: the
    text ``json.dumps`` gives for the records ``[{"image_id", "category_id", "bbox" [x, y, w, h],
    "score"}]`` (D), byte for byte, written straight from the arrays (no record objects).

    Args:
        gt (RPCGroundTruth), det (Detections).
    Returns:
        str.
    """
    image_ids = gt.image_ids[det.image].tolist()
    category_ids = np.asarray(gt.category_ids, dtype=np.int64)[det.cls].tolist()
    boxes = np.asarray(det.boxes, dtype=np.float64).tolist()
    scores = np.asarray(det.score, dtype=np.float64).tolist()
    records = [_RECORD.format(i, c, *b, s)
               for i, c, b, s in zip(image_ids, category_ids, boxes, scores)]
    return "[" + ", ".join(records) + "]"


def rpc_report(gt, det, *, dataset, score_threshold=None, counts=None, coco_gt=None):
    """
    The whole RPC report of one set of predictions: count metrics per level and threshold mode
    (:func:`.rpc_protocol.evaluate_counts`) and, when ``coco_gt`` is given, COCO AP per level.

    Args:
        gt (RPCGroundTruth): N images.
        det (Detections): D detections on them; AP reads them in this order (it breaks score
            ties, as a results file's order) with these boxes.
        dataset (str): name shown in the report.
        score_threshold (float or None): threshold of the ``fixed`` mode.
        counts: (N, C) density counts or None.
        coco_gt (BoxGroundTruth or None): ground truth for mAP50 / mmAP
            (:func:`coco_ground_truth`); None skips them.
    Returns:
        the report dict of :func:`.rpc_protocol.build_report`.
    """
    levels, history = evaluate_counts(gt, det, score_threshold=score_threshold, counts=counts)
    ap = None
    if coco_gt is not None:
        start = time.perf_counter()
        buckets = {name: gt.image_ids[idx] for name, idx in gt.buckets()}
        category_ids = np.asarray(gt.category_ids, dtype=np.int64)
        ap = box_ap_per_level(coco_gt, gt.image_ids[det.image], category_ids[det.cls],
                              det.boxes, det.score, buckets)
        logger.info(f"RPC evaluation: COCO AP of {len(det.score)} detections on "
                    f"{gt.num_images} images in {time.perf_counter() - start:.1f} s (skip it with "
                    "compute_map=False / --no-map)")
    num_channels = None if counts is None else counts.shape[1]
    return build_report(levels, history, ap, dataset=dataset, num_channels=num_channels,
                        num_classes=gt.num_classes)
