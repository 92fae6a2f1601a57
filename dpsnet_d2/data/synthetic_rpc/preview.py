"""
A preview grid of the synthetic RPC: turntable train images above checkout test scenes, boxes
drawn, so the domain shift is visible at a glance.

Read from a generated dataset folder when it has the JSON files, else rendered in memory.
"""

import os

import cv2
import numpy as np

from ...utils.file_io import atomic_write_bytes
from ...utils.images import encode
from ...utils.preview_grid import read_samples, titled_section
from ..datasets.rpc_format import image_folder, json_name
from .generate import SynthConfig, render_checkout, render_train
from .products import make_catalogue

__all__ = ["make_preview"]


def _from_disk(root, split, count, spread):
    """Up to ``count`` samples of ``split`` in the RPC-layout folder ``root``."""
    json_file = os.path.join(root, json_name(split))
    return read_samples(json_file, os.path.join(root, image_folder(split)), count, spread)


def _in_memory(cfg: SynthConfig, count):
    """``count`` train and ``count`` test samples rendered without writing."""
    catalogue = make_catalogue(cfg.num_skus, cfg.seed)
    total = cfg.count("train")
    train = []
    for i in np.linspace(0, total - 1, count).round().astype(int):
        image, _, rec = render_train(catalogue, cfg, int(i))
        u8 = np.round(image * 255).astype(np.uint8)
        train.append((u8, [rec["bbox"]], [rec["sku_id"]], os.path.splitext(rec["file_name"])[0]))
    test = []
    for i in range(count):
        image, rec = render_checkout(catalogue, cfg, "test", i)
        u8 = np.round(image * 255).astype(np.uint8)
        ids = [catalogue[d["category_index"]].sku_id for d in rec["instances"]]
        test.append((u8, [d["bbox"] for d in rec["instances"]], ids, rec["level"]))
    return train, test


def make_preview(
    path: str,
    *,
    root: str = None,
    cfg: SynthConfig = None,
    cols: int = 5,
    rows: int = 2,
    thumb: int = 192,
):
    """
    Save a grid of ``rows`` x ``cols`` train images above ``rows`` x ``cols`` test scenes to
    ``path`` (extension picks the format; JPEG quality 85).

    Args:
        root: a generated dataset folder to read from; when it lacks the JSON files (or is None),
            samples are rendered in memory with ``cfg`` (default :class:`SynthConfig`).

    Returns:
        the grid (H x W x 3 uint8 RGB).
    """
    count = cols * rows
    if root is not None and os.path.isfile(os.path.join(root, json_name("train"))):
        train = _from_disk(root, "train", count, spread=True)
        checkout = "test" if os.path.isfile(os.path.join(root, json_name("test"))) else "val"
        test = _from_disk(root, checkout, count, spread=False)
    else:
        train, test = _in_memory(cfg or SynthConfig(), count)
    grid = np.vstack(
        [
            titled_section(
                "TRAIN: one product on a turntable (box from the true mask)", train, cols, thumb
            ),
            titled_section(
                "TEST: checkout scenes, levels easy / medium / hard (visible-extent boxes)",
                test,
                cols,
                thumb,
            ),
        ]
    )
    ext = os.path.splitext(path)[1].lower()
    try:
        data = encode(grid, ".jpg" if ext in (".jpg", ".jpeg") else ext, quality=85)
    except (cv2.error, RuntimeError) as e:
        raise ValueError(f"cannot encode the preview as {ext!r} ({path}); use .jpg or .png") from e
    atomic_write_bytes(path, data)
    return grid

