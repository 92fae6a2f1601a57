"""The DPSNet neck: bidirectional pyramid fusion as a Detectron2 backbone."""
from .bipyramid import BiPyramid, build_resnet_bipyramid_backbone

__all__ = ["BiPyramid", "build_resnet_bipyramid_backbone"]
