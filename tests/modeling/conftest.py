"""A tiny DPSNet config (R-18, 32 channels, 64 px, 3 classes) for the model tests."""
from pathlib import Path

import pytest
from detectron2.config import get_cfg

from dpsnet_d2 import add_dpsnet_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_dpsnet_cfg(tiny_coco, tiny_rcnn_opts, tmp_path):
    """A function (*opts) -> a tiny DPSNet config on ``tiny_coco``; trailing overrides applied."""

    def make(*opts):
        cfg = get_cfg()
        add_dpsnet_config(cfg)
        cfg.merge_from_file(str(REPO / "configs" / "Base-DPSNet.yaml"))
        cfg.merge_from_list(tiny_rcnn_opts(tiny_coco, tmp_path))
        cfg.merge_from_list(
            [
                # anchors matched to the 10-32 px objects of the 64 px images
                "MODEL.ANCHOR_GENERATOR.SIZES", "[[8], [16], [32], [64], [128]]",
                "MODEL.BIPYRAMID.FUSE_DIM", "16",
                "MODEL.DENSITY_HEAD.CONV_DIM", "32",
                # 64 px images: sigma is clamped to SIGMA_MIN, so a smaller scale keeps the
                # density loss near the detection losses
                "MODEL.DENSITY_HEAD.TARGET_SCALE", "10.0",
                "INPUT.RANDOM_FLIP", "none",
                *opts,
            ]
        )
        return cfg

    return make
