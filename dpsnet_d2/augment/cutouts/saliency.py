"""
Background removal, fine stage: a small saliency network (encoder-decoder), trained from scratch
on the confident coarse masks, refines every mask. See docs/method.md §2.

Shapes: N crops; S x S the network's input side (default 128); an input is 4 x S x S float32 (RGB
scaled to [-1, 1], then a box prior: 1 inside the box, 0 in the margin around it); a target or
output is 1 x S x S (logits, or 0/1 targets).

The crop is the box plus a margin (:func:`.background_removal.crop_window`), resized to S x S
without keeping the aspect ratio (the network sees every product at the same size, and the box
prior tells it where the box ends). The published network was pre-trained on a saliency dataset
that cannot be downloaded here; trained on the coarse masks alone, it learns what products look
like from the confident ones and so corrects the others, whose outlines the edge-based stage
could not close.
"""
import logging
from typing import List, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .background_removal import box_mask, crop_window, keep_object

__all__ = [
    "SaliencyNet",
    "crop_inputs",
    "refine_masks",
    "saliency_loss",
    "train_saliency",
    "predict_saliency",
]

logger = logging.getLogger(__name__)


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SaliencyNet(nn.Module):
    """
    A small U-Net-like encoder-decoder, sized for CPUs: a stride-2 stem (the network works at
    S/2), then ``len(widths)`` levels (max-pool down, bilinear up, skip connections), logits at
    S/2 upsampled to S. (N, 4, S, S) -> (N, 1, S, S); S divisible by 2 ** len(widths).
    About 0.1 GFLOP per 128 x 128 crop.
    """

    def __init__(self, in_channels: int = 4, widths: Sequence[int] = (16, 24, 32, 48)):
        super().__init__()
        self.stem = _conv(in_channels, widths[0], stride=2)
        self.down = nn.ModuleList(
            _conv(widths[max(0, i - 1)], w) if i == 0 else nn.Sequential(
                _conv(widths[i - 1], w), _conv(w, w))
            for i, w in enumerate(widths)
        )  # fmt: skip
        self.up = nn.ModuleList(
            _conv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1))
        )
        self.predictor = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = self.stem(x)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return F.interpolate(self.predictor(x), size=size, mode="bilinear", align_corners=False)


def crop_inputs(
    image: np.ndarray, box: Sequence[float], size: int, margin: float, mask: np.ndarray = None
) -> Tuple[np.ndarray, np.ndarray, Tuple[int, int, int, int]]:
    """
    The network input of one image.

    Args:
        image: H x W x 3 uint8 BGR; box: [x, y, w, h]; size: S; margin: as in ``crop_window``;
        mask: H x W bool (a target), or None.
    Returns:
        input (4 x S x S float32), target (S x S uint8 0/1, zeros when ``mask`` is None) and the
        crop window (x0, y0, x1, y1). The window is empty when the crop is.
    """
    H, W = image.shape[:2]
    x0, y0, x1, y1 = window = crop_window(box, margin, H, W)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((4, size, size), np.float32), np.zeros((size, size), np.uint8), window
    rgb = cv2.resize(image[y0:y1, x0:x1, ::-1], (size, size), interpolation=cv2.INTER_AREA)
    prior = box_mask(box, H, W)[y0:y1, x0:x1].astype(np.float32)
    prior = cv2.resize(prior, (size, size), interpolation=cv2.INTER_LINEAR)
    x = np.concatenate([rgb.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0, prior[None]], 0)
    target = np.zeros((size, size), np.uint8)
    if mask is not None:
        m = mask[y0:y1, x0:x1].astype(np.uint8)
        target = cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST)
    return x, target, window


def saliency_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice. logits, target: (N, 1, S, S). Returns a scalar."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return bce + dice.mean()


def _augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator):
    """Random flips, quarter turns and colour gain per batch. x: (N, 4, S, S); y: (N, 1, S, S)."""
    if torch.rand(1, generator=gen).item() < 0.5:
        x, y = x.flip(-1), y.flip(-1)
    if torch.rand(1, generator=gen).item() < 0.5:
        x, y = x.flip(-2), y.flip(-2)
    k = int(torch.randint(4, (1,), generator=gen).item())
    x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
    gain = 1 + 0.2 * (torch.rand(x.shape[0], 3, 1, 1, generator=gen) - 0.5)
    x = torch.cat([((x[:, :3] + 1) * gain.to(x) - 1).clamp(-1, 1), x[:, 3:]], 1)
    return x, y


def train_saliency(
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 3e-3,
    device: str = "cpu",
    seed: int = 0,
    progress=None,
) -> Tuple[SaliencyNet, List[float]]:
    """
    Train a :class:`SaliencyNet` from scratch (Adam, cosine learning rate).

    Args:
        inputs: N x 4 x S x S float32 (:func:`crop_inputs`); targets: N x S x S uint8 0/1.
        steps, batch_size, lr: the schedule; device: "cpu" or "cuda"; seed: initialisation,
            batches and augmentation.
        progress: optional callable(step, loss) called after every step.
    Returns:
        the model (eval mode) and the loss of every step.
    """
    if len(inputs) == 0:
        raise ValueError("no training crops for the saliency network (no confident coarse mask)")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = SaliencyNet().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    x_all = torch.from_numpy(np.ascontiguousarray(inputs))
    y_all = torch.from_numpy(np.ascontiguousarray(targets)).float()[:, None]
    losses = []
    model.train()
    for step in range(steps):
        idx = torch.randint(len(x_all), (min(batch_size, len(x_all)),), generator=gen)
        x, y = _augment(x_all[idx], y_all[idx], gen)
        loss = saliency_loss(model(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step, losses[-1])
    return model.eval(), losses


@torch.no_grad()
def predict_saliency(
    model: SaliencyNet, inputs: np.ndarray, device: str = "cpu", batch_size: int = 32
) -> np.ndarray:
    """Probabilities, averaged with the horizontally flipped input.
    inputs: N x 4 x S x S float32. Returns N x S x S float32 in [0, 1]."""
    model.eval()
    out = []
    for i in range(0, len(inputs), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(inputs[i : i + batch_size])).to(device)
        p = torch.sigmoid(model(x)) + torch.sigmoid(model(x.flip(-1))).flip(-1)
        out.append((p[:, 0] / 2).cpu().numpy())
    return np.concatenate(out, 0) if out else np.zeros((0,) + inputs.shape[2:], np.float32)


def refine_masks(
    prob: np.ndarray,
    window: Sequence[int],
    box: Sequence[float],
    height: int,
    width: int,
    *,
    threshold: float = 0.5,
    keep_fraction: float = 0.2,
    median_size: int = 5,
) -> np.ndarray:
    """
    The final mask of one image from the network's output: scaled back to the crop window,
    thresholded, cleaned (object components, holes filled, outline smoothed) and cut to the box.

    Args:
        prob: S x S float32; window: (x0, y0, x1, y1); box: [x, y, w, h]; height, width: H, W.
    Returns:
        H x W bool.
    """
    out = np.zeros((height, width), bool)
    x0, y0, x1, y1 = window
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    # clean at the network's resolution (cheap at any image size), then scale up smoothly
    m = keep_object(prob >= threshold, keep_fraction, median_size).astype(np.float32)
    m = np.where(m > 0, np.maximum(prob, threshold), np.minimum(prob, threshold - 1e-3))
    m = cv2.resize(m.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out[y0:y1, x0:x1] = m >= threshold
    return out & box_mask(box, height, width)
