"""
Training of the renderer's CycleGAN (unpaired: domain A = synthesized scenes, B = target
images) on Detectron2's :class:`TrainerBase`, its hooks, checkpointer and event writers.

:class:`CycleGANTrainer` holds the CycleGAN, an Adam optimiser and a learning-rate schedule for
each pair of networks (generators, discriminators) and the two image pools. ``run_step`` is one
CycleGAN step: the generators' update, then the discriminators'; the eight ``loss_*`` terms go
to the EventStorage (with ``total_loss`` and ``data_time``, as Detectron2's ``SimpleTrainer``
writes them), the learning rate as ``lr``. Hooks: ``IterationTimer``, :class:`SampleGrid`,
``PeriodicCheckpointer`` (a :class:`RenderCheckpointer`: atomic files) and ``PeriodicWriter``
with Detectron2's default writers. ``resume_or_load(resume=True)`` is ``DefaultTrainer``'s:
every state from the checkpoint ``last_checkpoint`` names, training goes on at the next step.

Output folder::

    model_NNNNNNN.pth      every checkpoint_period steps, after step NNNNNNN (counted from 0);
                           the newest KEEP_CHECKPOINTS of them are kept
    last_checkpoint        the name of the newest checkpoint (what --resume reads)
    model_final.pth        the checkpoint after the last step (what ``render`` reads)
    metrics.json           Detectron2's JSONWriter: a line per log_period steps ("iteration"
                           counted from 0, loss_*, total_loss, lr, time, data_time; the losses
                           are medians over the last 20 steps)
    events.out.tfevents.*  the same for TensorBoard, with the sample grids
    samples/iter_NNNNNNN.jpg   after NNNNNNN steps; rows: synthesized | rendered (A -> B) |
                               cycled back (A -> B -> A)
"""
import logging
import os
import time
import weakref
from typing import List

import numpy as np
import torch
from detectron2.engine import SimpleTrainer, TrainerBase, hooks
from detectron2.engine.defaults import default_writers
from detectron2.utils.logger import setup_logger
from torch.utils.data import DataLoader

from dpsnet_d2.utils import atomic_write_bytes
from dpsnet_d2.utils.images import encode

from .checkpoint import RenderCheckpointer
from .domains import CropDataset, read_rgb
from .image_pool import ImagePool
from .model import CycleGAN, CycleGANConfig, lr_factor
from .render import translate_batch

__all__ = [
    "CycleGANTrainer", "SampleGrid", "train_cyclegan", "FINAL_CHECKPOINT", "LAST_CHECKPOINT",
]  # fmt: skip

FINAL_CHECKPOINT = "model_final.pth"
# Detectron2's tag file naming the newest checkpoint.
LAST_CHECKPOINT = "last_checkpoint"
# The newest checkpoint of the hand-written loop this trainer replaced (refused by --resume).
LEGACY_LAST_CHECKPOINT = "last_checkpoint.pth"
# Periodic checkpoints kept on disk (model_final.pth is never deleted).
KEEP_CHECKPOINTS = 2


def _forever(dataset, cfg: CycleGANConfig, num_workers: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True, generator=generator,
        num_workers=num_workers, persistent_workers=num_workers > 0,
    )  # fmt: skip
    if len(loader) == 0:  # drop_last with fewer images than a batch: no step would ever come
        raise ValueError(f"batch size {cfg.batch_size} is larger than the domain's "
                         f"{len(dataset)} images")
    while True:
        yield from loader


def sample_grid(model: CycleGAN, samples: List[np.ndarray], size: int, device) -> np.ndarray:
    """Rows: synthesized, rendered, cycled back; one column per sample image (uint8 RGB)."""
    rendered = translate_batch(model.g_ab, samples, size, device)
    cycled = translate_batch(model.g_ba, rendered, size, device)
    rows = [np.concatenate(row, axis=1) for row in (samples, rendered, cycled)]
    return np.concatenate(rows, axis=0)


class SampleGrid(hooks.HookBase):
    """
    Every ``period`` steps and after the last one: :func:`sample_grid` of the trainer's model
    on ``samples`` (H x W x 3 uint8 RGB images of domain A) written to
    ``out_dir/samples/iter_NNNNNNN.jpg`` (NNNNNNN = steps done) and put into the EventStorage
    as the image ``render_samples`` (TensorBoard shows it).
    """

    def __init__(self, samples: List[np.ndarray], size: int, out_dir: str, period: int):
        self.samples, self.size, self.out_dir, self.period = samples, size, out_dir, period

    def after_step(self):
        done = self.trainer.iter + 1
        if done % self.period and done != self.trainer.max_iter:
            return
        grid = sample_grid(self.trainer.model, self.samples, self.size, self.trainer.device)
        path = os.path.join(self.out_dir, "samples", f"iter_{done:07d}.jpg")
        atomic_write_bytes(path, encode(grid, ".jpg"))
        self.trainer.storage.put_image("render_samples", grid.transpose(2, 0, 1))


class CycleGANTrainer(TrainerBase):
    """
    The CycleGAN's trainer (see the module docstring). Use as Detectron2's ``DefaultTrainer``::

        trainer = CycleGANTrainer(cfg, paths_a, paths_b, out_dir)
        trainer.resume_or_load(resume=args.resume)
        trainer.train()
    """

    def __init__(
        self,
        cfg: CycleGANConfig,
        paths_a: List[str],
        paths_b: List[str],
        out_dir: str,
        *,
        device: str = "cpu",
        num_workers: int = 2,
        checkpoint_period: int = 500,
        sample_period: int = 100,
        log_period: int = 20,
    ):
        """
        Args:
            cfg: settings; when resuming, its architecture must match the checkpoint's, the
                rest (e.g. a longer ``max_iter``) is taken from ``cfg``.
            paths_a, paths_b: image files of domain A (synthesized) and B (target).
            out_dir: output folder (see the module docstring).
            device: "cpu" or "cuda[:k]".
            num_workers: data-loader processes per domain.
            checkpoint_period, sample_period, log_period: in steps (0: only after the last).
        """
        super().__init__()
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
            setup_logger()  # as DefaultTrainer: the metric printer logs to "detectron2"
        self.cfg, self.device, self.num_workers = cfg, device, num_workers
        self.model = CycleGAN(cfg).to(device)
        self.model.train()
        m, betas = self.model, (cfg.beta1, 0.999)
        gen_params = list(m.g_ab.parameters()) + list(m.g_ba.parameters())
        disc_params = list(m.d_a.parameters()) + list(m.d_b.parameters())
        self.optimizer_g = torch.optim.Adam(gen_params, lr=cfg.lr, betas=betas)
        self.optimizer_d = torch.optim.Adam(disc_params, lr=cfg.lr, betas=betas)
        schedule = lambda step: lr_factor(cfg, step)  # noqa: E731 (LambdaLR skips saving it)
        self.scheduler_g = torch.optim.lr_scheduler.LambdaLR(self.optimizer_g, schedule)
        self.scheduler_d = torch.optim.lr_scheduler.LambdaLR(self.optimizer_d, schedule)
        self.pool_a = ImagePool(cfg.pool_size, seed=cfg.seed)
        self.pool_b = ImagePool(cfg.pool_size, seed=cfg.seed + 1)
        crops = dict(load_size=cfg.load_size, crop=cfg.image_size)
        self.datasets = (CropDataset(paths_a, **crops), CropDataset(paths_b, **crops))
        self.out_dir = out_dir
        self.checkpointer = RenderCheckpointer(
            self.model, out_dir,
            optimizer_g=self.optimizer_g, optimizer_d=self.optimizer_d,
            scheduler_g=self.scheduler_g, scheduler_d=self.scheduler_d,
            pool_a=self.pool_a, pool_b=self.pool_b, trainer=weakref.proxy(self),
        )  # fmt: skip
        self.start_iter, self.max_iter = 0, cfg.max_iter
        step = max(1, len(paths_a) // 4)
        samples = [np.ascontiguousarray(read_rgb(p)) for p in paths_a[::step][:4]]
        self.register_hooks(self.build_hooks(samples, checkpoint_period, sample_period,
                                             log_period))

    def build_hooks(self, samples, checkpoint_period, sample_period, log_period):
        """IterationTimer, SampleGrid, PeriodicCheckpointer, then the writers (last, so that
        they see what the other hooks stored)."""
        never = self.max_iter + 1  # a period of 0: only after the last step
        return [
            hooks.IterationTimer(),
            SampleGrid(samples, self.cfg.load_size, self.out_dir, sample_period or never),
            hooks.PeriodicCheckpointer(
                self.checkpointer, checkpoint_period or never, max_to_keep=KEEP_CHECKPOINTS
            ),
            hooks.PeriodicWriter(
                default_writers(self.out_dir, self.max_iter), period=log_period or never
            ),
        ]

    def resume_or_load(self, resume: bool = True) -> None:
        """
        With ``resume`` and a checkpoint in the output folder: load every state from it and
        start after its step; else start from step 0 with fresh weights.

        Raises:
            RenderCheckpointError: the checkpoint is foreign or of another architecture, or the
                folder holds a run of the earlier hand-written trainer.
        """
        legacy = os.path.join(self.out_dir, LEGACY_LAST_CHECKPOINT)
        if resume and not self.checkpointer.has_checkpoint() and os.path.isfile(legacy):
            self.checkpointer.load(legacy)  # refuses the old format in one line
        self.checkpointer.resume_or_load("", resume=resume)
        if resume and self.checkpointer.has_checkpoint():
            self.start_iter = self.iter + 1

    def train(self):
        """Run steps ``start_iter`` to ``max_iter - 1``; crops and shuffling are seeded by
        ``cfg.seed + start_iter``."""
        seed = self.cfg.seed + self.start_iter
        torch.manual_seed(seed)
        self._data_a = _forever(self.datasets[0], self.cfg, self.num_workers, seed)
        self._data_b = _forever(self.datasets[1], self.cfg, self.num_workers, seed + 1)
        super().train(self.start_iter, self.max_iter)

    def run_step(self):
        """One CycleGAN step on a batch of each domain (N x 3 x H x W in [-1, 1])."""
        start = time.perf_counter()
        real_a = next(self._data_a).to(self.device, non_blocking=True)
        real_b = next(self._data_b).to(self.device, non_blocking=True)
        data_time = time.perf_counter() - start

        g_losses, fake_a, fake_b = self.model.generator_losses(real_a, real_b)
        self.optimizer_g.zero_grad(set_to_none=True)
        sum(g_losses.values()).backward()
        self.optimizer_g.step()

        pooled_a, pooled_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
        d_losses = self.model.discriminator_losses(real_a, real_b, pooled_a, pooled_b)
        self.optimizer_d.zero_grad(set_to_none=True)
        (d_losses["loss_d_a"] + d_losses["loss_d_b"]).backward()
        self.optimizer_d.step()

        self.storage.put_scalar("lr", self.optimizer_g.param_groups[0]["lr"], smoothing_hint=False)
        self.scheduler_g.step()
        self.scheduler_d.step()
        SimpleTrainer.write_metrics({**g_losses, **d_losses}, data_time)  # raises on NaN / inf


def train_cyclegan(
    cfg: CycleGANConfig,
    paths_a: List[str],
    paths_b: List[str],
    out_dir: str,
    *,
    resume: bool = False,
    **trainer_kwargs,
) -> str:
    """
    Train (or, with ``resume``, continue training) a CycleGAN into ``out_dir`` and return the
    path of its ``model_final.pth``; ``trainer_kwargs`` as :class:`CycleGANTrainer`.
    """
    os.makedirs(out_dir, exist_ok=True)
    trainer = CycleGANTrainer(cfg, paths_a, paths_b, out_dir, **trainer_kwargs)
    trainer.resume_or_load(resume=resume)
    trainer.train()
    return os.path.join(out_dir, FINAL_CHECKPOINT)
