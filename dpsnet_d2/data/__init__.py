"""Data: RPC-format datasets (registered on import), DPSNet's dataset mapper and density targets,
and the generator of the embedded stand-in dataset
(:mod:`.synthetic_rpc`; not the paper's checkout synthesis, which is :mod:`dpsnet_d2.augment`)."""
from . import datasets
from .dataset_mapper import DPSNetDatasetMapper
from .density_targets import DensityTargetGenerator

__all__ = ["DPSNetDatasetMapper", "DensityTargetGenerator"]
