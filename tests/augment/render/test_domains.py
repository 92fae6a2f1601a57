"""Domains of the renderer: folders, json files and dataset names, images only."""
import json

import cv2
import numpy as np
import pytest
import torch

from dpsnet_d2.augment.render import DomainError, list_domain_images
from dpsnet_d2.augment.render.domains import CropDataset, default_image_root


def _image(path, size=(40, 60)):
    cv2.imwrite(str(path), np.full((*size, 3), 128, np.uint8))


def test_folder_and_empty_folder(tmp_path):
    with pytest.raises(DomainError, match="folder has no images"):
        list_domain_images(str(tmp_path))
    _image(tmp_path / "b.png")
    _image(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.rsplit("/", 1)[1] for p in list_domain_images(str(tmp_path))] == ["a.jpg", "b.png"]


def test_json_reads_images_only(tmp_path):
    (tmp_path / "test2019").mkdir()
    _image(tmp_path / "test2019" / "x.jpg")
    # annotations a checked loader would reject (unknown image and category): never parsed here
    data = {
        "images": [{"id": 1, "file_name": "x.jpg"}],
        "annotations": [{"image_id": 99, "category_id": 7, "bbox": "oops"}],
        "categories": [],
    }
    path = tmp_path / "instances_test2019.json"
    path.write_text(json.dumps(data))
    assert default_image_root(str(path)) == str(tmp_path / "test2019")
    assert list_domain_images(str(path)) == [str(tmp_path / "test2019" / "x.jpg")]
    data["images"].append({"id": 2, "file_name": "gone.jpg"})
    path.write_text(json.dumps(data))
    with pytest.raises(DomainError, match="gone.jpg listed but not found"):
        list_domain_images(str(path))


def test_registered_dataset_and_unknown_name(tiny_rpc_root):
    from dpsnet_d2.data.datasets.rpc import register_rpc_instances

    register_rpc_instances(
        "render_test_tiny_val",
        f"{tiny_rpc_root}/instances_val2019.json",
        f"{tiny_rpc_root}/val2019",
    )
    assert len(list_domain_images("render_test_tiny_val")) == 3
    with pytest.raises(DomainError, match="neither a folder, a json file nor a registered dataset"):
        list_domain_images("no_such_dataset_or_folder")


def test_crops(tmp_path):
    _image(tmp_path / "a.jpg", size=(30, 90))
    item = CropDataset([str(tmp_path / "a.jpg")], load_size=60, crop=32)[0]
    assert item.shape == (3, 32, 32) and item.dtype == torch.float32
    assert item.min() >= -1 and item.max() <= 1
