"""
Bidirectional pyramid fusion (docs/method.md §3) on top of Detectron2's ResNet-FPN.

Shape shorthand — N: images, F: FPN channels, r: fusion channels, P_l: FPN level l,
N x F x (H / 2^l) x (W / 2^l); "count": N x F x (H / s) x (W / s) at the count stride s.

Detection view (per level, same names, strides and channels as the FPN):
  top-down   T_l = P_l + G_l( P_l + up(T_{l+1}) )       coarser levels fused into finer ones
  bottom-up  B_l = T_l + G'_l( T_l + down(B_{l-1}) )    finer levels fused into coarser ones
with G = 1x1 conv (F -> r, norm, ReLU) then 3x3 conv (r -> F, norm), on the levels in
``in_features`` (the others pass through and only feed their neighbours); up = nearest
upsampling (as FPN), down = stride-2 subsampling (as FPN's P6).
Counting view: "count" = B_s + G_c(B_s) at the count stride s. With s = 8 and P3 fused, B_3
holds every level: P4-P6 through the top-down path, P2 through the bottom-up path (the
published counting branch fuses all levels at P3).
"""
from typing import Dict, List, Optional

import fvcore.nn.weight_init as weight_init
import torch
from torch import nn
from torch.nn import functional as F

from detectron2.layers import Conv2d, ShapeSpec, get_norm
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.fpn import build_resnet_fpn_backbone

__all__ = ["BiPyramid", "build_resnet_bipyramid_backbone"]


def _fusion_block(channels: int, fuse_dim: int, norm: str) -> nn.Sequential:
    """1x1 conv (F -> r, norm, ReLU) then 3x3 conv (r -> F, norm): N x F x h x w -> same."""
    reduce = Conv2d(
        channels, fuse_dim, kernel_size=1, bias=not norm,
        norm=get_norm(norm, fuse_dim), activation=F.relu,
    )
    expand = Conv2d(
        fuse_dim, channels, kernel_size=3, padding=1, bias=not norm, norm=get_norm(norm, channels)
    )
    for layer in (reduce, expand):
        weight_init.c2_xavier_fill(layer)
    return nn.Sequential(reduce, expand)


class BiPyramid(Backbone):
    """
    The DPSNet neck: an FPN whose levels are refined by a top-down then a bottom-up fusion
    path, plus a fused "count" map for the counting view. With ``fusion_on=False`` it is the
    FPN (and "count" is the FPN level at the count stride).
    """

    def __init__(
        self,
        *,
        fpn: Backbone,
        fusion_on: bool = True,
        in_features: Optional[List[str]] = None,
        fuse_dim: int = 32,
        norm: str = "",
        count_stride: Optional[int] = 8,
    ):
        """
        Args:
            fpn: the FPN backbone (outputs p2..p6, fine to coarse).
            fusion_on: False passes the FPN levels through (the plain-FPN ablation).
            in_features: contiguous FPN levels refined by the fusion (default: all).
            fuse_dim: r, hidden channels of every fusion block.
            norm: normalization of the fusion convolutions ("" for none).
            count_stride: stride of the "count" output (one of the FPN strides); None: no
                "count" output (no counting view).
        """
        super().__init__()
        self.fpn = fpn
        self.fusion_on = fusion_on
        shapes = fpn.output_shape()
        self._levels = sorted(shapes, key=lambda k: shapes[k].stride)
        self.in_features = list(in_features) if in_features else list(self._levels)
        first = self.in_features[0]
        start = self._levels.index(first) if first in self._levels else -1
        if start < 0 or self._levels[start : start + len(self.in_features)] != self.in_features:
            raise ValueError(
                f"BiPyramid in_features {self.in_features} must be contiguous FPN levels "
                f"of {self._levels}"
            )
        channels = {shapes[k].channels for k in self._levels}
        if len(channels) != 1:
            raise ValueError(f"FPN levels have different channels {channels}")
        self._channels = channels.pop()

        self._out_feature_strides = {k: shapes[k].stride for k in self._levels}
        self._out_feature_channels = {k: self._channels for k in self._levels}
        self._count_level = None
        if count_stride is not None:
            by_stride = {shapes[k].stride: k for k in self._levels}
            if count_stride not in by_stride:
                raise ValueError(
                    f"count_stride {count_stride} is none of the FPN strides {sorted(by_stride)}"
                )
            self._count_level = by_stride[count_stride]
            self._out_feature_strides["count"] = count_stride
            self._out_feature_channels["count"] = self._channels
        self._out_features = list(self._out_feature_strides)

        if fusion_on:
            idx = {k: i for i, k in enumerate(self._levels)}
            self.top_down_fusion = nn.ModuleDict(
                {k: _fusion_block(self._channels, fuse_dim, norm)
                 for k in self.in_features if idx[k] + 1 < len(self._levels)}
            )
            self.bottom_up_fusion = nn.ModuleDict(
                {k: _fusion_block(self._channels, fuse_dim, norm)
                 for k in self.in_features if idx[k] > 0}
            )
            if self._count_level is not None:
                self.count_fusion = _fusion_block(self._channels, fuse_dim, norm)

    @property
    def size_divisibility(self) -> int:
        return self.fpn.size_divisibility

    def output_shape(self) -> Dict[str, ShapeSpec]:
        channels, strides = self._out_feature_channels, self._out_feature_strides
        return {k: ShapeSpec(channels=channels[k], stride=strides[k]) for k in self._out_features}

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """
        Args:
            x: N x 3 x H x W, H and W divisible by ``size_divisibility``.
        Returns:
            dict: "p2".."p6" (N x F x H/2^l x W/2^l) and, with a count stride, "count".
        """
        pyramid = self.fpn(x)
        if not self.fusion_on:
            out = dict(pyramid)
            if self._count_level is not None:
                out["count"] = pyramid[self._count_level]
            return out

        top_down = dict(pyramid)
        for i in reversed(range(len(self._levels) - 1)):
            name, coarser = self._levels[i], self._levels[i + 1]
            if name in self.top_down_fusion:
                p = pyramid[name]
                fused = p + _upsample(top_down[coarser], p)
                top_down[name] = p + self.top_down_fusion[name](fused)
        out = dict(top_down)
        for i in range(1, len(self._levels)):
            name, finer = self._levels[i], self._levels[i - 1]
            if name in self.bottom_up_fusion:
                t = top_down[name]
                fused = t + _downsample(out[finer], t)
                out[name] = t + self.bottom_up_fusion[name](fused)
        if self._count_level is not None:
            fused = out[self._count_level]
            out["count"] = fused + self.count_fusion(fused)
        return out


def _upsample(coarse: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """N x F x h x w -> N x F x (size of ``like``), nearest (as FPN's top-down path)."""
    return F.interpolate(coarse, size=like.shape[-2:], mode="nearest")


def _downsample(fine: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """
    N x F x h x w -> N x F x ceil(h/2) x ceil(w/2), the size of ``like``: stride-2
    subsampling, as D2's FPN makes P6 (the fusion block after it does the smoothing). D2's
    ResNet-FPN levels halve with ceil (stride-2 convolutions and pooling), so the sizes match.
    """
    down = F.max_pool2d(fine, kernel_size=1, stride=2)
    assert down.shape[-2:] == like.shape[-2:], (
        f"FPN level {tuple(like.shape[-2:])} is not the ceil-half of {tuple(fine.shape[-2:])}"
    )
    return down


@BACKBONE_REGISTRY.register()
def build_resnet_bipyramid_backbone(cfg, input_shape: ShapeSpec) -> BiPyramid:
    """
    ResNet-FPN (``build_resnet_fpn_backbone``: any MODEL.RESNETS depth/norm, MODEL.FPN.*) with
    the DPSNet bidirectional fusion (MODEL.BIPYRAMID.*). The "count" output exists only when
    MODEL.DENSITY_HEAD.ENABLED.
    """
    bp = cfg.MODEL.BIPYRAMID
    return BiPyramid(
        fpn=build_resnet_fpn_backbone(cfg, input_shape),
        fusion_on=bp.FUSION_ON,
        in_features=list(bp.IN_FEATURES),
        fuse_dim=bp.FUSE_DIM,
        norm=bp.NORM,
        count_stride=bp.COUNT_STRIDE if cfg.MODEL.DENSITY_HEAD.ENABLED else None,
    )
