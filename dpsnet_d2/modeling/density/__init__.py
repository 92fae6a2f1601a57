"""The counting view: class -> density-channel map, density heads (registry), the density loss."""
from .channels import density_channel_map
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
