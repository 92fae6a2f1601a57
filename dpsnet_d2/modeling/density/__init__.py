"""The counting view: density heads (registry) and the density loss."""
from .head import DENSITY_HEAD_REGISTRY, StandardDensityHead, build_density_head
from .losses import density_l2_loss, pad_density_targets

__all__ = [
    "DENSITY_HEAD_REGISTRY",
    "StandardDensityHead",
    "build_density_head",
    "density_l2_loss",
    "pad_density_targets",
]
