"""DPSNetTrainer.build_optimizer: density head parameters learn at BASE_LR x LR_MULTIPLIER."""
import pytest
from detectron2.modeling import build_model

from dpsnet_d2 import DPSNetTrainer


@pytest.fixture
def _cfg(tiny_dpsnet_cfg):
    """The tiny config at BASE_LR 0.02 and LR_MULTIPLIER 0.1, then ``opts``."""
    lrs = ["SOLVER.BASE_LR", "0.02", "MODEL.DENSITY_HEAD.LR_MULTIPLIER", "0.1"]
    return lambda *opts: tiny_dpsnet_cfg(*lrs, *opts)


def _lrs(cfg):
    model = build_model(cfg)
    optimizer = DPSNetTrainer.build_optimizer(cfg, model)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(lr_of) == len(trainable) == sum(len(g["params"]) for g in optimizer.param_groups)
    return model, lr_of


def test_density_head_gets_the_lr_multiplier(_cfg):
    model, lr_of = _lrs(_cfg())
    head = {id(p) for p in model.density_head.parameters()}
    assert head and all(lr_of[i] == pytest.approx(0.002) for i in head)
    assert all(lr == pytest.approx(0.02) for i, lr in lr_of.items() if i not in head)


def test_bias_lr_factor_applies_inside_the_head_too(_cfg):
    model, lr_of = _lrs(_cfg("SOLVER.BIAS_LR_FACTOR", "2.0", "MODEL.DENSITY_HEAD.NORM", ""))
    assert lr_of[id(model.density_head.predictor.bias)] == pytest.approx(0.004)
    assert lr_of[id(model.density_head.predictor.weight)] == pytest.approx(0.002)


def test_without_density_head_all_params_share_the_base_lr(_cfg):
    _, lr_of = _lrs(_cfg("MODEL.DENSITY_HEAD.ENABLED", "False"))
    assert all(lr == pytest.approx(0.02) for lr in lr_of.values())


def test_only_the_head_gets_the_multiplier_and_its_weight_decay_follows_d2(_cfg):
    cfg = _cfg("SOLVER.WEIGHT_DECAY", "0.0005", "SOLVER.WEIGHT_DECAY_NORM", "0.0")
    model = build_model(cfg)
    group_of = {
        id(p): g for g in DPSNetTrainer.build_optimizer(cfg, model).param_groups
        for p in g["params"]
    }
    head = model.density_head
    norm = {id(p) for p in head.conv.norm.parameters()}  # GroupNorm weight and bias
    assert len(norm) == 2
    for name, p in head.named_parameters():
        group = group_of[id(p)]
        assert group["lr"] == pytest.approx(0.002), name
        assert group["weight_decay"] == pytest.approx(0.0 if id(p) in norm else 0.0005), name
    # the neck's counting-only fusion block trains at the base LR, with weight decay
    fusion = list(model.backbone.count_fusion.parameters())
    assert fusion
    assert all(group_of[id(p)]["lr"] == pytest.approx(0.02) for p in fusion)
    assert all(group_of[id(p)]["weight_decay"] == pytest.approx(0.0005) for p in fusion)
