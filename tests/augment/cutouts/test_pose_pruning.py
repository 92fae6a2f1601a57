"""Pose pruning on hand-made area tables."""
import numpy as np
import pytest

from dpsnet_d2.augment.cutouts.pose_pruning import (
    parse_view,
    prune_poses,
    pruning_report,
    unnatural_precision_recall,
)


def test_ratio_and_keep_on_a_hand_made_table():
    #        sku 0: views 0..3            sku 1: views 0..2
    areas = [0.20, 0.10, 0.09, 0.05, 0.04, 0.02, 0.0181]
    skus = [0, 0, 0, 0, 1, 1, 1]
    ratio, kept = prune_poses(areas, skus, theta=0.45)
    np.testing.assert_allclose(ratio, [1.0, 0.5, 0.45, 0.25, 1.0, 0.5, 0.4525])
    assert kept.tolist() == [True, True, False, False, True, True, True]  # R > theta, strictly
    _, kept = prune_poses(areas, skus, theta=0.0)
    assert kept.all()
    _, kept = prune_poses(areas, skus, theta=1.0)
    assert not kept.any()


def test_sku_without_mask_has_no_kept_view_and_a_warning():
    ratio, kept = prune_poses([0.0, 0.0, 0.3], [5, 5, 6])
    assert ratio.tolist() == [0.0, 0.0, 1.0] and kept.tolist() == [False, False, True]
    records = [
        {"sku": s, "file_name": f"img{i}.jpg", "image_id": i + 1, "view": -1, "area": a,
         "ratio": float(r), "kept": bool(k)}
        for i, (s, a, r, k) in enumerate(zip([5, 5, 6], [0.0, 0.0, 0.3], ratio, kept))
    ]  # fmt: skip
    names = [f"class_{i}" for i in range(7)]
    rows, warnings = pruning_report(records, names)
    assert [r["kept"] for r in rows] == [0, 1]
    assert rows[0]["pruned_views"] == ["img0.jpg", "img1.jpg"]
    assert len(warnings) == 1
    assert "class_5" in warnings[0] and "img0.jpg (image_id 1)" in warnings[0]


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        prune_poses([0.1, 0.2], [0])


def test_parse_view_and_precision_recall():
    assert parse_view("sku003_view07_00.jpg") == 7
    assert parse_view("train2019/sku003_view11_02.jpg") == 11
    assert parse_view("20180824-13-36-00-4.jpg") == -1
    pr = unnatural_precision_recall([True, True, False, False], [True, False, True, False])
    assert pr == {"precision": 0.5, "recall": 0.5, "pruned": 2, "unnatural": 2}
    assert unnatural_precision_recall([False], [False])["precision"] == 1.0
