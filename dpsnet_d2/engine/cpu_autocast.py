"""
Mixed precision on the CPU: bfloat16 autocast for the training step, and the till's CPU
inference settings (bf16 autocast, channels-last weights).

Detectron2 0.6's ``AMPTrainer`` is CUDA-only (float16 with a gradient scaler). CPUs with bf16
matrix units (Intel AMX / AVX512-BF16) run convolutions and matrix products in bfloat16 much
faster; bfloat16 keeps float32's exponent range, so no gradient scaling is needed. The trainer
uses it when ``SOLVER.AMP.ENABLED`` is on and ``MODEL.DEVICE`` is "cpu"; on CPUs without bf16
units it warns and trains in float32 (emulated bf16 is slower than float32).
"""
import logging
import time

import torch
from detectron2.engine import SimpleTrainer

__all__ = ["CPUAutocastTrainer", "LAYOUTS", "cpu_has_bf16", "inference_autocast", "till_layout",
           "use_cpu_autocast"]

# Memory layouts of a model's weights for CPU inference (till_layout).
LAYOUTS = ("contiguous", "channels_last")

logger = logging.getLogger(__name__)


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 matrix units (what oneDNN calls bf16 support)."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(probe()) if probe is not None else False


def use_cpu_autocast(cfg) -> bool:
    """True when ``cfg`` asks for AMP on the CPU and this CPU has bf16 units (else a warning)."""
    if not cfg.SOLVER.AMP.ENABLED or not str(cfg.MODEL.DEVICE).startswith("cpu"):
        return False
    if not cpu_has_bf16():
        logger.warning("SOLVER.AMP.ENABLED on a CPU without bf16 units: training in float32")
        return False
    return True


def inference_autocast(bf16: bool):
    """The context a CPU inference runs in: bfloat16 autocast when asked for and the CPU has bf16
    units (else a warning and float32), otherwise a disabled autocast."""
    if bf16 and not cpu_has_bf16():
        logger.warning("bf16 inference asked for on a CPU without bf16 units: float32")
        bf16 = False
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def till_layout(model: torch.nn.Module, layout: str) -> torch.nn.Module:
    """
    Put ``model``'s 4-d weights in ``layout`` (one of :data:`LAYOUTS`), in place; returns it.
    "channels_last" (NHWC) lets oneDNN run the convolutions without reordering: on a 2-core
    Xeon with AMX the R-50 till ran 2x faster in bf16 (BENCHMARKS.md, "Till options"). Inputs
    stay NCHW: the first convolution switches the layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: choose one of {LAYOUTS}")
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    return model.to(memory_format=fmt)


class CPUAutocastTrainer(SimpleTrainer):
    """
    :class:`SimpleTrainer` whose forward pass and losses run under bfloat16 autocast on the CPU;
    backward follows the forward's dtypes, the optimizer updates float32 weights.
    """

    def run_step(self):
        assert self.model.training, "[CPUAutocastTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss_dict = self.model(data)
        loss_dict = {k: v.float() for k, v in loss_dict.items()}
        losses = sum(loss_dict.values())
        self.optimizer.zero_grad()
        losses.backward()
        self._write_metrics(loss_dict, data_time)
        self.optimizer.step()
