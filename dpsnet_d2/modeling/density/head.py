"""
The counting view's density head (layers only; the loss is in ``losses.py``).

Shape shorthand — N: images, D: input feature channels, C: density channels,
h x w: feature map at the head's stride (8 by default).
"""
import fvcore.nn.weight_init as weight_init
import torch
from torch import nn
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.utils.registry import Registry

from .channels import density_channel_map

__all__ = ["DENSITY_HEAD_REGISTRY", "build_density_head", "StandardDensityHead"]

DENSITY_HEAD_REGISTRY = Registry("DENSITY_HEAD")
DENSITY_HEAD_REGISTRY.__doc__ = """
Registry for density heads, which map one feature map (N x D x h x w) to a non-negative density
map (N x C x h x w) at the same stride, in units of MODEL.DENSITY_HEAD.TARGET_SCALE per object.

The registered object will be called with `obj(cfg, input_shape)`, input_shape a ShapeSpec.
"""


def build_density_head(cfg, input_shape: ShapeSpec) -> nn.Module:
    """Build the density head named by ``cfg.MODEL.DENSITY_HEAD.NAME``."""
    return DENSITY_HEAD_REGISTRY.get(cfg.MODEL.DENSITY_HEAD.NAME)(cfg, input_shape)


@DENSITY_HEAD_REGISTRY.register()
class StandardDensityHead(nn.Module):
    """3x3 conv + norm + ReLU, then a 1x1 conv to C channels and a ReLU (non-negative density)."""

    @configurable
    def __init__(self, input_shape: ShapeSpec, *, num_channels: int, conv_dim: int, norm: str = ""):
        """
        Args:
            input_shape: channels D and stride of the input feature.
            num_channels: C, density channels.
            conv_dim: channels of the hidden 3x3 convolution.
            norm: normalization after the hidden convolution ("" for none).
        """
        super().__init__()
        self.conv = Conv2d(
            input_shape.channels, conv_dim, kernel_size=3, padding=1,
            bias=not norm, norm=get_norm(norm, conv_dim), activation=F.relu,
        )
        self.predictor = nn.Conv2d(conv_dim, num_channels, kernel_size=1)
        weight_init.c2_msra_fill(self.conv)
        nn.init.normal_(self.predictor.weight, std=0.01)
        nn.init.constant_(self.predictor.bias, 0.0)

    @classmethod
    def from_config(cls, cfg, input_shape: ShapeSpec):
        num_channels, _ = density_channel_map(cfg)
        return {
            "input_shape": input_shape,
            "num_channels": num_channels,
            "conv_dim": cfg.MODEL.DENSITY_HEAD.CONV_DIM,
            "norm": cfg.MODEL.DENSITY_HEAD.NORM,
        }

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """
        Args:
            features: N x D x h x w.
        Returns:
            N x C x h x w, non-negative.
        """
        return F.relu(self.predictor(self.conv(features)))
