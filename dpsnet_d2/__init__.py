"""
dpsnet_d2: DPSNet for automatic check-out as a Detectron2 extension.

``import dpsnet_d2`` registers every component (meta-architecture, backbone, heads,
datasets, evaluators) with Detectron2's registries.
"""
from . import augment, data, modeling
from .config import add_dpsnet_config, get_dpsnet_cfg
from .engine import DPSNetTrainer
from .evaluation import RPCEvaluator
from .version import __version__

__all__ = ["add_dpsnet_config", "get_dpsnet_cfg", "DPSNetTrainer", "RPCEvaluator", "__version__"]
