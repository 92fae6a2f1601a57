"""
The counting view's density head: layers, and the loss it computes on its own prediction (the
loss functions are in ``losses.py``).

Shape shorthand — N: images, D: input feature channels, C: density channels, s: the head's
stride (MODEL.BIPYRAMID.COUNT_STRIDE, 8 by default), h' x w': the feature map of the padded
batch, h_i x w_i (<= h' x w'): the ground-truth map of image i (its unpadded input at stride s).
"""
from typing import Dict, List, Optional, Tuple

import fvcore.nn.weight_init as weight_init
import torch
from torch import nn
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.utils.events import get_event_storage
from detectron2.utils.registry import Registry

from ...density_channels import density_channel_map
from .losses import density_l2_loss, pad_density_targets

__all__ = ["DENSITY_HEAD_REGISTRY", "build_density_head", "StandardDensityHead"]

DENSITY_HEAD_REGISTRY = Registry("DENSITY_HEAD")
DENSITY_HEAD_REGISTRY.__doc__ = """
Registry for density heads (the counting view). A head reads the backbone features and, like
Detectron2's ROI heads and semantic-segmentation heads, returns ``(density, losses)``:

    density, losses = head(features, targets)   # training: losses = {"loss_density": scalar}
    density, _ = head(features)                 # inference: {}

features: dict[str, Tensor] of backbone outputs; targets: list of N ground-truth densities
C x h_i x w_i, each object summing to 1; density: N x C x h' x w', non-negative, in objects
per cell. Heads expose ``stride`` (of ``density``).

The registered object will be called with `obj(cfg, input_shape)`, input_shape the backbone's
``output_shape()`` (dict[str, ShapeSpec]).
"""


def build_density_head(cfg, input_shape: Dict[str, ShapeSpec]) -> nn.Module:
    """Build the density head named by ``cfg.MODEL.DENSITY_HEAD.NAME``."""
    return DENSITY_HEAD_REGISTRY.get(cfg.MODEL.DENSITY_HEAD.NAME)(cfg, input_shape)


@DENSITY_HEAD_REGISTRY.register()
class StandardDensityHead(nn.Module):
    """
    On one backbone feature: 3x3 conv + norm + ReLU, then a 1x1 conv to C channels and a ReLU
    (non-negative density). Trained with the L2 loss against ground truth scaled by
    ``target_scale``; logs ``density/count_abs_error`` to the EventStorage.
    """

    @configurable
    def __init__(
        self,
        input_shape: Dict[str, ShapeSpec],
        *,
        in_feature: str,
        num_channels: int,
        conv_dim: int,
        norm: str = "",
        loss_weight: float = 1.0,
        target_scale: float = 100.0,
    ):
        """
        Args:
            input_shape: shapes of the backbone outputs; ``in_feature`` must be one.
            in_feature: name of the backbone output the head reads (D channels, stride s).
            num_channels: C, density channels.
            conv_dim: channels of the hidden 3x3 convolution.
            norm: normalization after the hidden convolution ("" for none).
            loss_weight: weight of ``loss_density``.
            target_scale: the layers predict densities times this constant (ground truth is
                multiplied by it for the loss); the returned density is divided by it again.
        """
        super().__init__()
        if in_feature not in input_shape:
            raise ValueError(f"density head: {in_feature!r} is not in {sorted(input_shape)}")
        shape = input_shape[in_feature]
        self.in_feature = in_feature
        self.stride = shape.stride
        self.loss_weight = loss_weight
        self.target_scale = target_scale
        self.conv = Conv2d(
            shape.channels, conv_dim, kernel_size=3, padding=1,
            bias=not norm, norm=get_norm(norm, conv_dim), activation=F.relu,
        )
        self.predictor = nn.Conv2d(conv_dim, num_channels, kernel_size=1)
        weight_init.c2_msra_fill(self.conv)
        nn.init.normal_(self.predictor.weight, std=0.01)
        nn.init.constant_(self.predictor.bias, 0.0)

    @classmethod
    def from_config(cls, cfg, input_shape: Dict[str, ShapeSpec]):
        dh = cfg.MODEL.DENSITY_HEAD
        if dh.IN_FEATURE not in input_shape:
            raise ValueError(
                f"MODEL.DENSITY_HEAD.IN_FEATURE={dh.IN_FEATURE!r} is not an output of "
                f"MODEL.BACKBONE.NAME={cfg.MODEL.BACKBONE.NAME!r} ({sorted(input_shape)})"
            )
        stride = input_shape[dh.IN_FEATURE].stride
        if stride != cfg.MODEL.BIPYRAMID.COUNT_STRIDE:
            raise ValueError(
                f"density feature {dh.IN_FEATURE!r} has stride {stride}, the density targets "
                f"MODEL.BIPYRAMID.COUNT_STRIDE={cfg.MODEL.BIPYRAMID.COUNT_STRIDE}"
            )
        num_channels, _ = density_channel_map(cfg)
        return {
            "input_shape": input_shape,
            "in_feature": dh.IN_FEATURE,
            "num_channels": num_channels,
            "conv_dim": dh.CONV_DIM,
            "norm": dh.NORM,
            "loss_weight": dh.LOSS_WEIGHT,
            "target_scale": dh.TARGET_SCALE,
        }

    def forward(
        self, features: Dict[str, torch.Tensor], targets: Optional[List[torch.Tensor]] = None
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """
        Args:
            features: backbone outputs; ``features[in_feature]`` is N x D x h' x w'.
            targets (training): N ground-truth densities C x h_i x w_i (unscaled).
        Returns:
            density: N x C x h' x w', non-negative, in objects per cell (cell (y, x) covers
                input pixels [s*y, s*(y+1)) x [s*x, s*(x+1)) of the padded batch).
            losses: in training ``{"loss_density": scalar}``, else ``{}``.
        """
        pred = self.layers(features[self.in_feature])  # N x C x h' x w', times target_scale
        losses = self.losses(pred, targets) if self.training else {}
        return pred / self.target_scale, losses

    def layers(self, x: torch.Tensor) -> torch.Tensor:
        """N x D x h' x w' -> N x C x h' x w', non-negative, in units of ``target_scale``."""
        return F.relu(self.predictor(self.conv(x)))

    def losses(self, pred: torch.Tensor, targets: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """
        The weighted L2 loss; logs ``density/count_abs_error`` (objects per image, summed over
        channels, each prediction cropped to its target as at inference).

        Args:
            pred: N x C x h' x w', output of :meth:`layers`.
            targets: N tensors C x h_i x w_i (unscaled).
        Returns:
            ``{"loss_density": scalar}``.
        """
        if targets is None or len(targets) != pred.shape[0]:
            raise ValueError(f"the density head needs {pred.shape[0]} targets in training")
        if targets[0].shape[0] != pred.shape[1]:
            raise ValueError(
                f"density targets have {targets[0].shape[0]} channels, the head {pred.shape[1]}"
            )
        target = pad_density_targets(targets, pred.shape[-2:], self.target_scale)
        loss = density_l2_loss(pred, target)
        with torch.no_grad():
            errors = []
            for p, t in zip(pred, targets):  # C x h' x w', C x h_i x w_i (unscaled)
                counts = p[:, : t.shape[-2], : t.shape[-1]].sum(dim=(1, 2)) / self.target_scale
                errors.append((counts - t.sum(dim=(1, 2))).abs().sum())
            get_event_storage().put_scalar(
                "density/count_abs_error", torch.stack(errors).mean().item()
            )
        return {"loss_density": loss * self.loss_weight}
