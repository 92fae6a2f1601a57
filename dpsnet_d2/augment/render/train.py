"""
Training loop of the renderer's CycleGAN (unpaired: domain A = synthesized scenes, B = target
images), with checkpoints, resume, a progress bar and a sample grid every ``sample_period``
steps.

Output folder::

    last_checkpoint.pth    settings, weights, optimiser state (written every checkpoint_period)
    model_final.pth        the same at the end (what ``render`` reads)
    metrics.json           one JSON line per logged step: iteration, losses, lr, seconds/step
    samples/iter_NNNNNNN.jpg   rows: synthesized | rendered (A -> B) | cycled back (A -> B -> A)
"""
import json
import logging
import os
import time
from typing import List

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from dpsnet_d2.utils import atomic_write_bytes
from dpsnet_d2.utils.images import encode

from .checkpoint import load_checkpoint, save_checkpoint
from .domains import CropDataset, read_rgb
from .model import CycleGAN, CycleGANConfig, CycleGANSolver
from .render import translate_batch

__all__ = ["train_cyclegan", "LAST_CHECKPOINT", "FINAL_CHECKPOINT"]

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last_checkpoint.pth"
FINAL_CHECKPOINT = "model_final.pth"


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


def _sample_grid(model: CycleGAN, samples: List[np.ndarray], size: int, device) -> np.ndarray:
    """Rows: synthesized, rendered, cycled back; one column per sample image (uint8 RGB)."""
    rendered = translate_batch(model.g_ab, samples, size, device)
    cycled = translate_batch(model.g_ba, rendered, size, device)
    rows = [np.concatenate(row, axis=1) for row in (samples, rendered, cycled)]
    return np.concatenate(rows, axis=0)


def train_cyclegan(
    cfg: CycleGANConfig,
    paths_a: List[str],
    paths_b: List[str],
    out_dir: str,
    *,
    resume: bool = False,
    device: str = "cpu",
    num_workers: int = 2,
    checkpoint_period: int = 500,
    sample_period: int = 100,
    log_period: int = 20,
    progress: bool = True,
) -> str:
    """
    Train (or continue training) a CycleGAN and return the path of ``model_final.pth``.

    Args:
        cfg: settings; with ``resume`` its architecture must match the checkpoint's, the rest
            (e.g. a longer ``max_iter``) is taken from ``cfg``.
        paths_a, paths_b: image files of domain A (synthesized) and B (target).
        out_dir: output folder (see the module docstring).
        resume: continue from ``out_dir/last_checkpoint.pth`` when it exists.
        device: "cpu" or "cuda[:k]".
        num_workers: data-loader processes per domain.
        checkpoint_period, sample_period, log_period: in steps (0 = only at the end).
    """
    os.makedirs(out_dir, exist_ok=True)
    model = CycleGAN(cfg)
    solver_state = None
    last = os.path.join(out_dir, LAST_CHECKPOINT)
    if resume and os.path.isfile(last):
        loaded, solver_state = load_checkpoint(last, expect=cfg)
        model.load_state_dict(loaded.state_dict())
        logger.info(f"Resuming from {last}")
    model.to(device)
    solver = CycleGANSolver(model)
    if solver_state is not None:
        solver.load_state_dict(solver_state)
    start = solver.iter
    torch.manual_seed(cfg.seed + start)
    data_a = _forever(
        CropDataset(paths_a, load_size=cfg.load_size, crop=cfg.image_size),
        cfg,
        num_workers,
        cfg.seed + start,
    )
    data_b = _forever(
        CropDataset(paths_b, load_size=cfg.load_size, crop=cfg.image_size),
        cfg,
        num_workers,
        cfg.seed + start + 1,
    )
    step = max(1, len(paths_a) // 4)
    samples = [read_rgb(p) for p in paths_a[::step][:4]]
    samples = [np.ascontiguousarray(s) for s in samples]

    def periodic(period, it):
        return period > 0 and it % period == 0

    metrics_file = os.path.join(out_dir, "metrics.json")
    bar = tqdm(
        range(start, cfg.max_iter),
        initial=start,
        total=cfg.max_iter,
        desc="train-render",
        disable=not progress,
        dynamic_ncols=True,
    )
    tick, last_logged = time.perf_counter(), start
    for it in bar:
        real_a = next(data_a).to(device, non_blocking=True)
        real_b = next(data_b).to(device, non_blocking=True)
        losses = solver.step(real_a, real_b)
        done = it + 1
        if not all(np.isfinite(v) for v in losses.values()):
            raise FloatingPointError(f"non-finite loss at iteration {done}: {losses}")
        if periodic(log_period, done) or done == cfg.max_iter:
            now = time.perf_counter()
            record = {
                "iteration": done,
                **losses,
                "seconds_per_step": (now - tick) / (done - last_logged),
            }
            tick, last_logged = now, done
            with open(metrics_file, "a") as f:
                f.write(json.dumps(record) + "\n")
            bar.set_postfix({k[5:]: f"{v:.3f}" for k, v in losses.items() if k.startswith("loss_")})
        if periodic(sample_period, done) or done == cfg.max_iter:
            grid = _sample_grid(model, samples, cfg.load_size, device)
            atomic_write_bytes(
                os.path.join(out_dir, "samples", f"iter_{done:07d}.jpg"), encode(grid, ".jpg")
            )
        if periodic(checkpoint_period, done) and done != cfg.max_iter:
            save_checkpoint(last, model, solver)
    save_checkpoint(last, model, solver)
    final = os.path.join(out_dir, FINAL_CHECKPOINT)
    save_checkpoint(final, model)
    return final
