"""The pseudo-label audit: box precision / recall with class at IoU 0.5, count accuracy."""
import json

import pytest

from dpsnet_d2.distill.audit import audit_markdown, audit_label_file, audit_run, match_image


def box(x, y, w, h, c, score=1.0):
    return {"bbox": [x, y, w, h], "category_id": c, "score": score}


def test_match_needs_class_and_iou_and_uses_each_truth_once():
    truth = [box(0, 0, 10, 10, 1), box(20, 20, 10, 10, 2)]
    assert match_image([box(0, 0, 10, 10, 1)], truth) == 1
    assert match_image([box(0, 0, 10, 10, 2)], truth) == 0  # wrong class
    assert match_image([box(5, 5, 10, 10, 1)], truth) == 0  # IoU 25/175 < 0.5
    assert match_image([box(0, 0, 10, 10, 1, 0.9), box(1, 0, 10, 10, 1, 0.95)], truth) == 1


def test_audit_run(tmp_path):
    truth = {"images": [{"id": 1}, {"id": 2}, {"id": 3}],
             "annotations": [{"image_id": 1, **box(0, 0, 10, 10, 1)},
                             {"image_id": 1, **box(20, 20, 10, 10, 2)},
                             {"image_id": 2, **box(0, 0, 10, 10, 1)}]}
    labels = {"images": [{"id": 1}, {"id": 2}],
              "annotations": [{"image_id": 1, **box(0, 0, 10, 10, 1)},
                              {"image_id": 1, **box(20, 20, 10, 10, 2)},
                              {"image_id": 2, **box(0, 0, 10, 10, 1)},
                              {"image_id": 2, **box(40, 40, 10, 10, 1)}]}
    (tmp_path / "round_0").mkdir()
    (tmp_path / "round_0" / "pseudo_labels.json").write_text(json.dumps(labels))
    (tmp_path / "gt.json").write_text(json.dumps(truth))
    (row,) = audit_run(str(tmp_path), str(tmp_path / "gt.json"))
    assert row["stage"] == "round_0" and row["images"] == 2 and row["target_images"] == 3
    assert row["precision"] == pytest.approx(3 / 4) and row["recall"] == pytest.approx(1.0)
    assert row["count_acc"] == pytest.approx(1 / 2)  # image 2 has one box too many
    assert row["entirely_correct"] == pytest.approx(1 / 2)
    assert "| round_0 | pseudo_labels.json | 2 / 3 | 4 | 75.0 | 100.0 | 50.0 | 50.0 |" in (
        audit_markdown([row]))
    labels["images"].append({"id": 9})
    (tmp_path / "bad.json").write_text(json.dumps(labels))
    with pytest.raises(ValueError, match="image id 9"):
        audit_label_file(str(tmp_path / "bad.json"), truth)
