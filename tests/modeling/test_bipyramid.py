"""The bidirectional pyramid neck: shapes, the plain-FPN switch, depths and norms from cfg."""
import pytest
import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone
from detectron2.modeling.backbone.fpn import FPN

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.modeling import BiPyramid

LEVELS = ["p2", "p3", "p4", "p5", "p6"]


def _cfg(*opts):
    return get_dpsnet_cfg(
        opts=[
            "MODEL.BACKBONE.NAME", "build_resnet_bipyramid_backbone",
            "MODEL.RESNETS.OUT_FEATURES", "['res2', 'res3', 'res4', 'res5']",
            "MODEL.FPN.IN_FEATURES", "['res2', 'res3', 'res4', 'res5']",
            "MODEL.RESNETS.DEPTH", "18",
            "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
            "MODEL.FPN.OUT_CHANNELS", "32",
            "MODEL.BIPYRAMID.FUSE_DIM", "32",
            *opts,
        ]
    )


def _check_outputs(backbone, x):
    outputs = backbone(x)
    shapes = backbone.output_shape()
    assert set(outputs) == set(shapes)
    for name, feature in outputs.items():
        stride = shapes[name].stride
        size = (-(-x.shape[2] // stride), -(-x.shape[3] // stride))
        assert feature.shape == (x.shape[0], shapes[name].channels, *size), name
        assert torch.isfinite(feature).all()
    return outputs


@pytest.mark.parametrize("in_features", [["p3", "p4", "p5", "p6"], LEVELS])
def test_fusion_outputs_match_output_shape(in_features):
    torch.manual_seed(0)
    backbone = build_backbone(_cfg("MODEL.BIPYRAMID.IN_FEATURES", str(in_features)))
    assert isinstance(backbone, BiPyramid) and backbone.size_divisibility == 32
    shapes = backbone.output_shape()
    assert list(shapes) == LEVELS + ["count"]
    assert [shapes[k].stride for k in shapes] == [4, 8, 16, 32, 64, 8]
    assert {s.channels for s in shapes.values()} == {32}
    # 96 x 160: P5 is 3 x 5, P6 2 x 3 (not an exact half)
    outputs = _check_outputs(backbone, torch.randn(2, 3, 96, 160))
    fpn = backbone.fpn(torch.randn(1, 3, 64, 64))
    assert set(fpn) == set(LEVELS)
    # the fused levels differ from the FPN's, the untouched ones do not
    x = torch.randn(1, 3, 64, 64)
    fused, plain = backbone(x), backbone.fpn(x)
    for name in LEVELS:
        assert torch.equal(fused[name], plain[name]) == (name not in in_features), name
    assert not torch.equal(fused["count"], plain["p3"])
    assert outputs["count"].shape[-2:] == outputs["p3"].shape[-2:]


def test_fusion_off_is_the_fpn():
    backbone = build_backbone(_cfg("MODEL.BIPYRAMID.FUSION_ON", "False"))
    assert isinstance(backbone.fpn, FPN)
    assert not any("fusion" in name for name, _ in backbone.named_parameters())
    x = torch.randn(1, 3, 64, 96)
    outputs, plain = _check_outputs(backbone, x), backbone.fpn(x)
    for name in LEVELS:
        assert torch.equal(outputs[name], plain[name])
    assert torch.equal(outputs["count"], plain["p3"])


def test_no_count_output_without_the_counting_view():
    backbone = build_backbone(_cfg("MODEL.DENSITY_HEAD.ENABLED", "False"))
    assert "count" not in backbone.output_shape()
    assert not hasattr(backbone, "count_fusion")
    _check_outputs(backbone, torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize(
    "depth,norm", [(18, "BN"), (34, "FrozenBN"), (50, "GN"), (101, "FrozenBN")]
)
def test_any_resnet_depth_and_norm(depth, norm):
    res2 = 64 if depth in (18, 34) else 256
    cfg = _cfg(
        "MODEL.RESNETS.DEPTH", str(depth), "MODEL.RESNETS.RES2_OUT_CHANNELS", str(res2),
        "MODEL.RESNETS.NORM", norm, "MODEL.BIPYRAMID.NORM", "GN" if norm == "GN" else "",
    )
    backbone = build_backbone(cfg, ShapeSpec(channels=3))
    with torch.no_grad():
        _check_outputs(backbone.eval(), torch.randn(1, 3, 128, 128))


def test_in_features_must_be_contiguous_levels():
    with pytest.raises(ValueError, match="contiguous"):
        build_backbone(_cfg("MODEL.BIPYRAMID.IN_FEATURES", "['p2', 'p4']"))
    with pytest.raises(ValueError, match="count_stride"):
        build_backbone(_cfg("MODEL.BIPYRAMID.COUNT_STRIDE", "12"))


@pytest.mark.parametrize("fusion_on", [True, False])
def test_count_map_reads_p2_and_p6(fusion_on):
    """Fused, "count" (stride 8) gets P6 through the top-down and P2 through the bottom-up path."""
    torch.manual_seed(0)
    backbone = build_backbone(_cfg("MODEL.BIPYRAMID.FUSION_ON", str(fusion_on)))
    x = torch.randn(1, 3, 64, 64)
    leaves = {k: v.detach().requires_grad_() for k, v in backbone.fpn(x).items()}
    backbone.fpn.register_forward_hook(lambda module, inputs, output: leaves)
    count = backbone(x)["count"]
    grads = torch.autograd.grad(count.sum(), [leaves["p2"], leaves["p6"]], allow_unused=True)
    if fusion_on:
        assert all(g is not None and g.abs().sum() > 0 for g in grads)
    else:  # the plain FPN's P3 alone
        assert all(g is None for g in grads)
