"""The counting view: density heads (registry), the density loss, and the class -> density-channel
map (:mod:`dpsnet_d2.density_channels`, shared with the data package's targets)."""
from ...density_channels import density_channel_map
from .head import DENSITY_HEAD_REGISTRY, StandardDensityHead, build_density_head
from .losses import density_l2_loss, pad_density_targets

__all__ = [
    "DENSITY_HEAD_REGISTRY",
    "StandardDensityHead",
    "build_density_head",
    "density_channel_map",
    "density_l2_loss",
    "pad_density_targets",
]
