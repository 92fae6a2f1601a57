"""tools/benchmark_rpc_eval.py runs end to end on a small synthetic run and prints one line."""
import re


def test_prints_one_line(load_tool, capsys):
    args = ["--num-images", "30", "--dets-per-image", "5", "--num-classes", "6", "--skip-map"]
    assert load_tool("benchmark_rpc_eval").main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert re.search(r"30 images x 5 detections, 6 classes: process [0-9.]+ s; evaluate without "
                     r"mAP .* [0-9.]+ s \[averaged sweep cAcc [0-9.]+\]", out[0])
