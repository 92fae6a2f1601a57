"""tools/benchmark_till.py: latency per size and precision, and with a trained model the
accuracy of each option on a labelled split, in one table."""
import json

import cv2
import numpy as np

from .conftest import TOOLS, assert_clear_error


def test_sizes_with_their_accuracy(run_tool, distill_rpc, tiny_rcnn_opts, tiny_distill_weights,
                                   tmp_path):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 255, (90, 90, 3), np.uint8))
    opts = tiny_rcnn_opts(distill_rpc.format(split="train"), str(tmp_path), 4) + [
        "TEST.RPC_COMPUTE_MAP", "True"]
    out = tmp_path / "till.json"
    code, stdout, _ = run_tool("benchmark_till", [
        "--configs", str(TOOLS.parent / "configs" / "Base-DPSNet.yaml"), "--image", str(photo),
        "--weights", tiny_distill_weights, "--eval-dataset", distill_rpc.format(split="val"),
        "--sizes", "64", "48", "--precisions", "fp32", "--repeats", "1", "--threads", "1",
        "--output", str(out), *opts])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["size"], r["runtime"]) for r in rows] == [
        (64, "python"), (64, "exported"), (48, "python"), (48, "exported")]
    for row in rows:
        assert row["seconds"] > 0 and row["dataset"] == distill_rpc.format(split="val")
        assert 0 <= row["sweep mCIoU"] <= 100 and 0 <= row["mAP50"] <= 100
    assert "sweep mCIoU" in stdout


def test_accuracy_needs_trained_weights(run_tool):
    code, _, err = run_tool("benchmark_till", [
        "--configs", str(TOOLS.parent / "configs" / "Base-DPSNet.yaml"),
        "--eval-dataset", "synth_rpc_val"])
    assert_clear_error(code, err, "--eval-dataset needs --weights")
