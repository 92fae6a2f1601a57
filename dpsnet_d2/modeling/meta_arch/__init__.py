"""DPSNet's meta-architecture."""
from .dpsnet import DPSNet

__all__ = ["DPSNet"]
