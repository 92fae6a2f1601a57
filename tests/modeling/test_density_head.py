"""The density head (registry, shapes, non-negative output) and the density loss."""
import pytest
import torch
from detectron2.layers import ShapeSpec
from detectron2.utils.events import EventStorage

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.modeling import DENSITY_HEAD_REGISTRY, build_density_head
from dpsnet_d2.modeling.density import density_l2_loss, pad_density_targets


def _head(mode="agnostic", scale=10.0):
    cfg = get_dpsnet_cfg(opts=[
        "MODEL.ROI_HEADS.NUM_CLASSES", "5", "MODEL.DENSITY_HEAD.CHANNEL_MODE", mode,
        "MODEL.DENSITY_HEAD.CONV_DIM", "32", "MODEL.DENSITY_HEAD.TARGET_SCALE", str(scale),
        "MODEL.DENSITY_HEAD.IN_FEATURE", "p3", "MODEL.DENSITY_HEAD.LOSS_WEIGHT", "2.0",
    ])
    shapes = {"p3": ShapeSpec(channels=16, stride=8), "p4": ShapeSpec(channels=16, stride=16)}
    return build_density_head(cfg, shapes)


@pytest.mark.parametrize("mode,channels", [("agnostic", 1), ("category", 5)])
def test_head_reads_its_feature_and_predicts_non_negative_objects(mode, channels):
    assert "StandardDensityHead" in DENSITY_HEAD_REGISTRY
    head = _head(mode).eval()
    assert head.stride == 8
    torch.manual_seed(0)
    features = {"p3": torch.randn(2, 16, 9, 11), "p4": torch.randn(2, 16, 5, 6)}
    density, losses = head(features)
    assert density.shape == (2, channels, 9, 11) and losses == {}
    assert (density >= 0).all() and (density > 0).any()
    assert torch.allclose(density, head.layers(features["p3"]) / 10.0)


def test_head_owns_its_weighted_loss_and_logs_the_count_error():
    head = _head(scale=10.0)
    head.layers = lambda x: x.new_ones(x.shape[0], 1, *x.shape[-2:])  # 0.1 object per cell
    targets = [torch.zeros(1, 3, 4), torch.zeros(1, 2, 2)]
    targets[0][0, 1, 1] = 1.0
    with EventStorage() as storage:
        density, losses = head({"p3": torch.zeros(2, 16, 3, 4)}, targets)
        logged = storage.latest()["density/count_abs_error"][0]
    assert density.shape == (2, 1, 3, 4) and torch.allclose(density, torch.full_like(density, 0.1))
    assert set(losses) == {"loss_density"}
    # scaled: prediction 1 everywhere, target 10 at one cell of image 0; weight 2
    expected = 2.0 * ((24 - 1) * 1.0 + 81.0) / (2 * 3 * 4)
    assert losses["loss_density"].item() == pytest.approx(expected)
    # counts on the unpadded maps: 1.2 vs 1 objects, 0.4 vs 0
    assert logged == pytest.approx((0.2 + 0.4) / 2)
    with pytest.raises(ValueError, match="channels"):
        head({"p3": torch.zeros(1, 16, 3, 4)}, [torch.zeros(2, 3, 4)])


def test_head_config_errors_name_the_key():
    cfg = get_dpsnet_cfg(opts=["MODEL.DENSITY_HEAD.IN_FEATURE", "p4"])
    with pytest.raises(ValueError, match="has stride 16"):
        build_density_head(cfg, {"p4": ShapeSpec(channels=16, stride=16)})
    with pytest.raises(ValueError, match="IN_FEATURE='p4' is not an output"):
        build_density_head(cfg, {"p3": ShapeSpec(channels=16, stride=8)})


def test_pad_density_targets():
    a, b = torch.ones(2, 3, 4), torch.full((2, 5, 2), 2.0)
    batch = pad_density_targets([a, b], (5, 6), scale=10.0)
    assert batch.shape == (2, 2, 5, 6)
    assert batch[0, :, :3, :4].eq(10).all()
    assert batch[0, :, 3:].eq(0).all() and batch[0, :, :, 4:].eq(0).all()
    assert batch.sum().item() == pytest.approx(10 * (a.sum() + b.sum()).item())
    with pytest.raises(ValueError, match="larger"):
        pad_density_targets([torch.ones(1, 6, 6)], (5, 6), scale=1.0)


def test_l2_loss_sums_channels_and_averages_pixels_and_images():
    pred = torch.zeros(2, 3, 4, 5)
    target = torch.zeros(2, 3, 4, 5)
    target[0, 1, 2, 3] = 2.0
    target[1, 2, 0, 0] = 1.0
    assert density_l2_loss(pred, target).item() == pytest.approx((4.0 + 1.0) / (2 * 4 * 5))
    assert density_l2_loss(target, target).item() == 0.0
