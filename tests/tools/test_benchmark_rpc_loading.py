"""tools/benchmark_rpc_loading.py generates a valid RPC-style file and reports its timings."""
import importlib.util
import json
import re
from pathlib import Path

from dpsnet_d2.data.datasets.rpc import load_rpc_json

REPO = Path(__file__).resolve().parents[2]


def _load_tool():
    path = REPO / "tools" / "benchmark_rpc_loading.py"
    spec = importlib.util.spec_from_file_location("benchmark_rpc_loading", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_file_is_valid_rpc(tmp_path):
    data = _load_tool().make_rpc_annotations(num_images=50, num_boxes=600, num_classes=20)
    path = tmp_path / "instances_test2019.json"
    path.write_text(json.dumps(data))
    dicts = load_rpc_json(str(path), tmp_path)
    assert len(dicts) == 50 and sum(len(d["annotations"]) for d in dicts) == 600
    assert {d["level"] for d in dicts} == {"easy", "medium", "hard"}


def test_prints_one_line(capsys):
    args = ["--images", "20", "--boxes", "200", "--runs", "1", "--with-coco"]
    assert _load_tool().main(args) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    assert re.search(r"20 images / 200 boxes .* load_rpc_json [0-9.]+ s .* load_coco_json", out)
