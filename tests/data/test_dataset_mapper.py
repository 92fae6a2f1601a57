"""DPSNetDatasetMapper: DatasetMapper's output plus density targets built after augmentation."""
import cv2
import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.data import transforms as T
from detectron2.structures import BoxMode

from dpsnet_d2.data import DensityTargetGenerator, DPSNetDatasetMapper
from dpsnet_d2.engine.trainer import build_train_mapper


@pytest.fixture
def cfg(tiny_dpsnet_cfg):
    return tiny_dpsnet_cfg()


def _mapper(cfg, augmentations):
    return DPSNetDatasetMapper(
        is_train=True, augmentations=augmentations, image_format="BGR",
        density_target_generator=DensityTargetGenerator(cfg),
    )


def test_training_output_has_density_of_the_augmented_image(tiny_dpsnet_cfg, tiny_coco):
    cfg = tiny_dpsnet_cfg("MODEL.DENSITY_HEAD.CHANNEL_MODE", "category")
    mapper = build_train_mapper(cfg)
    assert isinstance(mapper, DPSNetDatasetMapper)
    for record in DatasetCatalog.get(tiny_coco):
        out = mapper(record)
        assert out["image"].shape == (3, 64, 64)
        assert out["density"].shape == (3, 8, 8) and out["density"].dtype == torch.float32
        counts = torch.bincount(out["instances"].gt_classes, minlength=3).float()
        assert torch.allclose(out["density"].sum(dim=(1, 2)), counts, atol=1e-4)


def test_no_density_at_inference_or_with_the_counting_view_off(cfg, tiny_coco):
    record = DatasetCatalog.get(tiny_coco)[0]
    out = DPSNetDatasetMapper(cfg, False)(record)
    assert "density" not in out and "instances" not in out
    cfg.MODEL.DENSITY_HEAD.ENABLED = False
    out = DPSNetDatasetMapper(cfg, True)(record)
    assert "density" not in out and "instances" in out


def test_flip_moves_the_density_with_the_boxes(cfg, tiny_coco):
    """64 px images (a multiple of 8): the flipped image's density is the mirrored density."""
    record = DatasetCatalog.get(tiny_coco)[0]
    plain = _mapper(cfg, [])(record)
    flipped = _mapper(cfg, [T.RandomFlip(prob=1.0, horizontal=True)])(record)
    assert torch.equal(flipped["image"], torch.flip(plain["image"], dims=[-1]))
    assert torch.allclose(flipped["density"], torch.flip(plain["density"], dims=[-1]), atol=1e-6)
    assert not torch.allclose(flipped["density"], plain["density"], atol=1e-3)


def test_resize_scales_the_density_map_and_keeps_the_counts(cfg, tiny_coco):
    record = DatasetCatalog.get(tiny_coco)[1]
    plain = _mapper(cfg, [])(record)
    big = _mapper(cfg, [T.ResizeShortestEdge(128, 128)])(record)
    assert big["density"].shape == (1, 16, 16)
    assert big["density"].sum().item() == pytest.approx(plain["density"].sum().item(), abs=1e-4)
    box = big["instances"].gt_boxes.tensor / 2
    assert torch.allclose(box, plain["instances"].gt_boxes.tensor, atol=1e-3)


def test_density_target_errors_name_the_image(cfg, tiny_coco):
    record = dict(DatasetCatalog.get(tiny_coco)[0])
    record["annotations"] = [dict(a, category_id=5) for a in record["annotations"]]
    mapper = DPSNetDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR",
        density_target_generator=DensityTargetGenerator(num_channels=1, class_to_channel=[0] * 3),
    )
    with pytest.raises(ValueError, match="class ids must lie in") as info:
        mapper(record)
    message = str(info.value)
    assert repr(record["file_name"]) in message and f"image_id {record['image_id']!r}" in message
    assert isinstance(info.value.__cause__, ValueError)


def _mass_centre(channel, stride):
    """(x, y) in image pixels of a density channel (h x w), cell j centred at (j + 0.5) * s."""
    h, w = channel.shape
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) * stride
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) * stride
    channel = channel.double()
    total = channel.sum()
    return (channel.sum(0) @ xs / total).item(), (channel.sum(1) @ ys / total).item()


def test_crop_cuts_one_object_and_removes_another(tiny_dpsnet_cfg, tmp_path):
    """A 160 px crop at (64, 64) of a 256 px image: object 0 is cut by the left edge, object 1
    lies wholly outside (removed), object 2 inside. The density follows the clipped boxes."""
    cfg = tiny_dpsnet_cfg("MODEL.DENSITY_HEAD.CHANNEL_MODE", "category")
    path = str(tmp_path / "scene.png")
    cv2.imwrite(path, np.full((256, 256, 3), 200, np.uint8))
    boxes = [[32, 100, 80, 80], [8, 8, 40, 40], [120, 120, 60, 40]]  # XYWH
    record = {
        "file_name": path, "height": 256, "width": 256, "image_id": 1,
        "annotations": [
            {"bbox": box, "bbox_mode": BoxMode.XYWH_ABS, "category_id": k}
            for k, box in enumerate(boxes)
        ],
    }  # fmt: skip
    out = _mapper(cfg, [T.CropTransform(64, 64, 160, 160)])(record)
    instances, density = out["instances"], out["density"]
    assert out["image"].shape == (3, 160, 160) and density.shape == (3, 20, 20)
    assert instances.gt_classes.tolist() == [0, 2]
    expected = torch.tensor([[0.0, 36, 48, 116], [56, 56, 116, 96]])  # clipped, crop coordinates
    assert torch.allclose(instances.gt_boxes.tensor, expected)
    assert density.sum().item() == pytest.approx(len(instances), abs=1e-4)
    assert density.sum(dim=(1, 2)).tolist() == pytest.approx([1, 0, 1], abs=1e-4)
    for channel, box in zip((0, 2), expected.tolist()):
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # object 0: (24, 76), not (8, 76)
        assert _mass_centre(density[channel], 8) == pytest.approx(centre, abs=2.0)
