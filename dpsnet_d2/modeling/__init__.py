"""DPSNet's model: the bidirectional pyramid neck, the density head and the meta-architecture."""
from .density import DENSITY_HEAD_REGISTRY, build_density_head
from .meta_arch import DPSNet
from .neck import BiPyramid, build_resnet_bipyramid_backbone

__all__ = [
    "BiPyramid",
    "DENSITY_HEAD_REGISTRY",
    "DPSNet",
    "build_density_head",
    "build_resnet_bipyramid_backbone",
]
