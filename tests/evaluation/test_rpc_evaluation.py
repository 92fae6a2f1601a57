"""RPCEvaluator: per-level rows, both threshold modes, files, log table, gather, counts, wiring."""
import json
import logging

import pytest
import torch
from detectron2.data import MetadataCatalog
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.evaluation.testing import flatten_results_dict

from dpsnet_d2 import DPSNetTrainer, RPCEvaluator, get_dpsnet_cfg
from dpsnet_d2.evaluation import rpc_evaluation

A, B, C = 0, 1, 2
# (level, objects) and detections (object index or box, class, score) per image.
IMAGES = [("easy", [A, B]), ("easy", [C]), ("medium", [A, A, B]), ("medium", [B, C]),
          ("hard", [A, B, C, C]), ("hard", [A])]
DETECTIONS = [
    [(0, A, 0.9), (1, B, 0.9)],
    [(0, C, 0.8)],
    [(0, A, 0.9), (1, A, 0.9), (2, B, 0.9)],
    [(0, B, 0.9)],  # C missing
    # all four, and an extra A at 0.3
    [(0, A, 0.9), (1, B, 0.9), (2, C, 0.9), (3, C, 0.9), ([40.0, 40.0, 10.0, 10.0], A, 0.3)],
    [(0, A, 0.9)],
]


def run(evaluator, make_instances, images=range(6), counts=None):
    evaluator.reset()
    for i in images:
        out = {"instances": make_instances(DETECTIONS[i])}
        if counts is not None:
            out["counts"] = torch.tensor(counts[i], dtype=torch.float32)
        evaluator.process([{"image_id": 101 + i}], [out])
    return evaluator


def test_levels_modes_and_files(rpc_dataset, make_instances, tmp_path, caplog):
    name = rpc_dataset(IMAGES)
    evaluator = RPCEvaluator(name, str(tmp_path), score_threshold=0.5, distributed=False)
    with caplog.at_level(logging.INFO, logger="dpsnet_d2.evaluation.rpc_evaluation"):
        res = run(evaluator, make_instances).evaluate()["rpc"]

    for mode in ("sweep", "fixed"):
        assert res[f"easy/{mode}/cAcc"] == 100.0 and res[f"easy/{mode}/ACD"] == 0.0
        assert res[f"easy/{mode}/mCIoU"] == 100.0 and res[f"easy/{mode}/mCCD"] == 0.0
        assert res[f"medium/{mode}/cAcc"] == 50.0 and res[f"medium/{mode}/ACD"] == 0.5
        assert res[f"medium/{mode}/mCCD"] == pytest.approx(1 / 3)  # C: 1 missing of 1
        assert res[f"medium/{mode}/mCIoU"] == pytest.approx(200 / 3)
        assert res[f"hard/{mode}/cAcc"] == 100.0  # the extra box scores 0.3
        assert res[f"averaged/{mode}/cAcc"] == pytest.approx(500 / 6)
    assert res["hard/fixed/threshold"] == 0.5
    # hard: cAcc 1/2 for t <= 0.3, 1 for 0.3 < t <= 0.9: first grid point above 0.3
    assert res["hard/sweep/threshold"] == pytest.approx(0.01 + 3 * 0.98 / 9)
    assert res["easy/sweep/threshold"] == 0.01  # all tied up to 0.8: the first
    assert res["easy/mAP50"] == pytest.approx(100.0) and res["easy/mmAP"] == pytest.approx(100.0)
    assert res["medium/mAP50"] < 100.0
    assert res["averaged/fixed/count_acc"] == pytest.approx(500 / 6)

    report = json.loads((tmp_path / "rpc_results.json").read_text())
    assert [(r["level"], r["method"]) for r in report["rows"]] == [
        (lv, m) for lv in ("easy", "medium", "hard", "averaged") for m in ("sweep", "fixed")]
    leaderboard = ["level", "method", "cAcc", "mCIoU", "ACD", "mCCD", "mAP50", "mmAP"]
    assert report["columns"][:8] == leaderboard
    assert any("classes with ground truth" in n for n in report["notes"])
    assert len(report["sweep"]["hard"]) == 4
    boxes = json.loads((tmp_path / "bbox_results.json").read_text())
    assert len(boxes) == sum(len(d) for d in DETECTIONS)
    assert {b["category_id"] for b in boxes} == {10, 20, 30}
    assert boxes[0] == {"image_id": 101, "category_id": 10, "bbox": [4.0, 4.0, 12.0, 20.0],
                        "score": pytest.approx(0.9)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bbox_results.json", "rpc_results.json"]

    log = caplog.text
    header = next(line for line in log.splitlines() if line.startswith("|") and "level" in line)
    assert [c.strip() for c in header.strip("|").split("|")][:8] == report["columns"][:8]
    assert "sweep thresholds: easy 0.0100" in log and "hard 0.3367" in log


def test_gather_merges_ranks(rpc_dataset, make_instances, monkeypatch):
    name = rpc_dataset(IMAGES)
    single = run(RPCEvaluator(name, score_threshold=0.5, distributed=False), make_instances)
    single = single.evaluate()
    rank0 = run(RPCEvaluator(name, score_threshold=0.5), make_instances, images=[0, 2, 4])
    rank1 = run(RPCEvaluator(name, score_threshold=0.5), make_instances, images=[5, 3, 1])
    monkeypatch.setattr(rpc_evaluation.comm, "synchronize", lambda: None)
    both = [rank0._predictions, rank1._predictions]
    monkeypatch.setattr(rpc_evaluation.comm, "gather", lambda data, dst=0: both)
    monkeypatch.setattr(rpc_evaluation.comm, "is_main_process", lambda: True)
    assert rank0.evaluate() == single
    monkeypatch.setattr(rpc_evaluation.comm, "gather", lambda data, dst=0: [])
    monkeypatch.setattr(rpc_evaluation.comm, "is_main_process", lambda: False)
    assert rank1.evaluate() is None


def test_density_counts(rpc_dataset, make_instances, tmp_path):
    name = rpc_dataset(IMAGES)
    per_class = [[1, 1, 0], [0, 0, 1], [2, 1, 0], [0, 1, 1], [1, 1, 2], [1, 0, 0]]
    noisy = [[v + 0.1 for v in row] for row in per_class]
    noisy[3] = [0.1, 2.1, 0.1]  # rounds to B: 2 instead of B: 1, C: 1 -- total right
    noisy[5] = [0.4, 0.0, 0.0]  # rounds to nothing: vector and total wrong
    evaluator = RPCEvaluator(name, str(tmp_path), distributed=False)
    res = run(evaluator, make_instances, counts=noisy).evaluate()["rpc"]
    assert res["averaged/density/cAcc"] == pytest.approx(400 / 6)
    assert res["hard/density/ACD"] == 0.5
    assert res["easy/density/cAcc"] == 100.0
    assert res["averaged/density/count_acc"] == pytest.approx(500 / 6)  # round(sum) vs objects
    assert not any(k.startswith("averaged/fixed") for k in res)  # no fixed threshold given

    agnostic = [[float(len(objs))] for _, objs in IMAGES]
    res = run(evaluator, make_instances, counts=agnostic).evaluate()["rpc"]
    assert res["averaged/density/count_acc"] == 100.0
    assert "averaged/density/cAcc" not in res  # C = 1 != K = 3


def test_levels_absent_and_json_file(rpc_dataset, make_instances, tmp_path):
    # A plain set (no levels) whose metadata points to a COCO json: one "averaged" row.
    images = [(None, objs) for _, objs in IMAGES]
    from_file = rpc_dataset(images, json_dir=tmp_path)
    assert MetadataCatalog.get(from_file).json_file.startswith(str(tmp_path))
    with_file = RPCEvaluator(from_file, distributed=False, score_threshold=0.5)
    with_file = run(with_file, make_instances).evaluate()["rpc"]
    converted = RPCEvaluator(rpc_dataset(images), distributed=False, score_threshold=0.5)
    converted = run(converted, make_instances).evaluate()["rpc"]
    assert with_file == converted
    assert {k.split("/")[0] for k in with_file} == {"averaged"}
    assert with_file["averaged/fixed/cAcc"] == pytest.approx(500 / 6)


def test_empty_predictions_and_bad_input(rpc_dataset, make_instances):
    name = rpc_dataset(IMAGES)
    evaluator = RPCEvaluator(name, score_threshold=0.5, distributed=False)
    for i in range(6):
        evaluator.process([{"image_id": 101 + i}], [{"instances": make_instances([])}])
    res = evaluator.evaluate()["rpc"]
    assert res["averaged/fixed/cAcc"] == 0.0 and res["averaged/sweep/cAcc"] == 0.0
    assert res["averaged/fixed/ACD"] == pytest.approx(13 / 6) and res["averaged/fixed/mCIoU"] == 0.0
    assert res["averaged/mAP50"] == 0.0

    evaluator.reset()
    evaluator.process([{"image_id": 999}], [{"instances": make_instances([])}])
    with pytest.raises(ValueError, match="image_id 999, not in the ground truth"):
        evaluator.evaluate()
    with pytest.raises(ValueError, match="score_threshold"):
        RPCEvaluator(name, score_threshold=1.5)


def test_inference_on_dataset_and_d2_formats(rpc_dataset, make_instances):
    class FakeModel(torch.nn.Module):
        def forward(self, batch):
            return [{"instances": make_instances(DETECTIONS[d["image_id"] - 101])} for d in batch]

    name = rpc_dataset(IMAGES)
    loader = [[{"image_id": 101 + i}] for i in range(6)]
    results = inference_on_dataset(FakeModel(), loader, RPCEvaluator(name, score_threshold=0.5))
    print_csv_format(results)
    flat = flatten_results_dict(results)
    assert all(isinstance(v, float) for v in flat.values())
    assert flat["rpc/averaged/fixed/cAcc"] == pytest.approx(500 / 6)


def test_trainer_builds_rpc_evaluator(rpc_dataset, tmp_path):
    cfg = get_dpsnet_cfg(opts=["TEST.RPC_SCORE_THRESH", "0.7", "TEST.RPC_COMPUTE_MAP", "False"])
    evaluator = DPSNetTrainer.build_evaluator(cfg, rpc_dataset(IMAGES), str(tmp_path))
    assert isinstance(evaluator, RPCEvaluator)
    assert evaluator._score_threshold == 0.7 and evaluator._output_dir == str(tmp_path)
    assert evaluator._compute_map is False


def test_trainer_test_runs_the_rpc_evaluator(tiny_coco, tiny_rcnn_opts, tmp_path):
    # The tiny COCO set as an RPC-style set (levels, evaluator_type "rpc"), a random tiny model:
    # the path of tools/train_net.py --eval-only.
    from detectron2.data import DatasetCatalog

    name = "dpsnet_test_rpc_eval_trainer"
    levels = ("easy", "hard")
    dicts = [dict(d, level=levels[i % 2]) for i, d in enumerate(DatasetCatalog.get(tiny_coco))]
    source = MetadataCatalog.get(tiny_coco)
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(
        thing_classes=source.thing_classes, json_file=source.json_file, evaluator_type="rpc",
        thing_dataset_id_to_contiguous_id=source.thing_dataset_id_to_contiguous_id,
    )
    try:
        cfg = get_dpsnet_cfg(opts=tiny_rcnn_opts(name, tmp_path))
        results = DPSNetTrainer.test(cfg, DPSNetTrainer.build_model(cfg))
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    assert {"easy/sweep/cAcc", "hard/fixed/cAcc", "averaged/fixed/ACD"} <= set(results["rpc"])
    assert (tmp_path / "inference" / name / "rpc_results.json").exists()
