"""bf16 autocast training on the CPU (SOLVER.AMP.ENABLED with MODEL.DEVICE cpu)."""
import pytest
import torch
from detectron2.engine import SimpleTrainer

from dpsnet_d2 import DPSNetTrainer
from dpsnet_d2.engine.cpu_autocast import CPUAutocastTrainer, cpu_has_bf16, use_cpu_autocast


def test_amp_off_or_on_gpu_is_not_cpu_autocast(tiny_dpsnet_cfg):
    assert not use_cpu_autocast(tiny_dpsnet_cfg())
    assert not use_cpu_autocast(tiny_dpsnet_cfg("SOLVER.AMP.ENABLED", "True",
                                                "MODEL.DEVICE", "cuda"))


def test_cpu_amp_trains_in_bf16_where_the_cpu_has_bf16_units(tiny_dpsnet_cfg):
    cfg = tiny_dpsnet_cfg("SOLVER.AMP.ENABLED", "True", "SOLVER.MAX_ITER", "2")
    trainer = DPSNetTrainer(cfg)
    if not cpu_has_bf16():
        assert type(trainer._trainer) is SimpleTrainer  # float32, with a warning
        pytest.skip("this CPU has no bf16 units")
    assert isinstance(trainer._trainer, CPUAutocastTrainer)
    seen = []
    conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    trainer.train()
    assert seen and seen[0] == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert trainer.storage.history("total_loss").latest() > 0


def test_cpu_amp_without_bf16_units_trains_in_float32(tiny_dpsnet_cfg, monkeypatch):
    # Detectron2's AMPTrainer (CUDA only) must not be left in place on such a CPU
    monkeypatch.setattr("dpsnet_d2.engine.cpu_autocast.cpu_has_bf16", lambda: False)
    cfg = tiny_dpsnet_cfg("SOLVER.AMP.ENABLED", "True", "SOLVER.MAX_ITER", "1")
    trainer = DPSNetTrainer(cfg)
    assert type(trainer._trainer) is SimpleTrainer
    trainer.train()
    assert trainer.storage.history("total_loss").latest() > 0
