"""tools/audit_pseudo_labels.py: audit.json per stage and the section in distill_summary.md."""
import json


def _box(x, y, cid):
    return {"bbox": [x, y, 10, 10], "category_id": cid}


def test_audit_writes_per_stage_files_and_the_summary_section(tmp_path, run_tool):
    truth = {"images": [{"id": 1}, {"id": 2}],
             "annotations": [{"image_id": 1, **_box(0, 0, 1)}, {"image_id": 2, **_box(0, 0, 1)}]}
    (tmp_path / "gt.json").write_text(json.dumps(truth))
    for stage, ids in (("round_0", [1]), ("round_1", [1, 2])):
        (tmp_path / stage).mkdir()
        labels = {"images": [{"id": i} for i in ids],
                  "annotations": [{"image_id": i, **_box(0, 0, 1)} for i in ids]}
        (tmp_path / stage / "pseudo_labels.json").write_text(json.dumps(labels))
    (tmp_path / "distill_summary.md").write_text("| round | tau |\n")
    argv = [str(tmp_path), "--ground-truth", str(tmp_path / "gt.json"), "--summary"]
    for _ in range(2):  # a second audit replaces the section, never appends a copy
        code, out, err = run_tool("audit_pseudo_labels", argv)
        assert code == 0, err
    (row,) = json.loads((tmp_path / "round_1" / "audit.json").read_text())
    assert row["images"] == 2 and row["precision"] == 1.0 and row["entirely_correct"] == 1.0
    summary = (tmp_path / "distill_summary.md").read_text()
    assert summary.startswith("| round | tau |")
    assert summary.count("Pseudo-label audit") == 1 and "| round_1 | pseudo_labels.json |" in summary
