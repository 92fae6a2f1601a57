"""
The counting view's loss: L2 between the predicted and the ground-truth density.

Shape shorthand — N: images, C: density channels, h x w: density map (padded batch).
"""
from typing import List, Tuple

import torch
from torch.nn import functional as F

__all__ = ["density_l2_loss", "pad_density_targets"]


def pad_density_targets(
    targets: List[torch.Tensor], size: Tuple[int, int], scale: float
) -> torch.Tensor:
    """
    Zero-pad per-image targets (each C x h_i x w_i, h_i <= h, w_i <= w) into one batch, scaled.

    Args:
        targets: N tensors C x h_i x w_i (each object sums to 1).
        size: (h, w) of the predicted map.
        scale: multiplier of the targets (MODEL.DENSITY_HEAD.TARGET_SCALE).
    Returns:
        N x C x h x w.
    """
    h, w = size
    padded = []
    for target in targets:
        if target.shape[-2] > h or target.shape[-1] > w:
            raise ValueError(f"density target {tuple(target.shape)} larger than the map {(h, w)}")
        padded.append(F.pad(target, (0, w - target.shape[-1], 0, h - target.shape[-2])))
    return torch.stack(padded) * scale


def density_l2_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """
    Squared error summed over density channels, averaged over images and map pixels:
    ``sum((pred - target)^2) / (N * h * w)``. Summing over channels keeps it independent of C
    (a C-channel target holds the same mass as the class-agnostic one).

    The loss depends on the input size. For a zero prediction each object (a Gaussian of width
    sigma cells, scaled by S = TARGET_SCALE) adds about S^2 / (4 pi sigma^2), and the sum is
    divided by h * w: the same scene scaled by k (sigma above SIGMA_MIN) gives a loss about
    k^4 times smaller (2x: ~16x), and padding in a batch (h x w is the padded map) dilutes it
    further. MODEL.DENSITY_HEAD.TARGET_SCALE compensates (the loss grows as S^2): choose it for
    the size and the object count of the training images.

    Args:
        pred, target: N x C x h x w.
    Returns:
        scalar.
    """
    n, _, h, w = pred.shape
    return F.mse_loss(pred, target, reduction="sum") / max(n * h * w, 1)
