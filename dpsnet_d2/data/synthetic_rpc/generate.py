"""
Generating the synthetic RPC: catalogue, images, masks and JSON files, with progress.

What is drawn (:class:`SynthConfig`):

* train: for each of ``num_skus`` SKUs, ``views`` viewpoints (:func:`train_viewpoints`: half
  near-natural, half unnatural with a small visible area) x ``train_per_view`` turntable images,
  named ``sku<id>_view<v>_<r>.jpg`` (JPEG quality 95), plus the mask sidecar;
* val / test: ``num_val`` / ``num_test`` checkout scenes named ``<split>_<index>.jpg`` (JPEG
  quality 85), levels cycling easy, medium, hard (equal thirds, as in RPC);
* counters: ``num_counters`` unlabelled photos of the empty counter (:data:`COUNTER_DIR`,
  ``counter_<index>.jpg``; the checkout splits' counter, clutter, light and camera, no product):
  what a store photographs of its own counter, the backgrounds of checkout scene synthesis;
* checkout images are ``size`` x ``size`` pixels, turntable images too unless ``train_width`` x
  ``train_height`` is given (RPC's 2592 x 1944: rendered at ``train_height`` square and widened
  with the studio's edge pixels); every length scales with the image side. ``size`` 1815 with
  2592 x 1944 turntable images is a stand-in RPC at the real resolution
  (``tools/make_synthetic_rpc.py --rpc-resolution``).

The JSON ``info`` carries :data:`FORMAT_VERSION`; sets written before the counter photos existed
have none (version 1) and are refused by :func:`check_format_version`.

Determinism: image ``i`` of a split draws all its randomness from
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(split code, i)))`` (codes: catalogue 0,
train 1, val 2, test 3) and the catalogue from ``spawn_key=(0,)``, so the files are byte-identical
for the same seed and settings whatever the number of worker processes. OpenCV's JPEG/PNG
encoders are deterministic and the JSON holds no dates.
"""

import json
import logging
import multiprocessing as mp
import os
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from tqdm import tqdm

from ...utils.file_io import atomic_output_dir
from ...utils.images import encode
from ...version import __version__
from ..datasets.rpc_format import RPC_LEVELS, RPC_SPLITS, image_folder, json_name
from ..datasets.synthetic import COUNTER_DIR, MASK_DIR
from .checkout import render_checkout_image, render_empty_counter
from .products import make_catalogue
from .render_product import train_viewpoints
from .turntable import jitter_view, render_train_image
from .writer import build_checkout_json, build_train_json, write_json

__all__ = [
    "SynthConfig",
    "image_rng",
    "render_train",
    "render_checkout",
    "generate_synthetic_rpc",
    "check_format_version",
    "FORMAT_VERSION",
]

logger = logging.getLogger(__name__)

SPLIT_CODES = {"train": 1, "val": 2, "test": 3, "counters": 4}
# Version of the on-disk set, in the JSON info: 2 added the empty-counter photos.
FORMAT_VERSION = 2
TRAIN_JPEG_QUALITY = 95
CHECKOUT_JPEG_QUALITY = 85


@dataclass(frozen=True)
class SynthConfig:
    """Sizes of the synthetic RPC (the CLI flags of ``tools/make_synthetic_rpc.py``)."""

    num_skus: int = 20
    views: int = 12
    train_per_view: int = 1
    num_val: int = 100
    num_test: int = 300
    num_counters: int = 64
    size: int = 512
    seed: int = 0
    train_width: int = 0  # turntable image width; 0: size
    train_height: int = 0  # turntable image height (<= train_width); 0: size

    def __post_init__(self):
        for key in ("num_skus", "views", "train_per_view"):
            if getattr(self, key) < 1:
                raise ValueError(f"SynthConfig.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("num_val", "num_test", "num_counters"):
            if getattr(self, key) < 0:
                raise ValueError(f"SynthConfig.{key} must be >= 0, got {getattr(self, key)}")
        if self.size < 64:
            raise ValueError(f"SynthConfig.size must be >= 64 pixels, got {self.size}")
        if bool(self.train_width) != bool(self.train_height) or (
                self.train_width and not 64 <= self.train_height <= self.train_width):
            raise ValueError(f"SynthConfig.train_size must be W H with 64 <= H <= W, got "
                             f"{self.train_width} {self.train_height}")

    @property
    def train_size(self):
        """(width, height) of the turntable images."""
        return (self.train_width or self.size, self.train_height or self.size)

    def count(self, split: str) -> int:
        """Number of images of ``split``."""
        if split == "train":
            return self.num_skus * self.views * self.train_per_view
        if split == "counters":
            return self.num_counters
        return self.num_val if split == "val" else self.num_test


def image_rng(seed: int, split: str, index: int):
    """The random generator of image ``index`` (0-based) of ``split``."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(SPLIT_CODES[split], index))
    )


def render_train(catalogue, cfg: SynthConfig, index: int):
    """
    Train image ``index``: SKU ``index // (views * train_per_view)``, view ``(index //
    train_per_view) % views``.

    Returns:
        image (H x W x 3 float32 RGB), mask (H x W bool), record (dict ``file_name, width,
        height, sku_id, bbox``); W x H = ``cfg.train_size``.
    """
    sku, rest = divmod(index, cfg.views * cfg.train_per_view)
    view, rep = divmod(rest, cfg.train_per_view)
    rng = image_rng(cfg.seed, "train", index)
    spec = catalogue[sku]
    width, height = cfg.train_size
    image, mask, box = render_train_image(
        spec, jitter_view(train_viewpoints(cfg.views)[view], view, rng), height, rng
    )
    if width > height:  # widen the square studio shot with its edge pixels
        left = (width - height) // 2
        border = (0, 0, left, width - height - left)
        image = cv2.copyMakeBorder(image, *border, cv2.BORDER_REPLICATE)
        mask = cv2.copyMakeBorder(mask.astype(np.uint8), *border, cv2.BORDER_CONSTANT,
                                  value=0).astype(bool)
        box = [box[0] + left, *box[1:]]
    name = f"sku{spec.sku_id:03d}_view{view:02d}_{rep:02d}.jpg"
    record = {
        "file_name": name,
        "width": width,
        "height": height,
        "sku_id": spec.sku_id,
        "bbox": box,
    }
    return image, mask, record


def render_checkout(catalogue, cfg: SynthConfig, split: str, index: int):
    """
    Checkout image ``index`` of ``split`` ("val"/"test"), level ``RPC_LEVELS[index % 3]``.

    Returns:
        image (S x S x 3 float32 RGB), record (dict ``file_name, width, height, level,
        instances``).
    """
    level = RPC_LEVELS[index % len(RPC_LEVELS)]
    image, instances = render_checkout_image(
        catalogue, level, cfg.size, image_rng(cfg.seed, split, index)
    )
    name = f"{split}_{index + 1:06d}.jpg"
    record = {
        "file_name": name,
        "width": cfg.size,
        "height": cfg.size,
        "level": level,
        "instances": instances,
    }
    return image, record


def counter_name(index: int) -> str:
    """File name of empty-counter photo ``index`` (0-based) under :data:`COUNTER_DIR`."""
    return f"counter_{index + 1:06d}.jpg"


def check_format_version(root: str) -> int:
    """
    The format version of the synthetic RPC at ``root`` (from its train JSON's ``info``).

    Raises:
        ValueError: one line naming ``root`` if it is older than :data:`FORMAT_VERSION`.
    """
    path = os.path.join(root, json_name("train"))
    try:
        with open(path) as f:
            version = int(json.load(f).get("info", {}).get("format_version", 1))
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable synthetic RPC train json ({e})") from e
    if version < FORMAT_VERSION:
        raise ValueError(
            f"{root}: synthetic RPC format {version}, this version of dpsnet_d2 needs "
            f"{FORMAT_VERSION} (empty-counter photos in {COUNTER_DIR}/): regenerate it with "
            f"tools/make_synthetic_rpc.py --out {root} --overwrite"
        )
    return version


class _Worker:
    """Renders one (split, index) task and writes its files under ``root``; returns the record."""

    def __init__(self, catalogue, cfg: SynthConfig, root: str):
        self.catalogue, self.cfg, self.root = catalogue, cfg, root

    def __call__(self, task):
        split, index = task
        if split == "counters":
            image = render_empty_counter(self.cfg.size, image_rng(self.cfg.seed, split, index))
            with open(os.path.join(self.root, COUNTER_DIR, counter_name(index)), "wb") as f:
                f.write(encode(image, ".jpg", CHECKOUT_JPEG_QUALITY))
            return None
        if split == "train":
            image, mask, record = render_train(self.catalogue, self.cfg, index)
            stem = os.path.splitext(record["file_name"])[0]
            with open(os.path.join(self.root, MASK_DIR, stem + ".png"), "wb") as f:
                f.write(encode(mask.astype(np.uint8) * 255, ".png"))
            quality = TRAIN_JPEG_QUALITY
        else:
            image, record = render_checkout(self.catalogue, self.cfg, split, index)
            quality = CHECKOUT_JPEG_QUALITY
        with open(os.path.join(self.root, image_folder(split), record["file_name"]), "wb") as f:
            f.write(encode(image, ".jpg", quality))
        return record


_WORKER = None


def _init_worker(worker):
    global _WORKER
    cv2.setNumThreads(1)
    _WORKER = worker


def _run_task(task):
    return _WORKER(task)


def generate_synthetic_rpc(
    out: str, cfg: SynthConfig, *, workers: int = 1, overwrite: bool = False, progress: bool = True
):
    """
    Write the synthetic RPC to ``out`` (layout and schema: :mod:`.writer`), atomically.

    Args:
        out: destination folder; must not exist unless ``overwrite``.
        cfg: sizes and seed.
        workers: processes; <= 1 renders in this process. The files do not depend on it.
        overwrite: replace an existing ``out``.
        progress: show tqdm bars.

    Returns:
        the absolute path of ``out``.
    """
    catalogue = make_catalogue(cfg.num_skus, cfg.seed)
    info = {
        "description": "dpsnet_d2 synthetic RPC",
        "dpsnet_d2_version": __version__,
        "format_version": FORMAT_VERSION,
        **asdict(cfg),
    }
    out = os.path.abspath(out)
    with atomic_output_dir(out, overwrite=overwrite) as root:
        for split in RPC_SPLITS:
            os.makedirs(os.path.join(root, image_folder(split)))
        os.makedirs(os.path.join(root, MASK_DIR))
        os.makedirs(os.path.join(root, COUNTER_DIR))
        worker = _Worker(catalogue, cfg, root)
        # "spawn": forking a process whose OpenCV/OpenMP thread pools are in use can deadlock
        pool = None
        if workers > 1:
            pool = mp.get_context("spawn").Pool(
                workers, initializer=_init_worker, initargs=(worker,)
            )
        try:
            for split in RPC_SPLITS:
                tasks = [(split, i) for i in range(cfg.count(split))]
                results = pool.imap(_run_task, tasks, chunksize=4) if pool else map(worker, tasks)
                records = list(
                    tqdm(
                        results,
                        total=len(tasks),
                        desc=f"synthetic RPC {split}",
                        disable=not progress,
                    )
                )
                build = build_train_json if split == "train" else build_checkout_json
                write_json(os.path.join(root, json_name(split)), build(records, catalogue, info))
            tasks = [("counters", i) for i in range(cfg.count("counters"))]
            results = pool.imap(_run_task, tasks, chunksize=4) if pool else map(worker, tasks)
            for _ in tqdm(results, total=len(tasks), desc="synthetic RPC empty counters",
                          disable=not progress):
                pass
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    counts = ", ".join(f"{s}: {cfg.count(s)}" for s in RPC_SPLITS)
    logger.info("Wrote the synthetic RPC (%s) to %s", counts, out)
    return out
