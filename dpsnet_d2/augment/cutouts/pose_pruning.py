"""
Pose pruning: drop the viewpoints in which a product shows too little of itself to look like it
does on a checkout counter (lying on its side, seen end-on). See docs/method.md §2.

For SKU k and viewpoint (training image) v, with A(k, v) the product's mask area normalised for
image scale (the fraction of the image it covers)::

    R(k, v) = A(k, v) / max_v A(k, v)        keep v  iff  R(k, v) > theta   (published theta: 0.45)

Every image of a SKU is one viewpoint; images of the same named viewpoint (several turntable
shots) are judged one by one.
"""
import logging
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...config import config_defaults

__all__ = [
    "DEFAULT_THETA",
    "parse_view",
    "prune_poses",
    "pruning_report",
    "unnatural_precision_recall",
]

logger = logging.getLogger(__name__)

# Published pose-pruning threshold on R (CUTOUTS.POSE_THETA).
DEFAULT_THETA = config_defaults("CUTOUTS")["pose_theta"]

_VIEW_RE = re.compile(r"_view(\d+)_")


def parse_view(file_name: str) -> int:
    """The viewpoint index in a file name ``..._view<v>_...`` (the synthetic RPC's names), else -1
    (real RPC names carry no viewpoint)."""
    found = _VIEW_RE.search(file_name.rsplit("/", 1)[-1])
    return int(found.group(1)) if found else -1


def prune_poses(
    areas: Sequence[float], skus: Sequence[int], theta: float = DEFAULT_THETA
) -> Tuple[np.ndarray, np.ndarray]:
    """
    R and the keep decision of every image.

    Args:
        areas: N normalised mask areas (>= 0); skus: N SKU ids; theta: the threshold.
    Returns:
        ratio (N float64: A / the largest A of the same SKU, 0 where that largest is 0) and
        kept (N bool: ratio > theta).
    """
    areas = np.asarray(areas, np.float64)
    skus = np.asarray(skus)
    if areas.shape != skus.shape:
        raise ValueError(f"areas {areas.shape} and skus {skus.shape} differ in length")
    ratio = np.zeros_like(areas)
    for sku in np.unique(skus):
        rows = skus == sku
        top = areas[rows].max()
        if top > 0:
            ratio[rows] = areas[rows] / top
    return ratio, ratio > theta


def pruning_report(
    records: Sequence[Dict], names: Optional[Sequence[str]] = None
) -> Tuple[List[Dict], List[str]]:
    """
    Per-SKU summary of a pruning, and a warning for every SKU left without a kept view.

    Args:
        records: dicts with ``sku``, ``file_name``, ``image_id``, ``view``, ``area``, ``ratio``,
            ``kept``; names: class names indexed by ``sku`` (optional).
    Returns:
        rows (one dict per SKU: ``sku``, ``name``, ``images``, ``kept``, ``pruned_views`` (view
        indices, or file names when there are none), ``min_kept_ratio``) and warning lines.
    """
    by_sku: Dict[int, List[Dict]] = {}
    for r in records:
        by_sku.setdefault(int(r["sku"]), []).append(r)
    rows, warnings = [], []
    for sku, recs in sorted(by_sku.items()):
        kept = [r for r in recs if r["kept"]]
        pruned = [r["view"] if r["view"] >= 0 else r["file_name"] for r in recs if not r["kept"]]
        name = names[sku] if names is not None and sku < len(names) else str(sku)
        rows.append(
            {
                "sku": sku,
                "name": name,
                "images": len(recs),
                "kept": len(kept),
                "pruned_views": pruned,
                "min_kept_ratio": round(min((r["ratio"] for r in kept), default=0.0), 4),
            }
        )
        if not kept:
            files = ", ".join(f"{r['file_name']} (image_id {r['image_id']})" for r in recs[:3])
            warnings.append(
                f"SKU {name!r} (sku {sku}) has no kept view: no usable mask in any of its "
                f"{len(recs)} images ({files}{', ...' if len(recs) > 3 else ''}); it gets no cut-out"
            )
    return rows, warnings


def unnatural_precision_recall(pruned: Sequence[bool], unnatural: Sequence[bool]) -> Dict:
    """
    Pruning as a detector of unnatural views. pruned, unnatural: N bools.
    Returns {"precision", "recall", "pruned", "unnatural"} (precision 1.0 when nothing is
    pruned, recall 1.0 when nothing is unnatural).
    """
    pruned = np.asarray(pruned, bool)
    unnatural = np.asarray(unnatural, bool)
    tp = int((pruned & unnatural).sum())
    return {
        "precision": tp / pruned.sum() if pruned.any() else 1.0,
        "recall": tp / unnatural.sum() if unnatural.any() else 1.0,
        "pruned": int(pruned.sum()),
        "unnatural": int(unnatural.sum()),
    }
