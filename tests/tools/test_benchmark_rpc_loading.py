"""tools/benchmark_rpc_loading.py generates a valid RPC-style file and reports its timings."""
import json
import re

from dpsnet_d2.data.datasets.rpc import load_rpc_json


def test_generated_file_is_valid_rpc(load_tool, tmp_path):
    data = load_tool("benchmark_rpc_loading").make_rpc_annotations(
        num_images=50, num_boxes=600, num_classes=20
    )
    path = tmp_path / "instances_test2019.json"
    path.write_text(json.dumps(data))
    dicts = load_rpc_json(str(path), tmp_path)
    assert len(dicts) == 50 and sum(len(d["annotations"]) for d in dicts) == 600
    assert {d["level"] for d in dicts} == {"easy", "medium", "hard"}


def test_prints_one_line(load_tool, capsys):
    args = ["--images", "20", "--boxes", "200", "--runs", "1", "--with-coco"]
    assert load_tool("benchmark_rpc_loading").main(args) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    assert re.search(r"20 images / 200 boxes .* load_rpc_json [0-9.]+ s .* load_coco_json", out)
