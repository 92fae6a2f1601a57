"""
The consistency check between DPSNet's two views (docs/method.md, distillation).

An unlabelled image is trusted when, in every density channel, the number of detections with
score > tau mapped to that channel equals the rounded density count of that channel: the
detection view and the counting view agree on the whole count vector.

Shape shorthand — D: detections of one image, K: classes, C: density channels. The class ->
channel map is :func:`dpsnet_d2.modeling.density.density_channel_map` (C = 1: every class in
channel 0; C = number of super-categories; C = K).
"""
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "ConsistencyResult",
    "check_consistency",
    "count_gap",
    "detection_counts",
    "rounded_counts",
    "threshold_for_round",
]


@dataclass(frozen=True)
class ConsistencyResult:
    """
    The check of one image.

    Attributes:
        consistent: both views agree on every channel (and the image has at least the minimum
            number of confident boxes).
        keep: (D,) bool, the detections with score > tau (the pseudo labels when consistent).
        detection_counts: (C,) int64, confident detections per channel.
        density_counts: (C,) int64, the rounded density counts.
    """

    consistent: bool
    keep: np.ndarray
    detection_counts: np.ndarray
    density_counts: np.ndarray


def threshold_for_round(thresholds: Sequence[float], round_index: int) -> float:
    """
    tau of round ``round_index`` (0-based) from a schedule: ``thresholds[r]``, the last entry for
    every later round (published: 0.80 for rounds 0-4, 0.85 for 5-7, 0.90 for 8, 0.95 after).
    """
    if not len(thresholds):
        raise ValueError("the threshold schedule is empty")
    return float(thresholds[min(round_index, len(thresholds) - 1)])


def rounded_counts(counts) -> np.ndarray:
    """
    Density counts rounded half up: floor(x + 0.5), so 0.5 -> 1 and 2.5 -> 3 (Python's
    ``round`` would give 0 and 2).

    Args:
        counts: (C,) float, the density sums.
    Returns:
        (C,) int64.
    """
    return np.floor(np.asarray(counts, dtype=np.float64) + 0.5).astype(np.int64).reshape(-1)


def detection_counts(classes, keep, class_to_channel: Sequence[int], num_channels: int):
    """
    Args:
        classes: (D,) contiguous class ids of the detections.
        keep: (D,) bool, the detections to count.
        class_to_channel: K ints in [0, C).
        num_channels: C.
    Returns:
        (C,) int64, kept detections per channel.
    """
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    channels = np.asarray(class_to_channel, dtype=np.int64)[classes[np.asarray(keep, bool)]]
    return np.bincount(channels, minlength=num_channels).astype(np.int64)


def check_consistency(
    scores,
    classes,
    counts,
    *,
    threshold: float,
    class_to_channel: Sequence[int],
    min_boxes: int = 0,
) -> ConsistencyResult:
    """
    Check one image.

    Args:
        scores: (D,) detection scores.
        classes: (D,) contiguous class ids.
        counts: (C,) float, the counting view's density sums (``counts`` output of DPSNet).
        threshold: tau; detections with score > tau are counted (strictly greater).
        class_to_channel: K ints in [0, C), the class -> density channel map.
        min_boxes: an image with fewer confident detections is not consistent (0: no minimum;
            an empty image where both views say 0 is then consistent).
    Returns:
        :class:`ConsistencyResult`.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(np.asarray(classes).reshape(-1)):
        raise ValueError(f"{len(scores)} scores but {len(np.asarray(classes).reshape(-1))} classes")
    density = rounded_counts(counts)
    keep = scores > threshold
    detected = detection_counts(classes, keep, class_to_channel, len(density))
    if len(detected) != len(density):
        raise ValueError(
            f"detections map to {len(detected)} channels, the counting view has {len(density)}"
        )
    consistent = bool(np.array_equal(detected, density) and int(keep.sum()) >= min_boxes)
    return ConsistencyResult(consistent, keep, detected, density)


def count_gap(results: Sequence[ConsistencyResult]) -> dict:
    """
    How far the two views are from agreeing over a set of images: per image, confident
    detections minus rounded density count, summed over channels (0 on a consistent image).

    Args:
        results: the checks of the images (at least one).
    Returns:
        ``{"median": float, "mean": float, "within_1": float}``: median and mean gap, and the
        fraction of images whose total counts differ by at most one object.
    """
    gaps = np.array([int(r.detection_counts.sum() - r.density_counts.sum()) for r in results])
    if not len(gaps):
        raise ValueError("count_gap needs at least one image")
    return {"median": float(np.median(gaps)), "mean": float(gaps.mean()),
            "within_1": float(np.mean(np.abs(gaps) <= 1))}
