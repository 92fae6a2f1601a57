"""
The augmentation stages' settings as config nodes (CUTOUTS, RENDER) with the old defaults, the
settings classes built from them, and prepare_options' table and output folder
(tools/test_prepare_rpc_config.py runs the command lines).
"""
import dataclasses

import pytest

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.augment.cutouts import DEFAULT_THETA
from dpsnet_d2.augment.cutouts.background_removal import CoarseMaskParams
from dpsnet_d2.augment.cutouts.settings import MaskSettings
from dpsnet_d2.augment.prepare_options import SHORTCUTS, cutouts_output
from dpsnet_d2.augment.render import CycleGANConfig
from dpsnet_d2.utils.cli import UserError

# The defaults of the dataclasses and of prepare_rpc.py's flags before they became config nodes.
OLD_DEFAULTS = {
    "CUTOUTS.METHOD": "saliency", "CUTOUTS.POSE_THETA": 0.45,
    "CUTOUTS.COARSE.WORK_SIZE": 256, "CUTOUTS.COARSE.MARGIN": 0.1,
    "CUTOUTS.COARSE.HIGH_PERCENTILE": 80.0, "CUTOUTS.COARSE.LOW_RATIO": 0.4,
    "CUTOUTS.COARSE.CLOSE_SIZE": 0.04, "CUTOUTS.COARSE.OPEN_SIZE": 0.03,
    "CUTOUTS.COARSE.KEEP_FRACTION": 0.2, "CUTOUTS.COARSE.COLOUR_DISTANCE": 8.0,
    "CUTOUTS.COARSE.MEDIAN_SIZE": 7,
    "CUTOUTS.SALIENCY.MIN_CONFIDENCE": 0.9, "CUTOUTS.SALIENCY.INPUT_SIZE": 128,
    "CUTOUTS.SALIENCY.MARGIN": 0.1, "CUTOUTS.SALIENCY.STEPS": 200,
    "CUTOUTS.SALIENCY.BATCH_SIZE": 8, "CUTOUTS.SALIENCY.MAX_TRAIN": 1024,
    "CUTOUTS.SALIENCY.SEED": 0,
    "RENDER.IMAGE_SIZE": 256, "RENDER.LOAD_SIZE": 286, "RENDER.NUM_BLOCKS": 0,
    "RENDER.GEN_CHANNELS": 64, "RENDER.DISC_CHANNELS": 64, "RENDER.LAMBDA_CYCLE": 10.0,
    "RENDER.LAMBDA_IDENTITY": 0.5, "RENDER.POOL_SIZE": 50, "RENDER.LR": 2e-4,
    "RENDER.BETA1": 0.5, "RENDER.MAX_ITER": 1000, "RENDER.DECAY_START": -1,
    "RENDER.BATCH_SIZE": 1, "RENDER.SEED": 0, "RENDER.CHECKPOINT_PERIOD": 200,
    "RENDER.SAMPLE_PERIOD": 100, "RENDER.LOG_PERIOD": 20, "RENDER.APPLY.SIZE": 0,
    "RENDER.APPLY.BATCH_SIZE": 4,
}  # fmt: skip


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def test_config_nodes_hold_the_old_defaults_and_the_settings_classes_take_them():
    cfg = get_dpsnet_cfg()
    assert {k: _value(cfg, k) for k in OLD_DEFAULTS} == OLD_DEFAULTS
    assert DEFAULT_THETA == 0.45
    coarse = dataclasses.asdict(CoarseMaskParams())
    assert coarse == {k.lower(): v for k, v in cfg.CUTOUTS.COARSE.items()}
    masks = MaskSettings()
    assert masks.method == "saliency" and masks.coarse == CoarseMaskParams()
    assert masks.saliency_key() == {k.lower(): v for k, v in cfg.CUTOUTS.SALIENCY.items()}
    assert (masks.device, masks.threads) == ("cpu", 1)
    gan = CycleGANConfig()
    fields = {f.name for f in dataclasses.fields(CycleGANConfig)}
    assert {k.lower() for k in cfg.RENDER if not k.endswith("PERIOD")} - {"apply"} == fields
    assert (gan.num_blocks, gan.decay_start) == (6, 500)  # 0 and -1 resolved as before
    assert CycleGANConfig.from_config(cfg) == gan and MaskSettings.from_config(cfg) == masks


def test_every_shortcut_names_an_existing_key():
    cfg = get_dpsnet_cfg()
    for shortcuts in SHORTCUTS.values():
        for s in shortcuts:
            _value(cfg, s.key)  # KeyError if not


def test_masks_and_prune_write_the_store_where_the_config_reads_it(tmp_path):
    json_file = str(tmp_path / "ds" / "instances_train2019.json")
    plain = get_dpsnet_cfg()
    assert cutouts_output(plain, None, json_file) == str(tmp_path / "ds")
    assert cutouts_output(plain, "given", json_file) == "given"
    cfg = get_dpsnet_cfg(opts=["INPUT.SYNTHESIS.CUTOUT_STORE", str(tmp_path / "o" / "cutouts")])
    assert cutouts_output(cfg, None, json_file) == str(tmp_path / "o")
    assert cutouts_output(cfg, "given", json_file) == "given"
    other = get_dpsnet_cfg(opts=["INPUT.SYNTHESIS.CUTOUT_STORE", str(tmp_path / "store")])
    with pytest.raises(UserError, match="INPUT.SYNTHESIS.CUTOUT_STORE .*'cutouts' or give --out"):
        cutouts_output(other, None, json_file)
