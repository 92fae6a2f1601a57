"""Behaviour of the installed detectron2 where the installer's fixes 5-7 matter."""
import pytest
import torch
from torch import nn

import detectron2
from detectron2.checkpoint import Checkpointer
from detectron2.data import build_detection_train_loader
from detectron2.engine import SimpleTrainer, hooks


def test_version_and_projects_import():
    from detectron2.projects import point_rend

    assert detectron2.__version__.startswith("0.6")
    assert hasattr(point_rend, "add_pointrend_config")


def test_export_imports():  # fix 5: caffe2 is optional
    import detectron2.export

    assert hasattr(detectron2.export, "TracingAdapter")


class _Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, batch):
        return {"loss": self.fc(torch.ones(1, 2)).pow(2).sum()}


def _trainer_with_step_lr():
    model = _Regressor()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    trainer = SimpleTrainer(model, iter([None] * 100), optimizer)
    trainer.register_hooks([hooks.LRScheduler(optimizer, scheduler)])
    return trainer, scheduler


def test_step_lr_state_survives_checkpoint(tmp_path):  # fix 6
    trainer, scheduler = _trainer_with_step_lr()
    trainer.train(0, 5)
    assert scheduler.last_epoch == 5
    Checkpointer(trainer.model, str(tmp_path), trainer=trainer).save("ckpt")

    trainer2, scheduler2 = _trainer_with_step_lr()
    Checkpointer(trainer2.model, str(tmp_path), trainer=trainer2).resume_or_load(
        str(tmp_path / "ckpt.pth"), resume=True
    )
    assert scheduler2.last_epoch == 5
    assert scheduler2.get_last_lr() == pytest.approx(scheduler.get_last_lr())
    assert trainer2.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_loader_survives_a_mapper_returning_none():  # fix 7
    dataset = [{"index": i} for i in range(6)]

    def mapper(d):
        return None if d["index"] == 3 else d

    loader = build_detection_train_loader(
        dataset=dataset, mapper=mapper, total_batch_size=2, num_workers=0,
        aspect_ratio_grouping=False,
    )
    seen = set()
    for i, batch in enumerate(loader):
        seen.update(d["index"] for d in batch)
        if i == 20:
            break
    assert 3 not in seen and seen <= {0, 1, 2, 4, 5} and len(seen) >= 3
