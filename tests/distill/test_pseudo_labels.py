"""Pseudo-label files: valid RPC json, loadable as a dataset; target images read without labels."""
import json

import numpy as np
import pytest
from detectron2.data import DatasetCatalog

from dpsnet_d2.data.datasets.rpc_format import load_rpc_categories, load_rpc_json
from dpsnet_d2.distill.pseudo_labels import (
    categories_from_metadata,
    pseudo_label_json,
    register_pseudo_labels,
)
from dpsnet_d2.distill.targets import TargetError, load_target_images
from dpsnet_d2.utils import write_json_atomic


@pytest.fixture
def target(tiny_rpc_root):
    from dpsnet_d2.data.datasets import register_rpc_splits

    register_rpc_splits(tiny_rpc_root, "pl_tiny_{split}")
    return "pl_tiny_test"


def test_target_images_carry_no_labels(target):
    records = load_target_images(target)
    assert [r["level"] for r in records] == ["easy", "medium", "hard"]
    assert all(set(r) == {"file_name", "height", "width", "image_id", "level"} for r in records)


def test_annotations_are_never_parsed(tiny_rpc_root, tmp_path):
    from dpsnet_d2.data.datasets import register_rpc_instances

    with open(f"{tiny_rpc_root}/instances_test2019.json") as f:
        data = json.load(f)
    text = json.dumps({"annotations": "not a list at all", "images": data["images"],
                       "categories": data["categories"]})
    (tmp_path / "t.json").write_text(text)
    register_rpc_instances("pl_broken_labels", str(tmp_path / "t.json"),
                           f"{tiny_rpc_root}/test2019")
    assert len(load_target_images("pl_broken_labels")) == 3


def test_missing_or_empty_target_is_one_clear_error(tiny_rpc_root, tmp_path):
    from dpsnet_d2.data.datasets import register_rpc_instances

    with pytest.raises(TargetError, match="'nope' is not registered"):
        load_target_images("nope")
    register_rpc_instances("pl_missing", str(tmp_path / "missing.json"), str(tmp_path))
    with pytest.raises(TargetError, match="missing.json does not exist"):
        load_target_images("pl_missing")
    (tmp_path / "empty.json").write_text('{"images": [], "annotations": [], "categories": []}')
    register_rpc_instances("pl_empty", str(tmp_path / "empty.json"), str(tmp_path))
    with pytest.raises(TargetError, match="'pl_empty' has no images"):
        load_target_images("pl_empty")


def test_pseudo_label_json_is_valid_and_loadable(target, tiny_rpc_root, tmp_path):
    records = load_target_images(target)
    meta = load_rpc_categories(f"{tiny_rpc_root}/instances_test2019.json")
    categories = categories_from_metadata(meta)
    predictions = [
        {"boxes": np.array([[1.004, 2.0, 20.5, 30.25], [-3, 40, 70, 66]], np.float32),
         "scores": np.array([0.93, 0.2], np.float32), "classes": np.array([0, 3])},
        {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
         "classes": np.zeros(0, int)},
        {"boxes": np.array([[5, 5, 9, 9]], np.float32), "scores": np.array([0.99], np.float32),
         "classes": np.array([2])},
    ]
    keep = [np.array([True, True]), None, np.array([True])]
    data = pseudo_label_json(records, predictions, keep, categories=categories,
                             image_root=f"{tiny_rpc_root}/test2019", info={"round": 0})
    path = tmp_path / "pseudo_labels.json"
    write_json_atomic(str(path), data)
    dicts = load_rpc_json(str(path), f"{tiny_rpc_root}/test2019")
    assert [d["image_id"] for d in dicts] == [records[0]["image_id"], records[2]["image_id"]]
    assert [d["file_name"] for d in dicts] == [records[0]["file_name"], records[2]["file_name"]]
    assert [d["level"] for d in dicts] == ["easy", "hard"]
    boxes = [a["bbox"] for a in dicts[0]["annotations"]]
    assert boxes[0] == pytest.approx([1.0, 2.0, 19.5, 28.25])
    assert boxes[1] == pytest.approx([0.0, 40.0, 64.0, 24.0])  # clipped to the 64 x 64 image
    assert [a["category_id"] for a in dicts[0]["annotations"]] == [0, 3]  # contiguous again
    assert dicts[1]["annotations"][0]["category_id"] == 2
    assert [a["score"] for a in data["annotations"]] == pytest.approx([0.93, 0.2, 0.99])
    register_pseudo_labels("pl_pseudo", str(path), f"{tiny_rpc_root}/test2019")
    assert len(DatasetCatalog.get("pl_pseudo")) == 2


def test_accumulated_labels_keep_earlier_images_and_relabel_reselected_ones():
    from dpsnet_d2.distill.pseudo_labels import accumulate_pseudo_labels

    cats = [{"id": 1, "name": "a"}]

    def labels(round_index, image_ids, boxes_per_image):
        anns = [{"id": 0, "image_id": i, "bbox": [k, 0, 1, 1], "category_id": 1}
                for i in image_ids for k in range(boxes_per_image)]
        return {"info": {"round": round_index}, "images": [{"id": i} for i in image_ids],
                "annotations": anns, "categories": cats}

    first = accumulate_pseudo_labels(None, labels(0, [1, 2], 1))
    assert first["info"]["accumulated_rounds"] == 1 and len(first["images"]) == 2
    both = accumulate_pseudo_labels(first, labels(1, [2, 3], 2))
    assert [i["id"] for i in both["images"]] == [1, 2, 3]
    per_image = {i: sum(a["image_id"] == i for a in both["annotations"]) for i in (1, 2, 3)}
    assert per_image == {1: 1, 2: 2, 3: 2}  # image 2 carries round 1's labels
    assert [a["id"] for a in both["annotations"]] == list(range(1, 6))
    assert both["info"] == {"round": 1, "accumulated_rounds": 2}
