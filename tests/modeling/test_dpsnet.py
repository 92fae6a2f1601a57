"""DPSNet meta-architecture: losses, inference outputs, ablation switches, shipped configs."""
import math
from pathlib import Path

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.modeling import GeneralizedRCNN, build_model
from detectron2.utils.events import EventStorage

from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg
from dpsnet_d2.data import DPSNetDatasetMapper

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml"))
DETECTION_LOSSES = {"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"}


def _batch(cfg, dataset_name, n=2):
    mapper = DPSNetDatasetMapper(cfg, True)
    return [mapper(d) for d in DatasetCatalog.get(dataset_name)[:n]]


def _losses(model, batch):
    with EventStorage():
        return model(batch)


def test_training_returns_every_loss_finite(tiny_dpsnet_cfg, tiny_coco):
    torch.manual_seed(0)
    cfg = tiny_dpsnet_cfg()
    model = build_model(cfg)
    losses = _losses(model, _batch(cfg, tiny_coco))
    assert set(losses) == DETECTION_LOSSES | {"loss_density"}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    assert losses["loss_density"] > 0


def test_density_loss_present_without_objects(tiny_dpsnet_cfg, tiny_coco):
    torch.manual_seed(0)
    cfg = tiny_dpsnet_cfg()
    model = build_model(cfg)
    batch = _batch(cfg, tiny_coco)
    empty = dict(batch[1], instances=batch[1]["instances"][:0])
    empty["density"] = torch.zeros_like(batch[1]["density"])
    losses = _losses(model, [batch[0], empty])
    assert set(losses) == DETECTION_LOSSES | {"loss_density"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_missing_density_targets_is_a_clear_error(tiny_dpsnet_cfg, tiny_coco):
    cfg = tiny_dpsnet_cfg()
    model = build_model(cfg)
    batch = [{k: v for k, v in d.items() if k != "density"} for d in _batch(cfg, tiny_coco)]
    with pytest.raises(KeyError, match="DATASET_MAPPER_NAME"):
        _losses(model, batch)


@pytest.mark.parametrize(
    "feature,message", [("p9", "IN_FEATURE='p9' is not an output"), ("p4", "has stride 16")]
)
def test_density_feature_is_checked(tiny_dpsnet_cfg, feature, message):
    with pytest.raises(ValueError, match=message):
        build_model(tiny_dpsnet_cfg("MODEL.DENSITY_HEAD.IN_FEATURE", feature))


def test_count_error_is_logged_on_the_unpadded_map(tiny_dpsnet_cfg, tiny_coco):
    cfg = tiny_dpsnet_cfg()  # TARGET_SCALE 10
    model = build_model(cfg)
    # the layers predict 1 (in units of TARGET_SCALE) in every cell of the padded map
    model.density_head.layers = lambda x: x.new_ones(x.shape[0], 1, *x.shape[-2:])
    full, other = _batch(cfg, tiny_coco)  # 64 x 64: 8 x 8 maps
    small = dict(other, image=other["image"][:, :40, :56], instances=other["instances"][:0])
    small["density"] = torch.zeros(1, 5, 7)  # no object; the batch pads it to 8 x 8
    with EventStorage() as storage:
        model([full, small])
        logged = storage.latest()["density/count_abs_error"][0]
    # predicted counts: 8 * 8 / 10 on the full image, 5 * 7 / 10 on the small one (not 6.4)
    expected = (abs(6.4 - full["density"].sum().item()) + 3.5) / 2
    assert logged == pytest.approx(expected, rel=1e-5)


def test_backbone_runs_once_per_step_and_no_hook_is_left(tiny_dpsnet_cfg, tiny_coco):
    cfg = tiny_dpsnet_cfg()
    model = build_model(cfg)
    batch = _batch(cfg, tiny_coco)
    calls = []
    model.backbone.register_forward_hook(lambda *args: calls.append(1))
    hooks = dict(model.backbone._forward_hooks)
    _losses(model, batch)
    assert len(calls) == 1
    model.eval()
    with torch.no_grad():
        assert set(model([{"image": batch[0]["image"]}])[0]) == {"instances", "density", "counts"}
    assert len(calls) == 2
    assert dict(model.backbone._forward_hooks) == hooks


@pytest.mark.parametrize("mode,channels", [("agnostic", 1), ("category", 3)])
def test_inference_outputs(tiny_dpsnet_cfg, tiny_coco, mode, channels):
    torch.manual_seed(0)
    cfg = tiny_dpsnet_cfg("MODEL.DENSITY_HEAD.CHANNEL_MODE", mode)
    model = build_model(cfg).eval()
    image = _batch(cfg, tiny_coco, n=1)[0]["image"]  # 3 x 64 x 64
    inputs = [{"image": image, "height": 128, "width": 96}, {"image": image[:, :40, :56]}]
    with torch.no_grad():
        outputs = model(inputs)
    assert len(outputs) == 2
    for output, (h, w), size in zip(outputs, [(64, 64), (40, 56)], [(128, 96), (40, 56)]):
        assert set(output) == {"instances", "density", "counts"}
        assert output["instances"].image_size == size
        assert {"pred_boxes", "scores", "pred_classes"} <= set(output["instances"].get_fields())
        density, counts = output["density"], output["counts"]
        assert density.shape == (channels, math.ceil(h / 8), math.ceil(w / 8))
        assert counts.shape == (channels,) and counts.dtype == torch.float32
        assert (density >= 0).all()
        assert torch.allclose(density.sum(dim=(1, 2)), counts, rtol=1e-5, atol=1e-6)


def test_supercategory_channels_from_metadata(tiny_dpsnet_cfg, tiny_coco, tmp_path):
    name = "dpsnet_test_tiny_supercategory"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, lambda: DatasetCatalog.get(tiny_coco))
        MetadataCatalog.get(name).set(
            thing_classes=["a", "b", "c"], supercategories=["drink", "food"],
            thing_class_to_supercategory=[0, 1, 1],
        )
    cfg = tiny_dpsnet_cfg(
        "MODEL.DENSITY_HEAD.CHANNEL_MODE", "supercategory", "DATASETS.TRAIN", f"('{name}',)"
    )
    model = build_model(cfg).eval()
    batch = _batch(cfg, name, n=1)
    assert batch[0]["density"].shape[0] == 2
    with torch.no_grad():
        assert model([{"image": batch[0]["image"]}])[0]["counts"].shape == (2,)


def test_density_head_off_is_faster_rcnn(tiny_dpsnet_cfg, tiny_coco):
    torch.manual_seed(0)
    cfg = tiny_dpsnet_cfg(
        "MODEL.DENSITY_HEAD.ENABLED", "False", "MODEL.BIPYRAMID.FUSION_ON", "False"
    )
    model = build_model(cfg)
    assert model.density_head is None and "count" not in model.backbone.output_shape()
    losses = _losses(model, _batch(cfg, tiny_coco))
    assert set(losses) == DETECTION_LOSSES
    model.eval()
    with torch.no_grad():
        output = model([{"image": _batch(cfg, tiny_coco, n=1)[0]["image"]}])[0]
    assert set(output) == {"instances"}
    # same parameters as Detectron2's GeneralizedRCNN on a plain ResNet-FPN
    cfg.defrost()
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    reference = build_model(cfg)
    assert isinstance(reference, GeneralizedRCNN)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model) == count(reference)


def test_fusion_off_with_the_counting_view_trains_and_infers(tiny_dpsnet_cfg, tiny_coco):
    torch.manual_seed(0)
    cfg = tiny_dpsnet_cfg("MODEL.BIPYRAMID.FUSION_ON", "False")
    model = build_model(cfg)
    assert not any("fusion" in name for name, _ in model.named_parameters())
    batch = _batch(cfg, tiny_coco)
    optimizer = DPSNetTrainer.build_optimizer(cfg, model)
    before = model.density_head.predictor.weight.detach().clone()
    losses = _losses(model, batch)
    assert set(losses) == DETECTION_LOSSES | {"loss_density"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    optimizer.step()
    assert not torch.equal(before, model.density_head.predictor.weight)
    model.eval()
    with torch.no_grad():
        output = model([{"image": batch[0]["image"]}])[0]
    assert set(output) == {"instances", "density", "counts"}
    assert output["density"].shape == (1, 8, 8) and output["counts"].shape == (1,)


def test_overfit_two_images_halves_the_loss(tiny_dpsnet_cfg, tiny_coco):
    torch.manual_seed(0)
    cfg = tiny_dpsnet_cfg("SOLVER.BASE_LR", "0.01")
    model = build_model(cfg)
    batch = _batch(cfg, tiny_coco)
    optimizer = DPSNetTrainer.build_optimizer(cfg, model)
    totals = []
    with EventStorage() as storage:
        for it in range(30):
            storage.iter = it
            losses = model(batch)
            assert "loss_density" in losses
            total = sum(losses.values())
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            totals.append(total.item())
    assert sum(totals[-5:]) / 5 <= 0.5 * totals[0], totals


@pytest.mark.parametrize("path", CONFIGS)
def test_model_builds_from_shipped_config(path):
    cfg = get_dpsnet_cfg(str(REPO / path), ["MODEL.DEVICE", "cpu"])
    model = build_model(cfg)  # builds only: MODEL.WEIGHTS is not loaded
    assert model.roi_heads.box_predictor.num_classes == cfg.MODEL.ROI_HEADS.NUM_CLASSES
    assert (model.density_head is not None) == cfg.MODEL.DENSITY_HEAD.ENABLED
    assert model.backbone.size_divisibility == 32
