"""
tools/demo.py on bad input: one clear line, a non-zero status and no traceback, before any data
is generated or any training starts.
"""
import pytest

from .conftest import assert_clear_error, forbid


@pytest.fixture
def nothing_runs(load_tool, monkeypatch):
    forbid(monkeypatch, load_tool("demo"), "generate_synthetic_rpc", "train_and_evaluate")


def _truncated_train_json(tmp_path):
    root = tmp_path / "data" / "synthetic_rpc"
    root.mkdir(parents=True)
    (root / "instances_train2019.json").write_text('{"images": [], "categories": [{"id": 1, "na')
    return ["--datasets", tmp_path / "data"]


CASES = {
    "truncated train json": (_truncated_train_json, ["instances_train2019.json", "invalid JSON"]),
    "missing config": (lambda tmp: ["--config", tmp / "nope.yaml"], ["config file", "nope.yaml"]),
    "--datasets is a file": (lambda tmp: ["--datasets", tmp / "f.txt"],
                             ["--datasets", "f.txt: is a file"]),
    "--output-dir under a file": (lambda tmp: ["--output-dir", tmp / "f.txt" / "o"],
                                  ["--output-dir", "is under a file"]),
    "unknown override": (lambda tmp: ["--", "MODEL.NOPE", "1"], ["MODEL.NOPE"]),
    "--max-iter 0": (lambda tmp: ["--max-iter", "0"], ["--max-iter", "must be >= 1"]),
    "classes of the data and the config differ": (
        lambda tmp: ["--", "MODEL.ROI_HEADS.NUM_CLASSES", "7"],
        ["20 classes", "NUM_CLASSES is 7"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_error(run_tool, nothing_runs, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    make_argv, fragments = CASES[case]
    argv = make_argv(tmp_path)
    if "--datasets" not in argv:
        argv = ["--datasets", tmp_path / "empty"] + argv
    code, _, err = run_tool("demo", argv)
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "output").exists()
