"""The written files follow RPC's layout and schema (docs/method.md §1.1); masks match boxes."""

import json
import os

import cv2
import numpy as np
import pytest

from dpsnet_d2.data.datasets.rpc_format import (
    RPC_LEVELS,
    RPC_SUPERCATEGORIES,
    image_folder,
    json_name,
)
from dpsnet_d2.data.datasets.rpc_levels import LEVEL_SPECS
from dpsnet_d2.data.datasets.synthetic import COUNTER_DIR, MASK_DIR


def _load(root, split):
    with open(os.path.join(root, json_name(split))) as f:
        return json.load(f)


def test_layout(tiny_synth):
    root, cfg = tiny_synth
    assert sorted(os.listdir(root)) == sorted(
        ["train2019", "val2019", "test2019", MASK_DIR, COUNTER_DIR]
        + [f"instances_{s}2019.json" for s in ("train", "val", "test")]
    )
    for split in ("train", "val", "test"):
        assert len(os.listdir(os.path.join(root, image_folder(split)))) == cfg.count(split)



def test_the_generator_draws_rpc_levels_in_order():
    assert tuple(LEVEL_SPECS) == RPC_LEVELS


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_json_schema(tiny_synth, split):
    root, cfg = tiny_synth
    data = _load(root, split)
    cats = data["categories"]
    assert [c["id"] for c in cats] == list(range(1, cfg.num_skus + 1))
    for c in cats:
        assert set(c) == {"id", "name", "supercategory"}
        assert c["supercategory"] in RPC_SUPERCATEGORIES and c["name"].startswith(
            f"{c['id']}_{c['supercategory']}_"
        )
    image_keys = {"id", "file_name", "width", "height"} | ({"level"} if split != "train" else set())
    ids = [im["id"] for im in data["images"]]
    assert len(ids) == cfg.count(split) and len(set(ids)) == len(ids)
    images = {im["id"]: im for im in data["images"]}
    for im in data["images"]:
        assert set(im) == image_keys
        if split != "train":
            assert im["level"] in LEVEL_SPECS
        img = cv2.imread(os.path.join(root, image_folder(split), im["file_name"]))
        assert img.shape == (im["height"], im["width"], 3) == (cfg.size, cfg.size, 3)
    ann_ids = [a["id"] for a in data["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids) > 0
    for a in data["annotations"]:
        assert set(a) == {
            "id",
            "image_id",
            "category_id",
            "bbox",
            "area",
            "iscrowd",
            "segmentation",
            "point_xy",
        }
        im = images[a["image_id"]]
        x, y, w, h = a["bbox"]
        assert (
            w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= im["width"] and y + h <= im["height"]
        )
        assert 1 <= a["category_id"] <= cfg.num_skus and a["iscrowd"] == 0
        assert a["point_xy"] == [x + w / 2, y + h / 2]
        assert 0 < a["area"] <= w * h
        if split == "train":
            assert a["segmentation"] == [] and a["area"] == w * h
        else:
            assert a["segmentation"] and all(
                len(p) >= 6 and len(p) % 2 == 0 for p in a["segmentation"]
            )
            pts = np.concatenate([np.reshape(p, (-1, 2)) for p in a["segmentation"]])
            assert pts.min(0).tolist() == [x, y] and (pts.max(0) + 1).tolist() == [x + w, y + h]
    if split == "train":
        assert len(data["annotations"]) == len(data["images"])


def test_train_masks_match_boxes_and_background_is_visible(tiny_synth):
    root, _ = tiny_synth
    data = _load(root, "train")
    boxes = {a["image_id"]: a["bbox"] for a in data["annotations"]}
    for im in data["images"]:
        stem = os.path.splitext(im["file_name"])[0]
        mask = cv2.imread(os.path.join(root, MASK_DIR, stem + ".png"), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (im["height"], im["width"]) and mask.dtype == np.uint8
        assert set(np.unique(mask).tolist()) == {0, 255}
        ys, xs = np.nonzero(mask)
        extent = [
            int(xs.min()),
            int(ys.min()),
            int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1),
        ]
        assert boxes[im["id"]] == extent
        img = cv2.imread(os.path.join(root, image_folder("train"), im["file_name"])).astype(
            np.float32
        )
        background = img[mask == 0]
        # turntable and backdrop around the product: far from a flat colour
        assert background.std(axis=0).mean() > 10.0
