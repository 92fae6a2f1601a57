"""add_dpsnet_config and the shipped configs."""
from pathlib import Path

import pytest
from detectron2.config import get_cfg

from dpsnet_d2 import add_dpsnet_config

REPO = Path(__file__).resolve().parents[1]


def dpsnet_cfg():
    cfg = get_cfg()
    add_dpsnet_config(cfg)
    return cfg


def test_adds_nodes_without_touching_d2_defaults():
    cfg = dpsnet_cfg()
    assert cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE == "agnostic"
    assert cfg.MODEL.BIPYRAMID.COUNT_STRIDE == 8
    assert cfg.TEST.RPC_SCORE_THRESH == pytest.approx(0.5)
    fresh = get_cfg()
    assert "DENSITY_HEAD" not in fresh.MODEL and "BIPYRAMID" not in fresh.MODEL
    assert "RPC_SCORE_THRESH" not in fresh.TEST


def test_every_new_key_has_a_comment():
    lines = (REPO / "dpsnet_d2" / "config.py").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("cfg.") and " = " in stripped and "= CN()" not in stripped:
            assert lines[i - 1].strip().startswith("#"), f"config.py:{i + 1} has no comment"


def test_unknown_key_in_a_config_is_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    base = REPO / "configs" / "Base-DPSNet.yaml"
    bad.write_text(f'_BASE_: "{base}"\nMODEL:\n  DENSITY_HEAD:\n    NOPE: 1\n')
    with pytest.raises(KeyError):
        dpsnet_cfg().merge_from_file(str(bad))
