"""
Ground-truth density maps from boxes (docs/method.md §3): one Gaussian per object at its box
centre, each object summing to exactly 1 in its density channel.

Shape shorthand — N: objects, K: classes, C: density channels, H x W: image (augmented, before
padding), h x w: density map = ceil(H / s) x ceil(W / s) at stride s. Map coordinates: cell j
covers image pixels [j*s, (j+1)*s) and its centre is at map coordinate j + 0.5.
"""
import math
from typing import Sequence, Tuple, Union

import torch

from detectron2.config import configurable
from detectron2.structures import Boxes

from ..density_channels import density_channel_map

__all__ = [
    "DensityTargetGenerator",
    "SIGMA_PER_HALF_SIDE",
    "gaussian_profiles",
]

# Published Gaussian width: sigma = max(sigma_min, min(w, h) / 2 * 5 / 12), box size in map pixels.
SIGMA_PER_HALF_SIDE = 5.0 / 12.0


def gaussian_profiles(centers: torch.Tensor, sigmas: torch.Tensor, length: int) -> torch.Tensor:
    """
    1-D Gaussians sampled at the cell centres of a line of ``length`` cells, truncated to the
    line and renormalised (a softmax, so a Gaussian centred off the line still sums to 1).

    Args:
        centers, sigmas: (N,) in map coordinates (cell j has its centre at j + 0.5).
        length: number of cells.
    Returns:
        (N, length) float64, every row summing to 1.
    """
    grid = torch.arange(length, dtype=torch.float64) + 0.5
    z = (grid[None, :] - centers[:, None].double()) / sigmas[:, None].double()
    return torch.softmax(-0.5 * z * z, dim=1)


class DensityTargetGenerator:
    """
    Callable: (boxes N x 4 XYXY in image pixels, classes (N,), image size (H, W)) -> density
    C x h x w, float32, where every object adds a separable Gaussian that sums to exactly 1 in
    channel ``class_to_channel[class]``. Boxes are clipped to the image first (as the mapper's
    are); a Gaussian cut by the border is truncated to the map and renormalised.
    """

    @configurable
    def __init__(
        self,
        *,
        num_channels: int,
        class_to_channel: Sequence[int],
        stride: int = 8,
        sigma_min: float = 1.0,
    ):
        """
        Args:
            num_channels: C, the number of density channels.
            class_to_channel: K ints in [0, C): the channel of each contiguous class id.
            stride: s, image pixels per density-map cell.
            sigma_min: smallest Gaussian sigma, in map pixels (> 0).
        """
        if sigma_min <= 0:
            raise ValueError(f"sigma_min must be > 0, got {sigma_min}")
        mapping = torch.as_tensor(list(class_to_channel), dtype=torch.int64)
        if mapping.numel() and (mapping.min() < 0 or mapping.max() >= num_channels):
            raise ValueError(f"class_to_channel has entries outside [0, {num_channels})")
        self.num_channels = int(num_channels)
        self.class_to_channel = mapping
        self.stride = int(stride)
        self.sigma_min = float(sigma_min)

    @classmethod
    def from_config(cls, cfg):
        num_channels, class_to_channel = density_channel_map(cfg)
        return {
            "num_channels": num_channels,
            "class_to_channel": class_to_channel,
            "stride": cfg.MODEL.BIPYRAMID.COUNT_STRIDE,
            "sigma_min": cfg.MODEL.DENSITY_HEAD.SIGMA_MIN,
        }

    def map_size(self, image_size: Tuple[int, int]) -> Tuple[int, int]:
        """(H, W) -> (h, w) = (ceil(H / s), ceil(W / s))."""
        return math.ceil(image_size[0] / self.stride), math.ceil(image_size[1] / self.stride)

    def __call__(
        self,
        boxes: Union[Boxes, torch.Tensor],
        classes: torch.Tensor,
        image_size: Tuple[int, int],
    ) -> torch.Tensor:
        """
        Args:
            boxes: N x 4 (XYXY_ABS, image pixels of the augmented image).
            classes: (N,) contiguous class ids in [0, K).
            image_size: (H, W) of the augmented image before padding.
        Returns:
            C x h x w float32 density; channel c sums to the number of objects mapped to c.
        """
        boxes = boxes.tensor if isinstance(boxes, Boxes) else torch.as_tensor(boxes)
        boxes = boxes.detach().to("cpu", torch.float64).reshape(-1, 4)
        classes = torch.as_tensor(classes, dtype=torch.int64).cpu().reshape(-1)
        if len(classes) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(classes)} classes")
        if len(classes) and (classes.min() < 0 or classes.max() >= len(self.class_to_channel)):
            raise ValueError(f"class ids must lie in [0, {len(self.class_to_channel)})")
        height, width = image_size
        h, w = self.map_size(image_size)
        boxes = torch.stack(
            [boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
             boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)], dim=1
        ) / self.stride
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        sides = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).min(dim=1).values
        sigmas = (sides / 2 * SIGMA_PER_HALF_SIDE).clamp(min=self.sigma_min)
        profile_x = gaussian_profiles(centers[:, 0], sigmas, w)  # N x w
        profile_y = gaussian_profiles(centers[:, 1], sigmas, h)  # N x h
        # N x h x w, each summing to 1 (float64 profiles, so float32 rounding is the only error)
        per_object = (profile_y[:, :, None] * profile_x[:, None, :]).float()
        density = torch.zeros(self.num_channels, h, w, dtype=torch.float32)
        return density.index_add_(0, self.class_to_channel[classes], per_object)
