"""
Tiny RPC-style datasets (registered per test; dicts and metadata as in docs/method.md §1.2-1.3)
and Instances-like model outputs.
"""
import itertools
import json
import os

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode, Boxes, Instances

# Dataset ids of the 3 contiguous classes.
CATEGORY_IDS = (10, 20, 30)
_names = itertools.count()


def gt_box(k):
    """Box k of an image, XYWH, 64 x 64 px images."""
    return [4.0 + 14 * (k % 4), 4.0 + 28 * (k // 4), 12.0, 20.0]


@pytest.fixture
def rpc_dataset():
    """
    A function (images, json_dir=None) -> registered dataset name; ``images`` is a list of
    (level or None, [contiguous class per object]) and image ids are 101, 102, ... With
    ``json_dir`` the ground truth is also written there as COCO json, the metadata's json_file.
    """
    names = []

    def make(images, json_dir=None):
        name = f"dpsnet_test_rpc_eval_{next(_names)}"
        dicts = []
        for i, (level, classes) in enumerate(images):
            annotations = [{"bbox": gt_box(k), "bbox_mode": BoxMode.XYWH_ABS, "category_id": c}
                           for k, c in enumerate(classes)]
            record = {"file_name": f"/nonexistent/{i}.jpg", "height": 64, "width": 64,
                      "image_id": 101 + i, "annotations": annotations}
            if level is not None:
                record["level"] = level
            dicts.append(record)
        DatasetCatalog.register(name, lambda: dicts)
        mapping = {cid: k for k, cid in enumerate(CATEGORY_IDS)}
        meta = dict(thing_classes=["a", "b", "c"], evaluator_type="rpc",
                    thing_dataset_id_to_contiguous_id=mapping)
        if json_dir is not None:
            meta["json_file"] = _write_coco_json(dicts, os.path.join(str(json_dir), f"{name}.json"))
        MetadataCatalog.get(name).set(**meta)
        names.append(name)
        return name

    yield make
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def _write_coco_json(dicts, path):
    anns = [{"id": 0, "image_id": d["image_id"], "category_id": CATEGORY_IDS[a["category_id"]],
             "bbox": a["bbox"], "area": a["bbox"][2] * a["bbox"][3], "iscrowd": 0}
            for d in dicts for a in d["annotations"]]
    for j, ann in enumerate(anns):
        ann["id"] = j + 1
    images = [{"id": d["image_id"], "width": 64, "height": 64, "file_name": d["file_name"]}
              for d in dicts]
    categories = [{"id": c, "name": str(c)} for c in CATEGORY_IDS]
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": anns, "categories": categories}, f)
    return path


def instances(dets):
    """Instances from [(object index k or XYWH box, class, score)], as the model returns them."""
    boxes = []
    for where, _, _ in dets:
        x, y, w, h = gt_box(where) if isinstance(where, int) else where
        boxes.append([x, y, x + w, y + h])
    out = Instances((64, 64))
    out.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    out.scores = torch.tensor([s for _, _, s in dets], dtype=torch.float32)
    out.pred_classes = torch.tensor([c for _, c, _ in dets], dtype=torch.int64)
    return out


@pytest.fixture
def make_instances():
    return instances
