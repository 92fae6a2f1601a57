"""
tools/evaluate_rpc.py on bad input (property tests): every malformed results record, ground
truth or output folder ends with one clear line naming the file (and the record), a non-zero
status, no traceback and nothing written; every well-formed results list is evaluated.
"""
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import assert_clear_error

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

GT = {
    "images": [{"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 64, "level": level}
               for i, level in ((1, "easy"), (2, "medium"), (3, "hard"))],
    "annotations": [
        {"id": 10 + j, "image_id": i, "category_id": c, "bbox": [4.0 * j, 2.0, 10.0, 12.0]}
        for j, (i, c) in enumerate([(1, 3), (2, 3), (2, 7), (3, 7), (3, 7)])
    ],  # no area, iscrowd, segmentation: the README says they are not used
    "categories": [{"id": 3, "name": "x", "supercategory": "drink"},
                   {"id": 7, "name": "y", "supercategory": "candy"}],
}
GOOD_RECORD = {"image_id": 2, "category_id": 7, "bbox": [1.0, 2.0, 10.0, 12.0], "score": 0.7}


def _files(tmp_path, results, gt=GT):
    (tmp_path / "res").mkdir(exist_ok=True)
    res = tmp_path / "res" / "bbox_results.json"
    res.write_text(json.dumps(results))
    gt_file = tmp_path / "gt.json"
    gt_file.write_text(json.dumps(gt))
    return res, gt_file


good_records = st.fixed_dictionaries({
    "image_id": st.sampled_from([1, 2, 3, 2.0]),
    "category_id": st.sampled_from([3, 7, 7.0]),
    "bbox": st.lists(st.floats(0, 60), min_size=4, max_size=4),
    "score": st.floats(0, 1) | st.sampled_from([0, 1]),
})


@FUZZ
@given(results=st.lists(good_records, max_size=8))
def test_good_results_are_evaluated(run_tool, tmp_path, results):
    res, gt = _files(tmp_path, results)
    code, out, err = run_tool("evaluate_rpc", [res, gt, "--threshold", "0.5", "--no-map"])
    assert code == 0, err
    assert "| averaged |" in out.replace("  ", " ") or "averaged" in out
    report = json.loads((tmp_path / "res" / "rpc_results.json").read_text())
    assert {r["level"] for r in report["rows"]} == {"easy", "medium", "hard", "averaged"}


# field -> values that make a record bad
BAD_VALUES = {
    "score": [5.0, -1, -0.01, 1.0001, math.nan, math.inf, True, None, "0.5", [0.5], {}],
    "image_id": [1.5, "1", None, True, 99, 10**30, math.nan, [1]],
    "category_id": [99, 3.5, None, "3", False],
    "bbox": [[0, 0, -1, 5], [0, 0, 5, -0.5], [math.nan, 0, 1, 1], [0, math.inf, 1, 1],
             [0, 0, 1], [0, 0, 1, 1, 1], "x", None, [0, 0, 1, True], [0, "0", 1, 1], {}],
}


@st.composite
def bad_results(draw):
    """(results, index of the bad record): a few good records, one of them broken."""
    results = [dict(GOOD_RECORD) for _ in range(draw(st.integers(1, 4)))]
    j = draw(st.integers(0, len(results) - 1))
    kind = draw(st.sampled_from(sorted(BAD_VALUES) + ["delete", "not an object"]))
    if kind == "delete":
        del results[j][draw(st.sampled_from(sorted(GOOD_RECORD)))]
    elif kind == "not an object":
        results[j] = draw(st.sampled_from([None, 3, "r", [1, 2, 3, 4], []]))
    else:
        results[j][kind] = draw(st.sampled_from(BAD_VALUES[kind]))
    return results, j


@FUZZ
@given(case=bad_results())
def test_bad_records_are_one_clear_error(run_tool, tmp_path, case):
    results, j = case
    res, gt = _files(tmp_path, results)
    (tmp_path / "res" / "rpc_results.json").unlink(missing_ok=True)
    code, _, err = run_tool("evaluate_rpc", [res, gt, "--no-map"])
    assert_clear_error(code, err, str(res), f"record {j}")
    assert not (tmp_path / "res" / "rpc_results.json").exists()


@pytest.mark.parametrize("results", [{"image_id": 1}, "x", None, 3])
def test_results_that_are_not_a_list(run_tool, tmp_path, results):
    res, gt = _files(tmp_path, results)
    code, _, err = run_tool("evaluate_rpc", [res, gt])
    assert_clear_error(code, err, str(res), "expected a JSON list")


def test_ground_truth_without_area_has_map(run_tool, tmp_path):
    res, gt = _files(tmp_path, [dict(GOOD_RECORD, image_id=1, category_id=3,
                                     bbox=[0.0, 2.0, 10.0, 12.0])])
    code, out, err = run_tool("evaluate_rpc", [res, gt, "--output", tmp_path / "o"])
    assert code == 0, err
    rows = json.loads((tmp_path / "o" / "rpc_results.json").read_text())["rows"]
    easy = next(r for r in rows if r["level"] == "easy")
    assert easy["mAP50"] == pytest.approx(100.0)


def _gt_with(change):
    gt = json.loads(json.dumps(GT))
    change(gt)
    return gt


GT_CASES = {
    "unknown level": (lambda gt: gt["images"][1].update(level="extreme"),
                      ["images[1] (id=2)", "'level' must be one of"]),
    "no images list": (lambda gt: gt.pop("images"), ["missing key 'images'"]),
    "image without id": (lambda gt: gt["images"][0].pop("id"), ["images[0]", "missing key 'id'"]),
    "annotation of an unknown image": (lambda gt: gt["annotations"][2].update(image_id=9),
                                       ["annotations[2] (id=12)", "image_id 9"]),
    "category without id": (lambda gt: gt["categories"][1].pop("id"),
                            ["categories[1]", "missing key 'id'"]),
    "not an object": (lambda gt: gt.clear(), ["missing key"]),
}


@pytest.mark.parametrize("case", sorted(GT_CASES))
def test_bad_ground_truth_is_one_clear_error(run_tool, tmp_path, case):
    change, fragments = GT_CASES[case]
    res, gt = _files(tmp_path, [GOOD_RECORD], _gt_with(change))
    code, _, err = run_tool("evaluate_rpc", [res, gt])
    assert_clear_error(code, err, str(gt), *fragments)


def test_truncated_files(run_tool, tmp_path):
    res, gt = _files(tmp_path, [GOOD_RECORD])
    res.write_text(res.read_text()[:-3])
    code, _, err = run_tool("evaluate_rpc", [res, gt])
    assert_clear_error(code, err, str(res), "invalid JSON")
    code, _, err = run_tool("evaluate_rpc", [tmp_path / "nope.json", gt])
    assert_clear_error(code, err, "nope.json", "cannot be read")


@pytest.mark.parametrize("where", ["file", "under a file", "proc"])
def test_output_folder_is_checked_before_evaluating(run_tool, load_tool, tmp_path, monkeypatch,
                                                    where):
    res, gt = _files(tmp_path, [GOOD_RECORD])
    (tmp_path / "f.txt").write_text("x")
    out = {"file": tmp_path / "f.txt", "under a file": tmp_path / "f.txt" / "o",
           "proc": Path("/proc/self/o")}[where]
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")

    def rpc_report(*args, **kwargs):
        raise AssertionError("evaluated before the output folder was checked")

    monkeypatch.setattr(load_tool("evaluate_rpc"), "rpc_report", rpc_report)
    code, _, err = run_tool("evaluate_rpc", [res, gt, "--output", out])
    assert_clear_error(code, err, "--output", str(out))


@pytest.mark.parametrize("threshold", ["1.5", "-0.1", "nan"])
def test_threshold_outside_0_1(run_tool, tmp_path, threshold):
    res, gt = _files(tmp_path, [GOOD_RECORD])
    code, _, err = run_tool("evaluate_rpc", [res, gt, "--threshold", threshold])
    assert_clear_error(code, err, "--threshold")
