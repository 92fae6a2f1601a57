"""Checkout levels: per-image counts in the documented ranges, means near RPC's."""

import collections
import json
import os

import numpy as np
import pytest

from dpsnet_d2.data.datasets.rpc_levels import LEVEL_SPECS, RPC_LEVEL_MEANS, sample_scene_plan


@pytest.mark.parametrize("split", ["val", "test"])
def test_written_scenes_within_ranges(tiny_synth, split):
    root, cfg = tiny_synth
    with open(os.path.join(root, f"instances_{split}2019.json")) as f:
        data = json.load(f)
    items = collections.Counter(a["image_id"] for a in data["annotations"])
    cats = collections.defaultdict(set)
    for a in data["annotations"]:
        cats[a["image_id"]].add(a["category_id"])
    levels = collections.Counter()
    for im in data["images"]:
        spec = LEVEL_SPECS[im["level"]]
        levels[im["level"]] += 1
        assert min(spec.items) <= items[im["id"]] <= max(spec.items)
        # categories are capped at the catalogue size (4 SKUs here)
        expected = {min(c, cfg.num_skus) for c in spec.categories}
        assert len(cats[im["id"]]) in expected
    assert set(levels.values()) == {len(data["images"]) // 3}


@pytest.mark.parametrize("level", ["easy", "medium", "hard"])
def test_plan_statistics_match_rpc(level):
    rng = np.random.default_rng(0)
    plans = [sample_scene_plan(level, 20, rng) for _ in range(3000)]
    items = np.array([len(p) for p in plans])
    cats = np.array([len(set(p.tolist())) for p in plans])
    spec = LEVEL_SPECS[level]
    assert items.min() >= min(spec.items) and items.max() <= max(spec.items)
    assert set(cats.tolist()) <= set(spec.categories)
    mean_items, mean_cats = RPC_LEVEL_MEANS[level]
    assert abs(items.mean() - mean_items) < 0.2
    assert abs(cats.mean() - mean_cats) < 0.1


def test_unknown_level():
    with pytest.raises(ValueError, match="unknown level"):
        sample_scene_plan("extreme", 20, np.random.default_rng(0))
