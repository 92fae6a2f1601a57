"""
tools/prepare_rpc.py's config story: --config-file, trailing KEY VALUE overrides, its flags as
shortcuts that win; synthesize takes its store, canvas and scale range from INPUT.SYNTHESIS.
"""
import json
import os
from pathlib import Path

import pytest

from dpsnet_d2.augment.cutouts.settings import MaskSettings
from dpsnet_d2.augment.render import CycleGANConfig
from dpsnet_d2.augment.synthesis.mapper import synthesis_seed, synthesizer_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("prepare_rpc")


def _config(tool, argv):
    """The config a prepare_rpc command line would run with (nothing is run)."""
    args = tool.parse_args([str(a) for a in argv])
    return tool.config_from_args(args, args.command)


def test_config_file_then_overrides_reach_the_settings(tool, tmp_path):
    yaml = tmp_path / "render.yaml"
    yaml.write_text("RENDER:\n  LR: 0.001\n  POOL_SIZE: 9\nCUTOUTS:\n  SALIENCY:\n    STEPS: 5\n")
    cfg = _config(tool, ["train-render", "--domain-a", "a", "--domain-b", "b", "--out", "o",
                         "--config-file", yaml, "RENDER.POOL_SIZE", "7", "RENDER.SEED", "3"])
    settings = CycleGANConfig.from_config(cfg)
    assert (settings.lr, settings.pool_size, settings.seed) == (0.001, 7, 3)
    assert cfg.is_frozen()
    cfg = _config(tool, ["masks", "ds", "--config-file", yaml, "CUTOUTS.METHOD", "coarse"])
    settings = MaskSettings.from_config(cfg, device="cpu", threads=2)
    assert (settings.method, settings.steps, settings.threads) == ("coarse", 5, 2)


def test_an_explicit_flag_wins_over_file_and_override(tool, tmp_path):
    yaml = tmp_path / "c.yaml"
    yaml.write_text("CUTOUTS:\n  SALIENCY:\n    STEPS: 5\n  POSE_THETA: 0.3\n")
    argv = ["masks", "ds", "--config-file", yaml, "CUTOUTS.SALIENCY.STEPS", "6"]
    assert _config(tool, argv).CUTOUTS.SALIENCY.STEPS == 6
    assert _config(tool, argv + ["--steps", "7"]).CUTOUTS.SALIENCY.STEPS == 7
    assert _config(tool, ["masks", "ds", "--steps", "8", "CUTOUTS.SALIENCY.STEPS", "6"]
                   ).CUTOUTS.SALIENCY.STEPS == 8  # fmt: skip
    assert _config(tool, ["prune", "ds", "--config-file", yaml]).CUTOUTS.POSE_THETA == 0.3
    assert _config(tool, ["prune", "ds", "--config-file", yaml, "--theta", "0.5"]
                   ).CUTOUTS.POSE_THETA == 0.5  # fmt: skip
    cfg = _config(tool, ["render", "--checkpoint", "m", "--input", "i", "--out", "o",
                         "--batch-size", "2", "RENDER.APPLY.BATCH_SIZE", "3", "RENDER.APPLY.SIZE",
                         "64"])  # fmt: skip
    assert (cfg.RENDER.APPLY.BATCH_SIZE, cfg.RENDER.APPLY.SIZE) == (2, 64)


def test_synthesize_takes_store_canvas_and_scale_from_the_rpc_config(tool):
    cfg = _config(tool, ["synthesize", "--num", "1", "--config-file",
                         REPO / "configs" / "RPC" / "dpsnet_R_50_FPN.yaml"])
    kwargs = synthesizer_settings(cfg)
    assert cfg.INPUT.SYNTHESIS.CUTOUT_STORE == "./output/rpc/cutouts/cutouts"
    assert (kwargs["canvas_size"], kwargs["reference_size"]) == (800, 1815)
    assert kwargs["scale_range"] == [0.4, 0.7]
    plain = _config(tool, ["synthesize", "--num", "1", "--store", "s", "--seed", "4"])
    assert synthesizer_settings(plain)["canvas_size"] == 512 and synthesis_seed(plain) == 4
    assert synthesis_seed(_config(tool, ["synthesize", "--num", "1"])) == 0  # the old --seed 0


def test_synthesize_writes_scenes_of_the_configs_canvas(run_tool, true_store, tiny_embedded_root,
                                                         tmp_path):
    yaml = tmp_path / "scenes.yaml"
    yaml.write_text(f"INPUT:\n  SYNTHESIS:\n    CUTOUT_STORE: {true_store.folder}\n"
                    "    CANVAS_SIZE: 96\n    REFERENCE_SIZE: 96\n    SCALE_RANGE: [0.5, 0.6]\n")
    code, _, err = run_tool("prepare_rpc", [
        "synthesize", "--config-file", yaml, "--num", "2", "--out", tmp_path / "set",
        "--categories", os.path.join(tiny_embedded_root, "instances_train2019.json"),
        "INPUT.SYNTHESIS.SEED", "5"])
    assert code == 0, err
    data = json.loads((tmp_path / "set" / "instances_train2019.json").read_text())
    assert {(im["width"], im["height"]) for im in data["images"]} == {(96, 96)}
    assert data["info"]["seed"] == 5 and data["info"]["settings"]["scale_range"] == [0.5, 0.6]
