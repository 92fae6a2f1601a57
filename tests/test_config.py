"""add_dpsnet_config (new nodes only, each commented) and get_dpsnet_cfg (file, then overrides)."""
from pathlib import Path

import pytest
from detectron2.config import get_cfg

from dpsnet_d2 import get_dpsnet_cfg

REPO = Path(__file__).resolve().parents[1]


def test_adds_nodes_without_touching_d2_defaults():
    cfg = get_dpsnet_cfg()
    assert cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE == "agnostic"
    assert cfg.TEST.RPC_SCORE_THRESH == pytest.approx(0.5)
    fresh = get_cfg()
    assert "DENSITY_HEAD" not in fresh.MODEL and "BIPYRAMID" not in fresh.MODEL
    assert "RPC_SCORE_THRESH" not in fresh.TEST and "DATASET_MAPPER_NAME" not in fresh.INPUT
    assert fresh.MODEL.META_ARCHITECTURE == cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"


def test_every_new_key_has_a_comment():
    lines = (REPO / "dpsnet_d2" / "config.py").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("cfg.") and " = " in stripped and "= CN()" not in stripped:
            assert lines[i - 1].strip().startswith("#"), f"config.py:{i + 1} has no comment"


def test_file_then_overrides():
    base = str(REPO / "configs" / "Base-DPSNet.yaml")
    cfg = get_dpsnet_cfg(base, ["MODEL.DENSITY_HEAD.CHANNEL_MODE", "category"])
    assert cfg.MODEL.META_ARCHITECTURE == "DPSNet"  # from the file
    assert cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE == "category"  # the override beats the file
    assert not cfg.is_frozen()
    assert get_dpsnet_cfg(base).MODEL.DENSITY_HEAD.CHANNEL_MODE == "agnostic"  # a new config
