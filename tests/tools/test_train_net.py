"""tools/train_net.py trains, checkpoints, resumes and evaluates a tiny model on CPU."""
import json
from pathlib import Path

import torch
from detectron2.data import MetadataCatalog
from detectron2.engine import DefaultTrainer

from dpsnet_d2 import DPSNetTrainer

REPO = Path(__file__).resolve().parents[2]


def test_two_iterations_resume_then_eval_only(
    load_tool, tiny_coco, tiny_rcnn_opts, tmp_path, monkeypatch
):
    train_net = load_tool("train_net")
    opts = tiny_rcnn_opts(tiny_coco, tmp_path)
    args = train_net.argument_parser().parse_args(
        ["--config-file", str(REPO / "configs" / "Base-DPSNet.yaml"), *opts]
    )
    train_net.main(args)
    assert (tmp_path / "model_final.pth").exists()
    metrics = [json.loads(line) for line in (tmp_path / "metrics.json").read_text().splitlines()]
    train_rows = [m for m in metrics if "loss_cls" in m]
    assert [m["iteration"] for m in train_rows][-1] == 1  # iterations 0 and 1
    assert all(m["total_loss"] > 0 for m in train_rows)
    assert (tmp_path / "config.yaml").exists()
    # the class names travel with the model
    saved = torch.load(tmp_path / "model_final.pth", weights_only=False)
    assert saved["thing_classes"] == MetadataCatalog.get(tiny_coco).thing_classes

    # --resume continues after the checkpoint's iteration (1) up to the new MAX_ITER
    started = []

    def train(trainer):
        started.append(trainer.start_iter)
        return DefaultTrainer.train(trainer)

    monkeypatch.setattr(DPSNetTrainer, "train", train)
    args = train_net.argument_parser().parse_args(
        ["--config-file", str(REPO / "configs" / "Base-DPSNet.yaml"), "--resume",
         *opts, "SOLVER.MAX_ITER", "3"]
    )
    train_net.main(args)
    assert started == [2]
    report = json.loads((tmp_path / "weights_load_report.json").read_text())
    assert report["loaded"] == report["total"] > 0 and report["skipped"] == []
    lines = (tmp_path / "metrics.json").read_text().splitlines()[len(metrics):]
    resumed = [m for m in map(json.loads, lines) if "loss_cls" in m]
    assert [m["iteration"] for m in resumed] == [2]
    assert torch.load(tmp_path / "model_final.pth", weights_only=False)["iteration"] == 2

    args = train_net.argument_parser().parse_args(
        ["--config-file", str(REPO / "configs" / "Base-DPSNet.yaml"), "--eval-only",
         *opts, "MODEL.WEIGHTS", str(tmp_path / "model_final.pth")]
    )
    results = train_net.main(args)
    assert "bbox" in results
