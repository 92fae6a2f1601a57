"""The CycleGAN trainer (Detectron2's TrainerBase): metrics, checkpoints, kill-and-resume."""
import json
import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.engine import HookBase

from dpsnet_d2.augment.render import (
    CycleGANConfig,
    CycleGANTrainer,
    RenderCheckpointError,
    load_renderer,
    train_cyclegan,
)

LOSSES = {"loss_gan_ab", "loss_gan_ba", "loss_cycle_a", "loss_cycle_b", "loss_idt_a",
          "loss_idt_b", "loss_d_a", "loss_d_b"}


def tiny_cfg(max_iter=4):
    return CycleGANConfig(image_size=32, load_size=40, gen_channels=4, disc_channels=4,
                          num_blocks=1, pool_size=2, max_iter=max_iter, decay_start=2)


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    root = tmp_path_factory.mktemp("domains")
    rng = np.random.default_rng(0)
    paths = {"a": [], "b": []}
    for name in paths:
        for k in range(2):
            path = str(root / f"{name}{k}.png")
            cv2.imwrite(path, rng.integers(0, 255, (36, 40, 3), dtype=np.uint8))
            paths[name].append(path)
    return paths["a"], paths["b"]


def _trainer(domains, out, **kwargs):
    args = dict(num_workers=0, log_period=1, sample_period=2, checkpoint_period=2)
    return CycleGANTrainer(tiny_cfg(), *domains, str(out), **{**args, **kwargs})


class _Kill(HookBase):
    """Stops the training after step ``at`` (counted from 0), as a killed process would."""

    def __init__(self, at):
        self.at = at

    def after_step(self):
        if self.trainer.iter == self.at:
            raise KeyboardInterrupt


def _metrics(out):
    return [json.loads(line) for line in open(os.path.join(out, "metrics.json"))]


def test_kill_and_resume_continues_from_the_last_checkpoint(domains, tmp_path):
    first = _trainer(domains, tmp_path)
    first.register_hooks([_Kill(at=2)])
    first.resume_or_load(resume=True)  # nothing to resume yet: from step 0
    with pytest.raises(KeyboardInterrupt):
        first.train()
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"
    assert not (tmp_path / "model_final.pth").exists()
    records = _metrics(tmp_path)
    assert [r["iteration"] for r in records] == [0, 1, 2]
    assert LOSSES | {"total_loss", "lr", "data_time"} <= set(records[0])
    assert all(np.isfinite(r[k]) for r in records for k in LOSSES)

    resumed = _trainer(domains, tmp_path)
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 2  # step 2 was lost with the process: done again
    saved = torch.load(tmp_path / "model_0000001.pth", weights_only=True)
    assert torch.equal(resumed.model.g_ab.state_dict()["net.1.weight"],
                       saved["model"]["g_ab.net.1.weight"])
    assert resumed.optimizer_g.state_dict()["state"]  # Adam's moments came back too
    assert len(resumed.pool_a.images) == 2 and resumed.scheduler_g.last_epoch == 2
    resumed.train()
    assert [r["iteration"] for r in _metrics(tmp_path)] == [0, 1, 2, 2, 3]
    final = torch.load(tmp_path / "model_final.pth", weights_only=True)
    assert final["iteration"] == 3 and final["trainer"]["iteration"] == 3
    assert final["config"] == tiny_cfg().as_dict()
    assert sorted(os.listdir(tmp_path / "samples")) == ["iter_0000002.jpg", "iter_0000004.jpg"]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path))
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]

    generator, cfg = load_renderer(str(tmp_path / "model_final.pth"))
    assert cfg == tiny_cfg()
    assert torch.equal(generator.state_dict()["net.1.weight"], final["model"]["g_ab.net.1.weight"])


def test_period_zero_saves_only_at_the_end(domains, tmp_path):
    final = train_cyclegan(tiny_cfg(max_iter=2), *domains, str(tmp_path), num_workers=0,
                           log_period=0, sample_period=0, checkpoint_period=0)
    assert final == str(tmp_path / "model_final.pth")
    assert not [n for n in os.listdir(tmp_path) if n.startswith("model_0")]
    assert [r["iteration"] for r in _metrics(tmp_path)] == [1]
    assert os.listdir(tmp_path / "samples") == ["iter_0000002.jpg"]


def test_resume_refuses_a_run_of_the_old_trainer(domains, tmp_path):
    old = tmp_path / "last_checkpoint.pth"
    torch.save({"format": "dpsnet_d2.render.cyclegan/1", "config": tiny_cfg().as_dict(),
                "model": {}, "solver": None}, old)
    with pytest.raises(RenderCheckpointError, match="last_checkpoint.pth: .*cannot be resumed"):
        _trainer(domains, tmp_path).resume_or_load(resume=True)
