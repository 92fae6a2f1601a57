"""
Detections for the RPC protocol, read and checked in one place: from a COCO results file
(``tools/evaluate_rpc.py``) and from a model's per-image outputs (:class:`RPCEvaluator`).

Shapes: D detections, N images, K classes.

Every detection must have a known image and class, a finite score in [0, 1] and a finite
``[x, y, w, h]`` box with ``w, h >= 0``; the first bad one raises a
:class:`~dpsnet_d2.utils.cli.UserError` naming the source and the record.
"""
import itertools
import reprlib

import numpy as np

from ..utils.cli import FileFormatError, UserError
from .rpc_protocol import Detections

__all__ = ["checked_detections", "detections_from_predictions", "detections_from_results"]

_RESULT_KEYS = frozenset({"image_id", "category_id", "bbox", "score"})
_NUMBER = frozenset({int, float})


def _show(value):
    return f"{type(value).__name__} {reprlib.repr(value)}"


def checked_detections(image, cls, score, boxes, *, num_classes, fail):
    """
    :class:`Detections` of the columns ``image`` (D,) image index, ``cls`` (D,) contiguous class,
    ``score`` (D,) and ``boxes`` (D, 4) XYWH, after checking every value; ``fail(j, reason)``
    raises the error for detection j.
    """
    cls = np.asarray(cls, dtype=np.int64).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    checks = (
        ((cls >= 0) & (cls < num_classes),
         lambda j: f"class {cls[j]} is outside the dataset's 0..{num_classes - 1}"),
        (np.isfinite(score) & (score >= 0) & (score <= 1),
         lambda j: f"score {score[j]!r} must be a finite number in [0, 1]"),
        (np.isfinite(boxes).all(axis=1),
         lambda j: f"bbox {boxes[j].tolist()} must hold finite numbers"),
        ((boxes[:, 2:] >= 0).all(axis=1),
         lambda j: f"bbox {boxes[j].tolist()} has a negative width or height"),
    )
    for ok, reason in checks:
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            fail(j, reason(j))
    return Detections(image=np.asarray(image, dtype=np.int64).reshape(-1), cls=cls, score=score,
                      boxes=boxes)


def _numbers(values, key, fail, *, integral=False):
    """(R,) float64 of JSON numbers ``values`` (not booleans); ``integral``: whole numbers."""
    if not set(map(type, values)) <= _NUMBER:
        j = next(j for j, v in enumerate(values) if type(v) not in _NUMBER)
        fail(j, f"{key!r} must be a number, got {_show(values[j])}")
    array = np.array(values, dtype=np.float64).reshape(-1)
    if integral:
        ok = np.isfinite(array) & (np.floor(array) == array) & (np.abs(array) < 2.0**53)
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            fail(j, f"{key!r} must be an integer, got {_show(values[j])}")
    return array


def detections_from_results(results, gt, *, source):
    """
    :class:`Detections` of COCO result records ``[{"image_id", "category_id", "bbox": [x, y, w,
    h], "score"}]`` (D) with the ground truth's ids (``gt``: an :class:`RPCGroundTruth`).
    ``source`` (the file) is named in errors: ``"<source>: record 7: score 5.0 must be ..."``.
    """

    def fail(j, reason):
        raise FileFormatError(source, f"record {j}", reason)

    if type(results) is not list:
        raise UserError(f"{source}: expected a JSON list of COCO result records, got "
                        f"{_show(results)}")
    for j, r in enumerate(results):
        if type(r) is not dict or not _RESULT_KEYS <= r.keys():
            fail(j, f"must be an object with image_id, category_id, bbox [x, y, w, h] and score, "
                    f"got {_show(r)}")
    image_ids = _numbers([r["image_id"] for r in results], "image_id", fail, integral=True)
    categories = _numbers([r["category_id"] for r in results], "category_id", fail, integral=True)
    score = _numbers([r["score"] for r in results], "score", fail)
    bboxes = [r["bbox"] for r in results]
    for j, b in enumerate(bboxes):
        if type(b) is not list or len(b) != 4:
            fail(j, f"'bbox' must be a list [x, y, w, h], got {_show(b)}")
    flat = _numbers(list(itertools.chain.from_iterable(bboxes)), "bbox", lambda k, reason:
                    fail(k // 4, f"'bbox' must hold numbers, got {_show(bboxes[k // 4])}"))
    contiguous = {cid: k for k, cid in enumerate(gt.category_ids)}
    cls = np.fromiter((contiguous.get(int(c), -1) for c in categories), np.int64, len(categories))
    if np.any(cls < 0):
        j = int(np.flatnonzero(cls < 0)[0])
        fail(j, f"category_id {int(categories[j])} is not a category of the ground truth")
    image = gt.index_of(image_ids.astype(np.int64), source=source, what="record")
    return checked_detections(image, cls, score, flat.reshape(-1, 4), num_classes=gt.num_classes,
                              fail=fail)


def detections_from_predictions(predictions, num_classes, *, source):
    """
    :class:`Detections` of per-image records (image j = ``predictions[j]``) with "scores" (d,),
    "classes" (d,) contiguous and "boxes" (d, 4) XYWH when the model returned instances.
    """
    with_boxes = [p for p in predictions if "scores" in p]
    lengths = [len(p["scores"]) if "scores" in p else 0 for p in predictions]
    image = np.repeat(np.arange(len(predictions)), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)])

    def fail(j, reason):
        i = int(image[j])
        raise UserError(f"{source}: image_id {predictions[i]['image_id']}, detection "
                        f"{j - first[i]}: {reason}")

    return checked_detections(
        image,
        np.concatenate([np.zeros(0, np.int64)] + [p["classes"] for p in with_boxes]),
        np.concatenate([np.zeros(0)] + [p["scores"] for p in with_boxes]),
        np.concatenate([np.zeros((0, 4), np.float32)] + [p["boxes"] for p in with_boxes]),
        num_classes=num_classes, fail=fail,
    )
