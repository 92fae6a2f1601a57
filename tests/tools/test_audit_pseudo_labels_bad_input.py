"""
tools/audit_pseudo_labels.py on bad input, one test per kind: one clear line naming the file
(and record) and a non-zero status, no traceback; folders that are not stages are ignored.
"""
import json
import shutil
from pathlib import Path

import pytest

from .conftest import assert_clear_error


@pytest.fixture
def run_dir(tiny_rpc_root, tmp_path):
    """A distillation OUTPUT_DIR whose round_0 labels are the tiny test split's ground truth."""
    truth = Path(tiny_rpc_root) / "instances_test2019.json"
    (tmp_path / "run" / "round_0").mkdir(parents=True)
    shutil.copy(truth, tmp_path / "run" / "round_0" / "pseudo_labels.json")
    shutil.copy(truth, tmp_path / "truth.json")
    return tmp_path / "run"


@pytest.fixture
def audit(run_tool, run_dir, tmp_path):
    def run(*argv, folder=None, truth=None):
        return run_tool("audit_pseudo_labels", [folder or run_dir, "--ground-truth",
                                                truth or tmp_path / "truth.json", *argv])

    return run


def test_good_run_and_a_backup_folder_beside_it(audit, run_dir, tmp_path):
    shutil.copytree(run_dir / "round_0", run_dir / "round_0.bak")
    (run_dir / "round_x").mkdir()
    code, out, err = audit("--json", tmp_path / "rows.json")
    assert code == 0, err
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [r["stage"] for r in rows] == ["round_0"] and rows[0]["precision"] == 1.0


@pytest.mark.parametrize("damage,fragments", [
    ("cut", ["round_0/pseudo_labels.json", "line 1 column", "invalid JSON"]),
    ("no annotations", ["round_0/pseudo_labels.json", "not an RPC json", "annotations"]),
    ("no bbox", ["round_0/pseudo_labels.json", "annotations[0]", "bbox"]),
    ("unknown image", ["round_0/pseudo_labels.json", "image id 999", "not in the ground truth"]),
])
def test_a_bad_label_file_is_named(damage, fragments, audit, run_dir):
    path = run_dir / "round_0" / "pseudo_labels.json"
    data = json.loads(path.read_text())
    if damage == "cut":
        path.write_text(path.read_text()[:-20])
    else:
        if damage == "no annotations":
            del data["annotations"]
        elif damage == "no bbox":
            del data["annotations"][0]["bbox"]
        else:
            data["images"][0]["id"] = 999
            data["annotations"][0]["image_id"] = 999
        path.write_text(json.dumps(data))
    code, _, err = audit()
    assert_clear_error(code, err, *fragments)


def test_a_bad_ground_truth_is_named(audit, tmp_path):
    (tmp_path / "bad.json").write_text('{"images": [}')
    code, _, err = audit(truth=tmp_path / "bad.json")
    assert_clear_error(code, err, "bad.json", "invalid JSON")
    (tmp_path / "list.json").write_text("[1, 2]")
    code, _, err = audit(truth=tmp_path / "list.json")
    assert_clear_error(code, err, "list.json", "not an RPC json")


def test_missing_inputs(audit, tmp_path):
    code, _, err = audit(folder=tmp_path / "nope")
    assert_clear_error(code, err, "OUTPUT_DIR", "nope", "no such folder")
    code, _, err = audit(truth=tmp_path / "nope.json")
    assert_clear_error(code, err, "--ground-truth", "nope.json")
    (tmp_path / "empty_run").mkdir()
    code, _, err = audit(folder=tmp_path / "empty_run")
    assert_clear_error(code, err, "empty_run", "no label file")


@pytest.mark.parametrize("argv,fragment", [
    (["--iou", "0"], "--iou"), (["--iou", "1.5"], "--iou"), (["--iou", "x"], "--iou"),
    (["--json", "{tmp}/d.json"], "is a folder"),
    (["--json", "{tmp}/truth.json/rows.json"], "under a file"),
    (["--json", "{tmp}/rows.txt"], "must end with one of .json"),
])
def test_bad_options_are_named_before_any_work(argv, fragment, audit, tmp_path, monkeypatch,
                                               load_tool):
    from .conftest import forbid

    forbid(monkeypatch, load_tool("audit_pseudo_labels"), "audit_run")
    (tmp_path / "d.json").mkdir()
    code, _, err = audit(*[a.format(tmp=tmp_path) for a in argv])
    assert_clear_error(code, err, fragment)
