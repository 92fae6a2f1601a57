"""tools/train_net.py trains, checkpoints, resumes and evaluates a tiny model on CPU."""
import json
from pathlib import Path

from detectron2.engine import default_argument_parser

REPO = Path(__file__).resolve().parents[2]


def test_two_iterations_then_eval_only(load_tool, tiny_coco, tiny_rcnn_opts, tmp_path):
    train_net = load_tool("train_net")
    opts = tiny_rcnn_opts(tiny_coco, tmp_path)
    args = default_argument_parser().parse_args(
        ["--config-file", str(REPO / "configs" / "Base-DPSNet.yaml"), *opts]
    )
    train_net.main(args)
    assert (tmp_path / "model_final.pth").exists()
    metrics = [json.loads(line) for line in (tmp_path / "metrics.json").read_text().splitlines()]
    train_rows = [m for m in metrics if "loss_cls" in m]
    assert [m["iteration"] for m in train_rows][-1] == 1  # iterations 0 and 1
    assert all(m["total_loss"] > 0 for m in train_rows)
    assert (tmp_path / "config.yaml").exists()

    args = default_argument_parser().parse_args(
        ["--config-file", str(REPO / "configs" / "Base-DPSNet.yaml"), "--eval-only",
         *opts, "MODEL.WEIGHTS", str(tmp_path / "model_final.pth")]
    )
    results = train_net.main(args)
    assert "bbox" in results
