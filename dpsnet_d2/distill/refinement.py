"""
Instance-level refinement (docs/method.md, after the distillation rounds): an image that failed
the consistency check still teaches something through its most confident detections. Those
(score > the refinement threshold, published 0.95) become labels, every lower-scored detected box
is painted out with a flat grey so that it is neither a label nor background, and an image
without any confident detection is dropped.

Shape shorthand — D: detections of one image, H x W: the image.
"""
import math
from typing import Optional, Tuple

import numpy as np

__all__ = ["PAINT_RGB", "paint_boxes", "split_detections"]

# The published flat grey that hides the unconfident boxes (RGB).
PAINT_RGB = (164, 166, 164)


def split_detections(
    scores, *, label_threshold: float, paint_min_score: float
) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """
    Args:
        scores: (D,) detection scores of an image that failed the consistency check.
        label_threshold: detections with score > it become labels.
        paint_min_score: detections with paint_min_score <= score <= label_threshold are painted.
    Returns:
        None when no detection is above ``label_threshold`` (the image is dropped), else
        ``(label, paint)``, two (D,) bool masks.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    label = scores > label_threshold
    if not label.any():
        return None
    return label, ~label & (scores >= paint_min_score)


def paint_boxes(image: np.ndarray, boxes, color=PAINT_RGB) -> np.ndarray:
    """
    Paint boxes with a flat colour.

    Args:
        image: H x W x 3 uint8, in the channel order of ``color``.
        boxes: D x 4 XYXY in pixels; each paints the pixels it touches, rows
            floor(y0) .. ceil(y1) - 1 and columns floor(x0) .. ceil(x1) - 1, clipped to the image.
        color: 3 ints.
    Returns:
        a painted copy of ``image``.
    """
    out = np.array(image, copy=True)
    height, width = out.shape[:2]
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4).tolist():
        c0, c1 = max(0, math.floor(x0)), min(width, math.ceil(x1))
        r0, r1 = max(0, math.floor(y0)), min(height, math.ceil(y1))
        if c1 > c0 and r1 > r0:
            out[r0:r1, c0:c1] = color
    return out
