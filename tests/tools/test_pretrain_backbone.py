"""tools/pretrain_backbone.py: a tiny pre-training, then train_net from its checkpoint; bad input
stops with one line before anything is built."""
import json
from pathlib import Path

import pytest
import torch

from dpsnet_d2.engine.backbone_pretrain import BACKBONE_FILE

from .conftest import assert_clear_error, forbid

REPO = Path(__file__).resolve().parents[2]
SYNTH = str(REPO / "configs" / "Synthetic" / "dpsnet_R_18_synth_cpu.yaml")
# the synth config made tiny: a few 32 px crops
TINY = ["PRETRAIN.CROP_SIZE", "32", "PRETRAIN.IMS_PER_BATCH", "2", "PRETRAIN.MAX_ITER", "2",
        "PRETRAIN.WARMUP_ITERS", "0", "INPUT.SYNTHESIS.CANVAS_SIZE", "128",
        "INPUT.SYNTHESIS.REFERENCE_SIZE", "128", "DATALOADER.NUM_WORKERS", "0"]


def test_pretrain_then_train_net_from_the_backbone(run_tool, true_store, tiny_embedded_root,
                                                   tiny_coco, tiny_rcnn_opts, tmp_path):
    out = tmp_path / "pretrain"
    code, stdout, err = run_tool("pretrain_backbone", [
        "--config-file", SYNTH, "--cutouts", true_store.folder,
        "--backgrounds", Path(tiny_embedded_root) / "counters", out, *TINY])
    assert code == 0, err
    backbone = out / BACKBONE_FILE
    assert f"pre-trained backbone: {backbone}" in stdout
    assert (out / "model_final.pth").exists() and (out / "config.yaml").exists()
    assert "Starting training from iteration 0" in (out / "log.txt").read_text()
    tensors = torch.load(backbone, weights_only=True)["model"]

    base = str(REPO / "configs" / "Base-DPSNet.yaml")
    code, _, err = run_tool("train_net", [
        "--config-file", base, *tiny_rcnn_opts(tiny_coco, tmp_path / "detector"),
        "MODEL.RESNETS.NORM", "GN", "MODEL.WEIGHTS", backbone, "SOLVER.MAX_ITER", "1"],
        entry="cli")
    assert code == 0, err
    report = json.loads((tmp_path / "detector" / "weights_load_report.json").read_text())
    assert report["loaded"] == report["renamed"] == len(tensors) > 50
    assert report["unexpected"] == [] and report["skipped"] == []


@pytest.fixture
def never_trains(load_tool, monkeypatch):
    forbid(monkeypatch, load_tool("pretrain_backbone"), "BackbonePretrainer")


@pytest.mark.parametrize("case", ["no_store", "not_a_store", "no_backgrounds", "fill", "iters",
                                  "config", "weights"])
def test_bad_input_is_one_line(run_tool, never_trains, true_store, tiny_embedded_root, tmp_path,
                               case):
    counters = str(Path(tiny_embedded_root) / "counters")
    args = {"--cutouts": true_store.folder, "--backgrounds": counters, "--config-file": SYNTH}
    opts, expect = [], []
    if case == "no_store":
        args["--cutouts"], expect = str(tmp_path / "missing"), ["--cutouts", "missing"]
    elif case == "not_a_store":
        args["--cutouts"], expect = counters, ["not a cut-out store", counters]
    elif case == "no_backgrounds":
        args["--backgrounds"] = str(tmp_path / "nothing")
        expect = ["INPUT.SYNTHESIS.BACKGROUND_DIR", "nothing"]
    elif case == "fill":
        opts, expect = ["PRETRAIN.FILL_RANGE", "[0.8, 0.2]"], ["PRETRAIN.FILL_RANGE"]
    elif case == "iters":
        opts, expect = ["PRETRAIN.MAX_ITER", "0"], ["PRETRAIN.MAX_ITER"]
    elif case == "config":
        args["--config-file"], expect = str(tmp_path / "no.yaml"), ["no.yaml"]
    elif case == "weights":
        opts, expect = ["MODEL.WEIGHTS", str(tmp_path / "no.pth")], ["MODEL.WEIGHTS", "no.pth"]
    argv = [x for kv in args.items() for x in kv] + [tmp_path / "out", *TINY, *opts]
    code, _, err = run_tool("pretrain_backbone", argv)
    assert_clear_error(code, err, *expect)
    assert not (tmp_path / "out").exists()
