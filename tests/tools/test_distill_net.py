"""tools/distill_net.py: a 2-round tiny distillation, its artifacts, resume, label-freedom, bad input."""
import json

import pytest
import torch

from dpsnet_d2.engine import distill_hook

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
    assert len(labels) == 4
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
