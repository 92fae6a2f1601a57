"""
CycleGAN checkpoints, written and resumed through Detectron2's checkpointer.

A checkpoint is the file Detectron2's ``Checkpointer`` writes (``model``: the four networks'
weights, one entry per checkpointable: both optimisers, both schedules, both image pools and
the trainer's iteration) plus ``format`` and ``config`` (the :class:`CycleGANConfig`), so that
``render`` can rebuild the generator from the file alone. Files and the ``last_checkpoint`` tag
are written atomically (temporary file, then rename). Every load is checked: a file that is not
a render checkpoint, or one of another architecture, stops with one error naming the file.
Checkpoints of the earlier hand-written format (``.../1``: settings, weights and a solver
state) still load for ``render``; they cannot be resumed.
"""
import os
from typing import Dict, Optional

import torch
from detectron2.checkpoint import Checkpointer

from dpsnet_d2.utils.file_io import AtomicPathManager

from .model import ARCH_FIELDS, CycleGAN, CycleGANConfig

__all__ = [
    "RenderCheckpointError", "RenderCheckpointer", "read_checkpoint", "checkpoint_config",
    "load_model", "load_renderer",
]  # fmt: skip

FORMAT = "dpsnet_d2.render.cyclegan/2"
# The hand-written format before the Detectron2 checkpointer: weights and settings load alike.
_FORMAT_V1 = "dpsnet_d2.render.cyclegan/1"


class RenderCheckpointError(ValueError):
    """A render checkpoint that cannot be used: missing, unreadable, or of another model."""

    def __init__(self, path, fault):
        super().__init__(f"{path}: {fault}")


def read_checkpoint(path: str) -> Dict:
    """The checkpoint's dict (tensors on CPU), either format; one-line errors for anything else."""
    if not os.path.isfile(path):
        raise RenderCheckpointError(path, "no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        first = (str(e).strip().splitlines() or [""])[0]
        detail = f"{type(e).__name__}: {first}" if 0 < len(first) <= 80 else type(e).__name__
        raise RenderCheckpointError(path, f"not a readable torch checkpoint ({detail})") from e
    if not isinstance(state, dict) or state.get("format") not in (FORMAT, _FORMAT_V1):
        raise RenderCheckpointError(
            path, "not a CycleGAN render checkpoint (written by train-render)"
        )
    return state


def checkpoint_config(path: str, state: Dict, expect: Optional[CycleGANConfig] = None):
    """
    The :class:`CycleGANConfig` stored in a checkpoint read from ``path``.

    Args:
        expect: when given, its architecture fields (``ARCH_FIELDS``) and ``image_size`` must
            match the checkpoint's (resuming with other settings is an error).
    Raises:
        RenderCheckpointError: bad settings, or another architecture than ``expect``.
    """
    try:
        cfg = CycleGANConfig(**state["config"])
    except (TypeError, ValueError) as e:
        raise RenderCheckpointError(path, f"bad CycleGAN settings ({e})") from e
    if expect is not None:
        diff = [
            f"{k} {getattr(cfg, k)} (requested {getattr(expect, k)})"
            for k in ARCH_FIELDS + ("image_size",)
            if getattr(cfg, k) != getattr(expect, k)
        ]
        if diff:
            raise RenderCheckpointError(path, "checkpoint of another model: " + ", ".join(diff))
    return cfg


class RenderCheckpointer(Checkpointer):
    """
    Detectron2's :class:`Checkpointer` over a :class:`CycleGAN` and its checkpointables
    (optimisers, schedules, pools, the trainer), with the module docstring's additions: the
    format and settings in every file, atomic writes, and a checked load (format, architecture
    equal to the model's) before any state is touched.
    """

    def __init__(self, model: CycleGAN, save_dir: str = "", **checkpointables):
        super().__init__(model, save_dir, **checkpointables)
        self.path_manager = AtomicPathManager(self.path_manager)

    def save(self, name: str, **kwargs) -> None:
        kwargs.setdefault("format", FORMAT)
        kwargs.setdefault("config", self.model.cfg.as_dict())
        super().save(name, **kwargs)

    def _load_file(self, f: str) -> Dict:
        state = read_checkpoint(f)
        if state["format"] != FORMAT:
            raise RenderCheckpointError(
                f, "written by an older train-render: its model_final.pth still renders, but it "
                "cannot be resumed (train again with --overwrite)"
            )
        checkpoint_config(f, state, expect=self.model.cfg)
        return state


def load_model(path: str) -> CycleGAN:
    """
    A new :class:`CycleGAN` (on CPU) with the settings and weights of the checkpoint ``path``
    (either format), every weight required.

    Raises:
        RenderCheckpointError: missing or foreign file, bad settings, weights that do not fit.
    """
    state = read_checkpoint(path)
    model = CycleGAN(checkpoint_config(path, state))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise RenderCheckpointError(
            path, f"weights do not fit the model ({first[-1].strip()})"
        ) from e
    return model


def load_renderer(path: str, device: str = "cpu"):
    """The A -> B generator of a checkpoint, in eval mode on ``device``, and its config."""
    model = load_model(path)
    return model.g_ab.to(device).eval(), model.cfg
