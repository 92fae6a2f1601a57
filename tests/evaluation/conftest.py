"""Tiny RPC-style datasets (registered per test, contract 1/2) and Instances-like model outputs."""
import itertools

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
    A function (images, json_file=None) -> registered dataset name; ``images`` is a list of
    (level or None, [contiguous class per object]) and image ids are 101, 102, ...
    """
    names = []

    def make(images, json_file=None):
        name = f"dpsnet_test_rpc_eval_{next(_names)}"
        dicts = []
        for i, (level, classes) in enumerate(images):
            record = {"file_name": f"/nonexistent/{i}.jpg", "height": 64, "width": 64, "image_id": 101 + i,
                      "annotations": [{"bbox": gt_box(k), "bbox_mode": BoxMode.XYWH_ABS, "category_id": c}
                                      for k, c in enumerate(classes)]}
            if level is not None:
                record["level"] = level
            dicts.append(record)
        DatasetCatalog.register(name, lambda: dicts)
        meta = dict(thing_classes=["a", "b", "c"], evaluator_type="rpc",
                    thing_dataset_id_to_contiguous_id={cid: k for k, cid in enumerate(CATEGORY_IDS)})
        if json_file is not None:
            meta["json_file"] = json_file
        MetadataCatalog.get(name).set(**meta)
        names.append(name)
        return name

    yield make
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


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
