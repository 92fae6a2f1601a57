"""The rounds: stage plan, batch split, label_stage() on hand-made predictions, the stage files."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog

from dpsnet_d2.distill.rounds import (
    Selection,
    TargetSet,
    batch_split,
    distill_max_iter,
    distill_stages,
    finish_stage_summary,
    label_stage,
    register_stage_labels,
    stage_scalars,
    write_run_report,
)


def test_stages(distill_cfg):
    stages = distill_stages(distill_cfg)
    assert [(s.name, s.start, s.end, s.threshold, s.refine) for s in stages] == [
        ("round_0", 10, 15, 0.8, False), ("round_1", 15, 20, 0.9, False),
        ("round_2", 20, 25, 0.9, False), ("refine", 25, 29, 0.9, True)]
    assert distill_max_iter(distill_cfg) == 29


def test_batch_split(distill_cfg):
    cfg = distill_cfg
    cfg.merge_from_list(["SOLVER.IMS_PER_BATCH", "4", "DISTILL.TARGET_RATIO", "0.25"])
    assert batch_split(cfg, True, True) == (3, 1)
    assert batch_split(cfg, True, False) == (4, 0) and batch_split(cfg, False, True) == (0, 4)


@pytest.fixture
def targets(tiny_rpc_root):
    from dpsnet_d2.data.datasets import register_rpc_splits

    register_rpc_splits(tiny_rpc_root, "rounds_tiny_{split}")
    return TargetSet.load(["rounds_tiny_test"])


def _prediction(scores, counts, classes=None):
    """D detections of 10 x 10 px boxes; ``counts`` the density sums, one per channel."""
    boxes = [[4.0 * j, 4.0, 4.0 * j + 10, 14.0] for j in range(len(scores))]
    return {"boxes": torch.tensor(boxes).reshape(-1, 4), "scores": torch.tensor(scores),
            "classes": torch.tensor(classes or [0] * len(scores)),
            "counts": torch.tensor(counts, dtype=torch.float32)}


def test_label_stage_writes_the_stage_files(targets, distill_cfg, tmp_path):
    """Image 0 agrees (2 confident boxes, density 2); image 1 does not (1 vs 3): in the
    refinement its box above 0.95 is labelled and the 0.5 one painted; image 2 has nothing."""
    cfg = distill_cfg
    assert [r["level"] for r in targets.records] == ["easy", "medium", "hard"]
    cfg.merge_from_list(["DISTILL.MIN_BOXES", "1", "DISTILL.REFINE.SCORE_THRESH", "0.95"])
    refine = distill_stages(distill_cfg)[-1]
    selection = Selection.from_config(cfg, refine, [0, 0, 0])
    assert (selection.threshold, selection.min_boxes, selection.refine) == (0.9, 1, True)
    predictions = [_prediction([0.92, 0.97], [2.2]), _prediction([0.99, 0.5], [3.0]),
                   _prediction([], [0.1])]
    summary = label_stage(refine, targets, predictions, selection, str(tmp_path))
    labels = json.loads((tmp_path / "pseudo_labels.json").read_text())
    assert [a["image_id"] for a in labels["annotations"]] == [targets.records[0]["image_id"]] * 2
    assert labels["info"] == {"stage": "refine", "round": 3, "threshold": 0.9, "min_boxes": 1,
                              "agnostic_nms_iou": 0.0}
    refined = json.loads((tmp_path / "refined_labels.json").read_text())
    assert len(refined["images"]) == 1 and len(refined["annotations"]) == 1
    assert len(list((tmp_path / "images").rglob("*.png"))) == 1
    assert summary == json.loads((tmp_path / "round_summary.json").read_text())
    numbers = ("consistent_images", "pseudo_boxes", "status", "refined_images", "refined_boxes",
               "painted_boxes")
    assert [summary[k] for k in numbers] == [1, 2, "training", 1, 1, 1]
    assert summary["levels"]["medium"] == {"images": 1, "consistent": 0, "rate": 0.0}
    assert stage_scalars(summary) == {
        "distill/stage": 3, "distill/tau": 0.9, "distill/consistency_rate": 1 / 3,
        "distill/pseudo_boxes": 2, "distill/refined_boxes": 1}

    names = register_stage_labels(refine, str(tmp_path), targets.image_root)
    assert names == ["distill_refine_pseudo_labels", "distill_refine_refined_labels"]
    assert len(DatasetCatalog.get(names[0])) == 1
    finish_stage_summary(str(tmp_path), 1.234, {"val": {"bbox": {"AP": 1.0}}})
    finished = json.loads((tmp_path / "round_summary.json").read_text())
    assert finished["status"] == "finished" and finished["train_seconds"] == 1.23
    stage = dataclasses.replace(refine, name=tmp_path.name)  # its files are in tmp_path
    report = write_run_report(str(tmp_path.parent), [stage])
    assert report.count("\n| ") == 2  # header + one stage
    assert (tmp_path.parent / "distill_progress.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_inside_a_stage_without_labels_is_an_error(distill_cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot resume inside round_0"):
        register_stage_labels(distill_stages(distill_cfg)[0], str(tmp_path), str(tmp_path))


def test_selection_checks_one_image():
    selection = Selection(threshold=0.5, class_to_channel=(0, 1), min_boxes=0)
    ok = selection.check(_prediction([0.9, 0.8], [1.0, 1.0], classes=[0, 1]))
    assert ok.consistent and ok.keep.tolist() == [True, True]
    assert not selection.check(_prediction([0.9, 0.4], [2.0, 0.0])).consistent
    assert np.array_equal(selection.check(_prediction([], [0.0, 0.0])).keep, [])


def test_rounds_accumulate_labels_and_nms_counts_a_cross_class_duplicate_once(
        targets, distill_cfg, tmp_path):
    cfg = distill_cfg
    cfg.merge_from_list(["DISTILL.MIN_BOXES", "1", "DISTILL.AGNOSTIC_NMS_IOU", "0.5"])
    r0, r1 = distill_stages(cfg)[:2]
    sel0 = Selection.from_config(cfg, r0, [0, 0, 0], threshold=0.6)
    assert (sel0.threshold, sel0.nms_iou, sel0.accumulate) == (0.6, 0.5, True)
    same_box = {"boxes": torch.tensor([[4.0, 4.0, 14.0, 14.0], [4.0, 4.0, 14.0, 14.5]]),
                "scores": torch.tensor([0.9, 0.8]), "classes": torch.tensor([0, 1]),
                "counts": torch.tensor([1.0])}  # one product seen as two SKUs; density 1
    first = [same_box, _prediction([0.9], [3.0]), _prediction([], [0.0])]
    label_stage(r0, targets, first, sel0, str(tmp_path / "round_0"))
    assert len(json.loads((tmp_path / "round_0" / "pseudo_labels.json").read_text())[
        "annotations"]) == 1  # NMS left one box: consistent with the density's 1
    second = [_prediction([0.9], [3.0]), _prediction([0.9, 0.95], [2.0]), _prediction([], [0.0])]
    sel1 = Selection.from_config(cfg, r1, [0, 0, 0], threshold=0.6)
    summary = label_stage(r1, targets, second, sel1, str(tmp_path / "round_1"),
                          previous_folder=str(tmp_path / "round_0"),
                          tau_info={"mode": "calibrated", "calibrated": 0.6})
    assert summary["consistent_images"] == 1 and summary["training_images"] == 2
    assert summary["tau"]["mode"] == "calibrated"
    training = json.loads((tmp_path / "round_1" / "training_labels.json").read_text())
    assert len(training["images"]) == 2 and len(training["annotations"]) == 3
    names = register_stage_labels(r1, str(tmp_path / "round_1"), targets.image_root)
    assert names == ["distill_round_1_training_labels"] and len(DatasetCatalog.get(names[0])) == 2
