"""
RPC's checkout levels as distributions: per level, how many distinct SKUs (categories) and how
many products (items) a checkout image holds, and the scene plan drawn from them. Shared by the
method's scene synthesis (:mod:`dpsnet_d2.augment.synthesis`) and the embedded set's generator.

=======  ===================  ===============  ==================  ============
level    categories           mean (RPC)       items               mean (RPC)
=======  ===================  ===============  ==================  ============
easy     3-4                  3.8 (3.8)        4-10, uniform       7.0 (7)
medium   5-7                  6.3 (6.3)        10-15               11.95 (12)
hard     8-10                 8.9 (8.9)        15-20               17.0 (17)
=======  ===================  ===============  ==================  ============

The ranges are the synthesis rules' (docs/method.md); the probabilities are chosen so the means
match RPC's.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

__all__ = ["LEVEL_SPECS", "LevelSpec", "RPC_LEVEL_MEANS", "sample_scene_plan"]

# RPC's per-image means (objects, categories) of val+test by level (docs/method.md §1).
RPC_LEVEL_MEANS = {"easy": (7.0, 3.8), "medium": (12.0, 6.3), "hard": (17.0, 8.9)}


@dataclass(frozen=True)
class LevelSpec:
    """Distributions of a level: ``categories`` / ``items`` values with their probabilities."""

    categories: Tuple[int, ...]
    category_probs: Tuple[float, ...]
    items: Tuple[int, ...]
    item_probs: Tuple[float, ...]


LEVEL_SPECS = {
    "easy": LevelSpec((3, 4), (0.2, 0.8), tuple(range(4, 11)), (1 / 7,) * 7),
    "medium": LevelSpec(
        (5, 6, 7), (0.2, 0.3, 0.5), tuple(range(10, 16)), (0.25, 0.2, 0.2, 0.15, 0.1, 0.1)
    ),
    "hard": LevelSpec(
        (8, 9, 10), (0.3, 0.5, 0.2), tuple(range(15, 21)), (0.2, 0.25, 0.2, 0.15, 0.1, 0.1)
    ),
}


def sample_scene_plan(level: str, num_skus: int, rng):
    """
    The SKUs of one scene of ``level``.

    Returns:
        int64 array (items,) of 0-based catalogue indices, in stacking order (first at the bottom).
    """
    if level not in LEVEL_SPECS:
        raise ValueError(f"unknown level {level!r}; expected one of {sorted(LEVEL_SPECS)}")
    spec = LEVEL_SPECS[level]
    num_cat = min(int(rng.choice(spec.categories, p=spec.category_probs)), num_skus)
    num_items = int(rng.choice(spec.items, p=spec.item_probs))
    skus = rng.choice(num_skus, size=num_cat, replace=False)
    extra = rng.choice(skus, size=num_items - num_cat, replace=True)
    return rng.permutation(np.concatenate([skus, extra]))
