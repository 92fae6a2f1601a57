"""
Settings of the cut-out stage's ``masks`` step (``tools/prepare_rpc.py masks``), built from the
``CUTOUTS`` config node, whose defaults they take (dpsnet_d2/config.py). Pose pruning's one
setting, theta, is ``CUTOUTS.POSE_THETA`` (:mod:`.pose_pruning`).
"""
from dataclasses import dataclass, field
from typing import Dict

from ...config import config_defaults, defaults_from_config, settings_from_node
from .background_removal import CoarseMaskParams

__all__ = ["METHODS", "MaskSettings"]

# Where the final masks come from (CUTOUTS.METHOD).
METHODS = ("saliency", "coarse", "grabcut")


@dataclass
@defaults_from_config("CUTOUTS.SALIENCY")
class MaskSettings:
    """
    Settings of the masks step: ``method`` is ``CUTOUTS.METHOD``, ``coarse`` the
    ``CUTOUTS.COARSE`` settings, the others down to ``seed`` the keys of ``CUTOUTS.SALIENCY``,
    lower-cased (dpsnet_d2/config.py: defaults and meanings). ``device`` and ``threads`` (torch
    threads of the network on CPU; on a shared 2-core machine 1 was 3-6x faster) belong to the
    machine, not to the method.
    """

    method: str = config_defaults("CUTOUTS")["method"]
    min_confidence: float
    input_size: int
    margin: float
    steps: int
    batch_size: int
    max_train: int
    seed: int
    coarse: CoarseMaskParams = field(default_factory=CoarseMaskParams)
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")

    @classmethod
    def from_config(cls, cfg, *, device: str = "cpu", threads: int = 1) -> "MaskSettings":
        """The settings in ``cfg.CUTOUTS`` (its METHOD, COARSE and SALIENCY nodes)."""
        return settings_from_node(cls, cfg.CUTOUTS.SALIENCY, method=cfg.CUTOUTS.METHOD,
                                  coarse=CoarseMaskParams.from_config(cfg), device=device,
                                  threads=threads)  # fmt: skip

    def saliency_key(self) -> Dict:
        """The settings that change the trained network."""
        keys = ("min_confidence", "input_size", "margin", "steps", "batch_size", "max_train", "seed")
        return {k: getattr(self, k) for k in keys}
