"""
CycleGAN checkpoints: one file holding the settings, the four networks and (for ``--resume``)
the optimiser state. Saved atomically; every load is checked, so a file that is not a render
checkpoint, or one of another architecture, stops with one error naming the file.
"""
import io
import os
from typing import Dict, Optional

import torch

from dpsnet_d2.utils import atomic_write_bytes

from .model import ARCH_FIELDS, CycleGAN, CycleGANConfig, CycleGANSolver

__all__ = ["RenderCheckpointError", "save_checkpoint", "load_checkpoint", "load_renderer"]

_FORMAT = "dpsnet_d2.render.cyclegan/1"


class RenderCheckpointError(ValueError):
    """A render checkpoint that cannot be used: missing, unreadable, or of another model."""

    def __init__(self, path, fault):
        super().__init__(f"{path}: {fault}")


def save_checkpoint(path: str, model: CycleGAN, solver: Optional[CycleGANSolver] = None) -> None:
    """Write ``path`` (temporary file, then rename): config, weights and, if given, the solver."""
    state = {
        "format": _FORMAT,
        "config": model.cfg.as_dict(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "solver": solver.state_dict() if solver is not None else None,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _read(path: str) -> Dict:
    if not os.path.isfile(path):
        raise RenderCheckpointError(path, "no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        first = (str(e).strip().splitlines() or [""])[0]
        detail = f"{type(e).__name__}: {first}" if 0 < len(first) <= 80 else type(e).__name__
        raise RenderCheckpointError(path, f"not a readable torch checkpoint ({detail})") from e
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise RenderCheckpointError(
            path, "not a CycleGAN render checkpoint (written by train-render)"
        )
    return state


def load_checkpoint(path: str, expect: Optional[CycleGANConfig] = None):
    """
    Read a checkpoint into a new :class:`CycleGAN` (on CPU).

    Returns:
        (model, solver state or None).

    Args:
        path: the checkpoint file.
        expect: when given, its architecture fields (``ARCH_FIELDS``) and ``image_size`` must
            match the checkpoint's (resuming with other settings is an error).
    Raises:
        RenderCheckpointError: missing or foreign file, other architecture, weights that do not fit.
    """
    state = _read(path)
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
    model = CycleGAN(cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise RenderCheckpointError(
            path, f"weights do not fit the model ({first[-1].strip()})"
        ) from e
    return model, state.get("solver")


def load_renderer(path: str, device: str = "cpu"):
    """The A -> B generator of a checkpoint, in eval mode on ``device``, and its config."""
    model, _ = load_checkpoint(path)
    return model.g_ab.to(device).eval(), model.cfg
