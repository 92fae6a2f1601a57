"""tools/evaluate_rpc.py: the table from a results file, and the official tool's numbers."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "evaluation" / "data"
LEVELS = ("easy", "medium", "hard", "averaged")


def _write_tiny(tmp_path):
    gt = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 64, "height": 64, "level": "easy"},
                   {"id": 2, "file_name": "2.jpg", "width": 64, "height": 64, "level": "hard"}],
        "annotations": [
            {"id": j + 1, "image_id": i, "category_id": c, "bbox": box, "area": 100, "iscrowd": 0}
            for j, (i, c, box) in enumerate([(1, 3, [0, 0, 10, 10]), (2, 3, [0, 0, 10, 10]),
                                             (2, 7, [20, 20, 10, 10])])
        ],
        "categories": [{"id": 3, "name": "x", "supercategory": "s"},
                       {"id": 7, "name": "y", "supercategory": "s"}],
    }
    results = [
        {"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 2, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 0.8},
        {"image_id": 2, "category_id": 7, "bbox": [20, 20, 10, 10], "score": 0.4},
    ]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "bbox_results.json").write_text(json.dumps(results))
    return str(tmp_path / "res" / "bbox_results.json"), str(tmp_path / "gt.json")


def test_cli_prints_table_and_writes_beside_results(load_tool, tmp_path, capsys):
    results, gt = _write_tiny(tmp_path)
    report = load_tool("evaluate_rpc").main([results, gt, "--threshold", "0.5"])
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert table[0].replace(" ", "").startswith("|level|method|cAcc|mCIoU|ACD|mCCD|mAP50|mmAP|")
    assert len(table) == 2 + 6  # header, rule, (easy, hard, averaged) x (sweep, fixed)
    written = json.loads((tmp_path / "res" / "rpc_results.json").read_text())
    assert written["rows"] == report["rows"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "res" / "rpc_results.json").stat().st_mode & 0o777 == 0o666 & ~umask
    rows = {(r["level"], r["method"]): r for r in report["rows"]}
    # hard: the category-7 box scores 0.4 < 0.5
    assert rows["hard", "fixed"]["cAcc"] == 0.0 and rows["hard", "fixed"]["ACD"] == 1.0
    assert rows["hard", "sweep"]["cAcc"] == 100.0 and rows["hard", "sweep"]["threshold"] <= 0.4
    assert rows["averaged", "fixed"]["cAcc"] == 50.0
    assert rows["easy", "sweep"]["mAP50"] == pytest.approx(100.0)


def test_cli_rejects_bad_records(load_tool, tmp_path):
    results, gt = _write_tiny(tmp_path)
    records = json.loads(Path(results).read_text())
    records[1]["category_id"] = 99
    Path(results).write_text(json.dumps(records))
    with pytest.raises(ValueError, match=r"bbox_results.json: record 1: category_id 99 is not a category"):
        load_tool("evaluate_rpc").main([results, gt, "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_cli_exits_with_one_line_on_bad_input(tmp_path):
    results, gt = _write_tiny(tmp_path)
    records = json.loads(Path(results).read_text())
    records[1]["bbox"] = 5
    Path(results).write_text(json.dumps(records))
    run = subprocess.run([sys.executable, str(REPO / "tools" / "evaluate_rpc.py"), results, gt],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith("error: ")
    assert "bbox_results.json: record 1: 'bbox' must be a list" in run.stderr.splitlines()[-1]


def _compare_with_official(report, expected):
    for level in LEVELS:
        ours = report["levels"][level]["sweep"]
        ref = expected[level]
        grid = [t for p in report["sweep"][level] for t in p["thresholds"]]
        cacc = [a for p in report["sweep"][level] for a in p["cAcc"]]
        assert grid == [t for t, _ in ref["passes"]], level  # the same 40 thresholds, bit for bit
        assert cacc == [a for _, a in ref["passes"]], level
        assert ours["threshold"] == ref["thre"] and ours["cAcc"] == ref["cAcc"], level
        assert ours["ACD"] == pytest.approx(ref["ACD"], abs=1e-9), level
        for key in ("mCCD", "mCIoU"):  # rpctool sums in float32
            if ref[key] is None:  # rpctool divided by zero: ours is the documented finite mean
                assert math.isfinite(ours[key]), level
                assert ours["classes_with_gt"] < report["num_classes"], level
            else:
                assert ours[key] == pytest.approx(ref[key], abs=1e-6), level
        row = next(r for r in report["rows"] if r["level"] == level and r["method"] == "sweep")
        assert row["mAP50"] / 100 == pytest.approx(ref["mAP50"], abs=1e-12), level
        assert row["mmAP"] / 100 == pytest.approx(ref["mmAP"], abs=1e-12), level


@pytest.mark.parametrize("case", ["rpctool_case", "rpctool_phantom"])
def test_same_numbers_as_rpctool_on_a_stored_case(load_tool, tmp_path, case):
    # Expected numbers: rpctool 0.1.6 through tests/evaluation/rpctool_reference.py.
    # rpctool_case has score ties, images without detections above the chosen threshold (which
    # rpctool drops) and a class absent from a level (rpctool: NaN). rpctool_phantom has a class
    # predicted without ground truth in "easy" (rpctool: mCCD inf, mCIoU finite, IoU 0).
    report = load_tool("evaluate_rpc").main([str(DATA / f"{case}_bbox_results.json"),
                                             str(DATA / f"{case}_instances.json"),
                                             "--output", str(tmp_path)])
    expected = json.loads((DATA / f"{case}_expected.json").read_text())
    if case == "rpctool_case":
        assert report["levels"]["averaged"]["sweep"]["images_dropped"] > 0
    else:
        assert report["levels"]["easy"]["sweep"]["phantom_classes"] == 1
        assert expected["easy"]["mCIoU"] == 0.5
    _compare_with_official(report, expected)


def _random_case(path, seed, num_images=60, num_classes=6):
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for i in range(num_images):
        image_id = 5 + 3 * i
        images.append({"id": image_id, "file_name": f"{i}.jpg", "width": 100, "height": 100,
                       "level": ("easy", "medium", "hard")[i % 3]})
        for _ in range(int(rng.integers(0, 6))):
            c = int(rng.integers(1, num_classes + 1))
            box = [*map(float, rng.uniform(0, 60, 2)), *map(float, rng.uniform(10, 40, 2))]
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": c, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
            if rng.random() < 0.9:
                score = 0.995 if rng.random() < 0.2 else round(float(rng.uniform(0, 1)), 2)
                results.append({"image_id": image_id, "category_id": c, "score": score,
                                "bbox": [box[0] + float(rng.normal(0, 2)), box[1], box[2], box[3]]})
        for _ in range(int(rng.integers(0, 3))):
            results.append({"image_id": image_id, "bbox": [10.0, 10.0, 30.0, 30.0],
                            "category_id": int(rng.integers(1, num_classes + 1)),
                            "score": round(float(rng.uniform(0, 0.7)), 2)})
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": c, "name": str(c), "supercategory": "s"}
                         for c in range(1, num_classes + 1)]}
    (path / "gt.json").write_text(json.dumps(gt))
    (path / "res.json").write_text(json.dumps(results))
    return str(path / "res.json"), str(path / "gt.json")


@pytest.mark.skipif(
    not os.environ.get("RPCTOOL_PYTHON"),
    reason="set RPCTOOL_PYTHON to a Python with rpctool 0.1.6 (see rpctool_reference.py)",
)
@pytest.mark.parametrize("seed", range(4))
def test_same_numbers_as_rpctool_live(load_tool, tmp_path, seed):
    results, gt = _random_case(tmp_path, seed)
    reference = REPO / "tests" / "evaluation" / "rpctool_reference.py"
    expected = json.loads(subprocess.run(
        [os.environ["RPCTOOL_PYTHON"], str(reference), results, gt],
        check=True, capture_output=True, text=True).stdout)
    _compare_with_official(load_tool("evaluate_rpc").main([results, gt]), expected)
