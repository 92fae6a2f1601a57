"""Data: DPSNet's dataset mapper and ground-truth density targets."""
from .dataset_mapper import DPSNetDatasetMapper
from .density_targets import DensityTargetGenerator, density_channel_map

__all__ = ["DPSNetDatasetMapper", "DensityTargetGenerator", "density_channel_map"]
