"""The LR schedule across the distillation stages, and the switchable / mixed loaders."""
import itertools

import pytest
import torch

from dpsnet_d2.engine.distill_trainer import DistillTrainer, MixedBatches, SwitchableLoader


def test_lr_follows_the_source_schedule_then_the_distillation_lr(distill_cfg):
    cfg = distill_cfg
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.SOLVER.BASE_LR)
    scheduler = DistillTrainer.build_lr_scheduler(cfg, optimizer)
    lrs = []
    for _ in range(cfg.SOLVER.MAX_ITER):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] < 0.01 and lrs[3] == pytest.approx(0.01)  # warm-up, then base LR
    assert lrs[7] == pytest.approx(0.001)  # SOLVER.STEPS 6: x 0.1
    assert all(lr == pytest.approx(0.002) for lr in lrs[10:])


def test_switchable_and_mixed_loaders():
    built = []
    loader = SwitchableLoader(lambda: built.append(1) or itertools.repeat(["s"]))
    batches = iter(loader)
    loader.switch(MixedBatches([itertools.repeat(["a", "b"]), itertools.repeat(["t"])]))
    assert next(batches) == ["a", "b", "t"] and not built  # the first loader was never built
    loader.switch(itertools.repeat(["u"]))
    assert next(batches) == ["u"]


def test_synthesized_scenes_plug_in_as_the_source_by_config(tiny_dpsnet_cfg, true_store):
    """Source = whatever DATASETS.TRAIN + INPUT.DATASET_MAPPER_NAME give: synthesized scenes."""
    cfg = tiny_dpsnet_cfg(
        "MODEL.ROI_HEADS.NUM_CLASSES", "10", "DATASETS.TRAIN", "('synth_scenes',)",
        "INPUT.DATASET_MAPPER_NAME", "synthesis", "INPUT.SYNTHESIS.CUTOUT_STORE", true_store.folder,
        "INPUT.SYNTHESIS.REFERENCE_SIZE", "128", "INPUT.SYNTHESIS.EPOCH_SIZE", "6",
    )
    batch = next(iter(DistillTrainer.build_source_loader(cfg, 1)))
    assert len(batch) == 1 and str(batch[0]["image_id"]).startswith("synth_")
    assert batch[0]["density"].sum().item() == pytest.approx(len(batch[0]["instances"]), abs=1e-3)
