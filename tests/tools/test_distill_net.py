"""tools/distill_net.py: a 2-round tiny distillation, its artifacts, resume, label-freedom, bad input."""
import json
from pathlib import Path

import pytest
import torch

STAGES = ("round_0", "round_1", "refine")


def run(load_tool, args):
    tool = load_tool("distill_net")
    assert tool.check_inputs(args) is None
    return tool.main(args)


def test_two_rounds_write_every_artifact(load_tool, distill_args, distill_opts, tmp_path):
    run(load_tool, distill_args(*distill_opts(tmp_path)))
    for stage in STAGES:
        folder = tmp_path / stage
        for name in ("pseudo_labels.json", "model_final.pth", "round_summary.json"):
            assert (folder / name).is_file(), f"{stage}/{name}"
        summary = json.loads((folder / "round_summary.json").read_text())
        assert summary["status"] == "finished" and summary["target_images"] == 3
        assert set(summary["levels"]) == {"easy", "medium", "hard"}
        assert "distill_tiny_val" in summary["eval"]
    assert (tmp_path / "refine" / "refined_labels.json").is_file()
    assert (tmp_path / "distill_summary.md").read_text().count("\n| ") == len(STAGES) + 1
    assert (tmp_path / "distill_progress.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "last_checkpoint").read_text() == "refine/model_final.pth"
    assert torch.load(tmp_path / "refine" / "model_final.pth", weights_only=False)["iteration"] == 7
    # the stage's label-free numbers went through EventStorage into metrics.json (the writer
    # keeps the latest value of each: the refinement's, put at its first iteration 6)
    rows = [json.loads(line) for line in (tmp_path / "metrics.json").read_text().splitlines()]
    row = next(r for r in rows if "distill/tau" in r)
    refine = json.loads((tmp_path / "refine" / "round_summary.json").read_text())
    assert (row["iteration"], row["distill/stage"], row["distill/tau"]) == (6, 2, refine["threshold"])
    assert row["distill/consistency_rate"] == refine["consistency_rate"]
    assert row["distill/pseudo_boxes"] == refine["pseudo_boxes"]


def test_kill_and_resume_give_the_same_labels(
    load_tool, distill_args, distill_opts, tmp_path, monkeypatch
):
    """Killed inside round 1 (resumes at its boundary) and inside the refinement (resumes from
    the checkpoint inside it): every label file and refined image equals the uninterrupted run's."""
    tool = load_tool("distill_net")
    opts = ["SOLVER.CHECKPOINT_PERIOD", "7", "DISTILL.EVAL_DATASETS", "()"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    tool.main(distill_args(*distill_opts(whole), *opts))

    from dpsnet_d2.engine import DistillTrainer

    run_step, kills = DistillTrainer.run_step, {5, 7}

    def dying(trainer):
        if trainer.iter in kills:
            kills.discard(trainer.iter)
            raise KeyboardInterrupt(f"killed at iteration {trainer.iter}")
        run_step(trainer)

    monkeypatch.setattr(DistillTrainer, "run_step", dying)
    for resume in ([], ["--resume"], ["--resume"]):
        try:
            tool.main(distill_args(*resume, *distill_opts(killed), *opts))
        except KeyboardInterrupt:
            pass
    assert not kills
    files = sorted(p.relative_to(whole) for p in whole.rglob("*")
                   if p.suffix in (".json", ".png") and "inference" not in p.parts)
    labels = [f for f in files if f.name.endswith("labels.json")]
    assert len(labels) == 6  # pseudo and training labels of 2 rounds, the refinement's two
    assert json.loads((whole / "refine" / "refined_labels.json").read_text())["annotations"]
    assert any(f.parent.name == "images" for f in files)
    for f in files:
        if f.name.endswith("labels.json") or f.parent.name == "images":
            assert (killed / f).read_bytes() == (whole / f).read_bytes(), f
    assert json.loads((killed / "refine" / "round_summary.json").read_text())["status"] == "finished"
    # resumed at round 1's boundary, round 1 trained exactly as in the uninterrupted run
    models = [torch.load(d / "round_1" / "model_final.pth", weights_only=False)["model"]
              for d in (whole, killed)]
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])


def test_pseudo_labels_do_not_depend_on_target_annotations(
    load_tool, distill_args, distill_opts, tiny_distill_weights, unlabelled_copy, tmp_path
):
    """The target json with its annotations deleted gives byte-identical labels and images."""
    tool = load_tool("distill_net")
    opts = ["MODEL.WEIGHTS", tiny_distill_weights, "DISTILL.SOURCE_ITERS", "0",
            "DISTILL.ROUNDS", "1", "DISTILL.ITERS_PER_ROUND", "1", "DISTILL.REFINE.ITERS", "1",
            "DISTILL.EVAL_DATASETS", "()"]
    for folder, target in (("labelled", None), ("unlabelled", unlabelled_copy)):
        args = distill_args(*distill_opts(tmp_path / folder, target), *opts)
        assert tool.check_inputs(args) is None
        tool.main(args)
    files = [p.relative_to(tmp_path / "labelled") for p in (tmp_path / "labelled").rglob("*")
             if p.name.endswith("labels.json") or p.suffix == ".png" and p.parent.name == "images"]
    assert len(files) >= 4
    refined = json.loads((tmp_path / "labelled" / "refine" / "refined_labels.json").read_text())
    assert refined["annotations"]
    for f in files:
        assert (tmp_path / "unlabelled" / f).read_bytes() == (tmp_path / "labelled" / f).read_bytes()


@pytest.mark.parametrize(
    "change,message",
    [
        (["DISTILL.TARGET_DATASETS", "()"], "DISTILL.TARGET_DATASETS is empty"),
        (["DISTILL.TARGET_DATASETS", "('no_such_set',)"], "'no_such_set' is not registered"),
        (["DISTILL.TARGET_DATASETS", "('pl_empty_target',)"], "'pl_empty_target' has no images"),
        (["MODEL.ROI_HEADS.NUM_CLASSES", "5"], "NUM_CLASSES is 5 but DATASETS.TRAIN"),
        (["DISTILL.TARGET_DATASETS", "('distill_other_classes',)"], "other classes than"),
        (["DISTILL.EVAL_DATASETS", "('distill_tiny_test',)"], "are target datasets"),
        (["MODEL.WEIGHTS", "/nope.pth", "DISTILL.SOURCE_ITERS", "0"], "MODEL.WEIGHTS /nope.pth: cannot be read"),
        (["DISTILL.TARGET_RATIO", "1.5"], "TARGET_RATIO=1.5"),
    ],
)
def test_bad_input_is_one_error_line_before_training(
    load_tool, distill_args, distill_opts, tmp_path, change, message, tiny_rpc_split
):
    from dpsnet_d2.data.datasets import register_rpc_instances

    (tmp_path / "empty.json").write_text('{"images": [], "annotations": [], "categories": []}')
    register_rpc_instances("pl_empty_target", str(tmp_path / "empty.json"), str(tmp_path))
    data, _ = tiny_rpc_split("test")
    data["categories"][0]["name"] = "renamed"
    (tmp_path / "other.json").write_text(json.dumps(data))
    register_rpc_instances("distill_other_classes", str(tmp_path / "other.json"), str(tmp_path))
    from dpsnet_d2.utils.cli import UserError

    with pytest.raises(UserError) as error:
        load_tool("distill_net").check_inputs(
            distill_args(*distill_opts(tmp_path / "out"), *change))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_bad_input_exits_non_zero(load_tool, distill_rpc, tmp_path, capsys):
    from pathlib import Path

    from dpsnet_d2.utils.cli import run_cli

    repo = Path(__file__).resolve().parents[2]
    status = run_cli(load_tool("distill_net").cli, [
        "--config-file", str(repo / "configs" / "Base-DPSNet.yaml"),
        "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(tmp_path / "out")])
    assert status == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: nothing to distil from: MODEL.WEIGHTS is empty and DISTILL.SOURCE_ITERS is 0")
    assert not (tmp_path / "out").exists()


def test_eval_only_is_refused_with_one_line(run_tool):
    base = str(Path(__file__).resolve().parents[2] / "configs" / "Base-DPSNet.yaml")
    code, _, err = run_tool("distill_net", ["--config-file", base, "--eval-only"], entry="cli")
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not evaluate" in lines[0] and "train_net.py" in lines[0]
