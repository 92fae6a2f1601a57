"""
Checks of a checkpoint's content before a model is built from it: the file parses, every weight
is finite, and its class count fits ``MODEL.ROI_HEADS.NUM_CLASSES``.

Which class-count mismatch is an error: resuming, distilling from, or checking out with a model
of another class count (:func:`check_checkpoint_classes`, ``strict=True``); initialising a new
training from ``MODEL.WEIGHTS`` (fine-tuning from a COCO model) only skips the class-dependent
tensors, which are listed (``strict=False``; Detectron2's checkpointer skips tensors of another
shape when it loads).

    state = read_checkpoint(path, "MODEL.WEIGHTS")        # {name: tensor or array}
    check_finite_weights(state, path, "MODEL.WEIGHTS")
    check_checkpoint_classes(state, num_classes, path, "--weights", strict=True)
"""
import logging
import math
import pickle
import zipfile
from typing import Dict, List, Optional

import numpy as np
import torch

from ..utils.cli import UserError

__all__ = [
    "CLASS_SCORE_KEY",
    "check_checkpoint_classes",
    "check_checkpoint_file",
    "check_finite_weights",
    "checkpoint_num_classes",
    "read_checkpoint",
]

logger = logging.getLogger(__name__)

# The box classifier's weight (K + 1 rows: K classes and background) in a Detectron2 checkpoint.
CLASS_SCORE_KEY = "roi_heads.box_predictor.cls_score.weight"
# Tensors whose shape follows the class count (classifier, class-specific box regression).
_CLASS_KEYS = ("roi_heads.box_predictor.cls_score.", "roi_heads.box_predictor.bbox_pred.")


def read_checkpoint(path: str, what: str) -> Dict:
    """
    The weights ``{name: tensor / array}`` of a PyTorch checkpoint (``{"model": ...}`` as
    Detectron2 saves it, or a bare state dict) or of a Detectron2 ``.pkl``; a file that does not
    parse (truncated, not a checkpoint) is a :class:`UserError` naming ``what`` and ``path``.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"PK":
            try:
                data = torch.load(path, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:  # a trusted Detectron2 checkpoint with other objects
                data = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with open(path, "rb") as f:
                data = pickle.load(f, encoding="latin1")
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError, AttributeError, ImportError, IndexError) as e:
        first = (str(e).strip().splitlines() or [""])[0][:100]
        raise UserError(f"{what} {path}: not a readable checkpoint ({type(e).__name__}: "
                        f"{first})") from e
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise UserError(f"{what} {path}: not a checkpoint (no dict of weights)")
    return state


def check_finite_weights(state: Dict, path: str, what: str) -> None:
    """Every floating-point weight of ``state`` is finite; else a UserError naming the first."""
    bad = []
    for name, value in state.items():
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        elif isinstance(value, np.ndarray):
            if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
                bad.append(name)
        elif isinstance(value, float) and not math.isfinite(value):
            bad.append(name)
    if bad:
        raise UserError(f"{what} {path}: {len(bad)} weight tensor(s) hold NaN or infinite "
                        f"values (first: {bad[0]})")


def checkpoint_num_classes(state: Dict) -> Optional[int]:
    """K, the class count of a Detectron2 checkpoint (its classifier has K + 1 rows), or None
    when it has no box classifier of Detectron2's naming (a backbone, a model-zoo .pkl)."""
    weight = state.get(CLASS_SCORE_KEY)
    if weight is None or len(getattr(weight, "shape", ())) != 2:
        return None
    return int(weight.shape[0]) - 1


def _class_tensors(state: Dict) -> List[str]:
    return sorted(k for k in state if k.startswith(_CLASS_KEYS))


def check_checkpoint_classes(state: Dict, num_classes: int, path: str, what: str, *,
                             strict: bool) -> List[str]:
    """
    Compare the checkpoint's class count with ``num_classes``. Returns the class-dependent
    tensor names that will not be loaded ([] when the counts agree or the checkpoint has no
    classifier). ``strict``: a mismatch is a :class:`UserError`; otherwise a warning lists them.
    """
    found = checkpoint_num_classes(state)
    if found is None or found == num_classes:
        return []
    skipped = _class_tensors(state)
    if strict:
        raise UserError(f"{what} {path}: a model of {found} classes, MODEL.ROI_HEADS.NUM_CLASSES "
                        f"is {num_classes}")
    logger.warning(f"{what} {path}: a model of {found} classes, MODEL.ROI_HEADS.NUM_CLASSES is "
                   f"{num_classes}: {len(skipped)} class-dependent tensors are skipped and "
                   f"initialised fresh: {', '.join(skipped)}")
    return skipped


def check_checkpoint_file(path: str, what: str, num_classes: Optional[int] = None, *,
                          strict: bool = True) -> List[str]:
    """
    :func:`read_checkpoint`, :func:`check_finite_weights` and, with ``num_classes``,
    :func:`check_checkpoint_classes`; returns the skipped tensor names. URLs are not checked.
    """
    if not path or "://" in path:
        return []
    state = read_checkpoint(path, what)
    check_finite_weights(state, path, what)
    if num_classes is None:
        return []
    return check_checkpoint_classes(state, num_classes, path, what, strict=strict)
