"""Data: RPC-format datasets (registered on import), DPSNet's dataset mapper and density targets,
and the synthetic RPC generator (:mod:`.synthetic`)."""
from . import datasets
from .dataset_mapper import DPSNetDatasetMapper
from .density_targets import DensityTargetGenerator, density_channel_map

__all__ = ["DPSNetDatasetMapper", "DensityTargetGenerator", "density_channel_map"]
