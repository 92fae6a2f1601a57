"""
Rendering: the trained A -> B generator applied to synthesized images, and to a whole offline
set in RPC / COCO format (new images, the json copied with its boxes unchanged).

Shapes: N images; H x W the original size, h x w the size the generator sees (longer side =
the training ``load_size``, padded by reflection to multiples of 4).

Each image is resized to the scale the CycleGAN was trained at, translated, and resized back
to its original size, so every box, point and level of the json stays valid as is.
"""
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from dpsnet_d2.utils.file_io import atomic_output_dir
from dpsnet_d2.utils.image_checks import image_problem
from dpsnet_d2.utils.images import encode
from dpsnet_d2.utils.paths import path_inside

from .checkpoint import load_renderer
from .domains import (
    DomainError,
    default_image_root,
    read_rgb,
    resize_long_side,
    scaled_hw,
    to_tensor,
)

__all__ = ["translate_batch", "render_offline_set"]

logger = logging.getLogger(__name__)


def _prepare(img: np.ndarray, size: int) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x h x w in [-1, 1] (resized, reflect-padded to multiples of 4)."""
    x = to_tensor(resize_long_side(img, size))
    h, w = x.shape[1:]
    return F.pad(x[None], (0, -w % 4, 0, -h % 4), mode="reflect")[0] if (h % 4 or w % 4) else x


def _restore(y: torch.Tensor, scaled_hw, out_hw) -> np.ndarray:
    """3 x h x w in [-1, 1] -> H x W x 3 uint8: crop the padding, resize to the original size."""
    h, w = scaled_hw
    img = ((y[:, :h, :w].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    H, W = out_hw
    if (h, w) != (H, W):
        img = cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR if H > h else cv2.INTER_AREA)
    return img


@torch.no_grad()
def _run(generator, batch: List[torch.Tensor], device) -> List[torch.Tensor]:
    """Stack same-shape inputs and translate them together; returns one tensor per input."""
    out: List[Optional[torch.Tensor]] = [None] * len(batch)
    groups: Dict[tuple, List[int]] = {}
    for i, x in enumerate(batch):
        groups.setdefault(tuple(x.shape), []).append(i)
    for idx in groups.values():
        y = generator(torch.stack([batch[i] for i in idx]).to(device)).float().cpu()
        for k, i in enumerate(idx):
            out[i] = y[k]
    return out


def translate_batch(
    generator, images: List[np.ndarray], size: int, device="cpu"
) -> List[np.ndarray]:
    """
    Translate H x W x 3 uint8 RGB images with ``generator`` at longer side ``size``; returns
    uint8 RGB images of the input sizes. The generator's train/eval mode is restored after.
    """
    was_training = generator.training
    generator.eval()
    try:
        ys = _run(generator, [_prepare(img, size) for img in images], device)
        return [
            _restore(y, scaled_hw(*img.shape[:2], size), img.shape[:2])
            for y, img in zip(ys, images)
        ]
    finally:
        generator.train(was_training)


class _SetImages(Dataset):
    """Item i: (i, 3 x h x w input, (h, w), (H, W)) of the set's i-th image (decoded in workers)."""

    def __init__(self, paths: List[str], size: int):
        self.paths, self.size = paths, size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        img = read_rgb(self.paths[i])
        H, W = img.shape[:2]
        return i, _prepare(img, self.size), scaled_hw(H, W, self.size), (H, W)


def _collate(items):
    """[(i, x, hw, HW), ...] -> (indices, inputs, hws, HWs) tuples (inputs may differ in shape)."""
    return tuple(zip(*items))


def _read_set(json_file: str, image_root: str):
    """The full json (copied to the output) and the absolute image paths; checked first."""
    try:
        with open(json_file) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise DomainError(f"{json_file}: cannot read ({e})") from e
    images = data.get("images") if isinstance(data, dict) else None
    if not images:
        raise DomainError(f"{json_file}: no images listed")
    paths = []
    for k, record in enumerate(images):
        name = record.get("file_name") if isinstance(record, dict) else None
        if not isinstance(name, str):
            raise DomainError(
                f"{json_file}: image record {json.dumps(record)[:120]} has no file_name"
            )
        # the rendered image is written under the same relative name: it must stay inside
        path = path_inside(image_root, name, f"{json_file}: images[{k}]")
        problem = image_problem(path)
        if problem is not None:
            raise DomainError(f"{json_file}: images[{k}]: image {path} {problem}")
        paths.append(path)
    return data, paths


def render_offline_set(
    checkpoint: str,
    json_file: str,
    out_dir: str,
    *,
    image_root: Optional[str] = None,
    size: Optional[int] = None,
    batch_size: int = 4,
    num_workers: int = 2,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> Dict:
    """
    Render every image of an offline set with the A -> B generator of ``checkpoint``.

    Writes ``out_dir/<json name>`` (the input json with an ``info.render`` note; images,
    annotations and categories unchanged) and ``out_dir/<image folder name>/<file_name>`` (same
    names and formats), all at once at the end (a temporary folder, then a rename).

    Args:
        checkpoint: a ``train-render`` checkpoint (``model_final.pth``).
        json_file: the set's RPC / COCO json; image_root: its image folder (default: the RPC
            layout's ``<split>2019/`` beside it, else the json's folder).
        size: longer side the generator runs at (default: the checkpoint's ``load_size``).
        batch_size: images per forward pass; num_workers: decoding processes and writer threads.
        overwrite: replace an existing ``out_dir``.
    Returns:
        {"images", "seconds", "images_per_second", "json", "image_folder"}.
    Raises:
        RenderCheckpointError, DomainError, FileExistsError: before any work is done.
    """
    generator, cfg = load_renderer(checkpoint, device)
    size = size or cfg.load_size
    image_root = os.path.abspath(image_root or default_image_root(json_file))
    data, paths = _read_set(json_file, image_root)
    if os.path.lexists(out_dir) and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass --overwrite to replace it")
    folder_name = os.path.basename(image_root.rstrip(os.sep))
    loader = DataLoader(
        _SetImages(paths, size), batch_size=batch_size, num_workers=num_workers, collate_fn=_collate
    )
    start = time.perf_counter()
    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp, ThreadPoolExecutor(
        max(1, num_workers)
    ) as writers:
        pending = []

        def write(i, y, hw, HW):
            rel = os.path.relpath(paths[i], image_root)
            target = path_inside(os.path.join(tmp, folder_name), rel, f"{json_file}: images[{i}]")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            ext = os.path.splitext(target)[1].lower()
            with open(target, "wb") as f:
                f.write(
                    encode(_restore(y, hw, HW), ".png" if ext == ".png" else ".jpg", quality=95)
                )

        with tqdm(total=len(paths), desc="render", disable=not progress, dynamic_ncols=True) as bar:
            for idx, xs, hws, HWs in loader:
                ys = _run(generator, list(xs), device)
                pending += [writers.submit(write, *args) for args in zip(idx, ys, hws, HWs)]
                bar.update(len(xs))
        for future in pending:
            future.result()
        info = dict(data.get("info") or {})
        info["render"] = {
            "checkpoint": os.path.abspath(checkpoint),
            "size": size,
            "source": os.path.abspath(json_file),
        }
        out = {**data, "info": info}
        with open(os.path.join(tmp, os.path.basename(json_file)), "w") as f:
            json.dump(out, f, separators=(",", ":"))
    seconds = time.perf_counter() - start
    return {
        "images": len(paths),
        "seconds": seconds,
        "images_per_second": len(paths) / seconds,
        "json": os.path.join(out_dir, os.path.basename(json_file)),
        "image_folder": os.path.join(out_dir, folder_name),
    }
