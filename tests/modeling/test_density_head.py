"""The density head (registry, shapes, non-negative output) and the density loss."""
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec

from dpsnet_d2 import add_dpsnet_config
from dpsnet_d2.modeling import DENSITY_HEAD_REGISTRY, build_density_head
from dpsnet_d2.modeling.density import density_l2_loss, pad_density_targets


@pytest.mark.parametrize("mode,channels", [("agnostic", 1), ("category", 5)])
def test_head_shapes_and_non_negative(mode, channels):
    cfg = get_cfg()
    add_dpsnet_config(cfg)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 5
    cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE = mode
    cfg.MODEL.DENSITY_HEAD.CONV_DIM = 32
    assert "StandardDensityHead" in DENSITY_HEAD_REGISTRY
    head = build_density_head(cfg, ShapeSpec(channels=16, stride=8))
    torch.manual_seed(0)
    out = head(torch.randn(2, 16, 9, 11))
    assert out.shape == (2, channels, 9, 11)
    assert (out >= 0).all() and (out > 0).any()


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
