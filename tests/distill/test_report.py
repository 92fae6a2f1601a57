"""
distill/report.py: the stages of a run are read in order (round_10 after round_2, refine last)
with their audit attached, and stages without a summary are left out.
"""
import json

from dpsnet_d2.distill.report import read_stage_summaries


def _stage(root, name, rate, audit=None):
    folder = root / name
    folder.mkdir()
    (folder / "round_summary.json").write_text(json.dumps(
        {"stage": name, "consistency_rate": rate, "threshold": 0.7}))
    if audit is not None:
        (folder / "audit.json").write_text(json.dumps(audit))


def test_stages_in_order_with_their_audit(tmp_path):
    _stage(tmp_path, "refine", 0.3, [{"file": "refined_labels.json", "precision": 0.8}])
    _stage(tmp_path, "round_10", 0.2)
    _stage(tmp_path, "round_2", 0.1, [{"file": "training_labels.json", "precision": 0.5},
                                      {"file": "pseudo_labels.json", "precision": 0.9}])
    (tmp_path / "round_11").mkdir()  # started, no summary yet
    (tmp_path / "round_3.bak").mkdir()
    stages = read_stage_summaries(str(tmp_path))
    assert [s["stage"] for s in stages] == ["round_2", "round_10", "refine"]
    assert stages[0]["audit"]["precision"] == 0.9  # the stage's own pseudo labels
    assert "audit" not in stages[1]
    assert stages[2]["audit"]["precision"] == 0.8
