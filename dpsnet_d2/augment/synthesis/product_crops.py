"""
Product crops: one cut-out of the store pasted on a window of an empty-counter photo, labelled
with its SKU, for in-domain backbone pre-training (docs/method.md, "in-domain backbone
pre-training"; :mod:`dpsnet_d2.engine.backbone_pretrain` trains on them).

The crops are the classification counterpart of the synthesized scenes: the same cut-outs (kept
by pose pruning), the same counter photos (``INPUT.SYNTHESIS.BACKGROUND_DIR``, or generated
counters) and the same checkout camera look; their only label is the SKU of the pasted
cut-out, a source label. No checkout image is read.

Shapes: S = ``PRETRAIN.CROP_SIZE``; a crop is S x S x 3 uint8 (RGB while composed; the mapper
returns it as 3 x S x S in ``INPUT.FORMAT``, as Detectron2's mappers return images).
"""
import logging
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from detectron2.config import configurable
from detectron2.data import transforms as T

from .checkout_camera import CheckoutCameraAugmentation, build_checkout_camera
from .compose import compose_scene
from .loader import build_epoch_loader, synthesis_records
from .mapper import SYNTHESIS_KEY, build_scene_synthesizer, synthesis_seed
from .scene_synthesis import SceneSynthesizer, scene_rng

__all__ = ["ProductCropMapper", "build_crop_augmentations", "build_product_crop_loader"]

logger = logging.getLogger(__name__)


def build_crop_augmentations() -> List[T.Augmentation]:
    """
    Detectron2 augmentations of a crop (RGB): flips both ways (an overhead camera sees products
    in any orientation) and mild brightness, contrast and saturation changes.
    """
    return [
        T.RandomFlip(horizontal=True, vertical=False),
        T.RandomFlip(horizontal=False, vertical=True),
        T.RandomBrightness(0.8, 1.2),
        T.RandomContrast(0.8, 1.2),
        T.RandomSaturation(0.8, 1.2),
    ]


class ProductCropMapper:
    """
    A callable which maps a record ``{"synthesis_index": k, ...}`` (the records of the
    ``synth_scenes`` pseudo-dataset) into a training crop:
    ``{"image": 3 x S x S uint8 tensor, "label": SKU (int), "crop_index": k}``.

    Crop k is drawn from ``scene_rng(seed, k)``: a SKU uniformly among those with kept
    cut-outs, one of its cut-outs, a square window of a counter photo (side 1-2 S, resized to
    S), the cut-out pasted at a random rotation and position with its longer side a uniform
    ``fill_range`` fraction of S (:func:`~.compose.compose_scene` with one item; it shrinks to
    fit), then the checkout camera look with its probability. The Detectron2 augmentations
    follow, drawing from the worker's global random state as for any dataset.
    """

    @configurable
    def __init__(self, *, synthesizer: SceneSynthesizer, crop_size: int,
                 fill_range: Sequence[float] = (0.4, 0.8),
                 augmentations: Sequence[T.Augmentation] = (),
                 camera: Optional[CheckoutCameraAugmentation] = None,
                 image_format: str = "BGR", seed: int = 0):
        """
        Args:
            synthesizer: the store's kept cut-outs per SKU and the counter backgrounds.
            crop_size: S, the side of a crop in pixels (>= 32).
            fill_range: (lo, hi) with 0 < lo <= hi <= 1, the product's longer side / S.
            augmentations: Detectron2 augmentations applied to the RGB crop.
            camera: the checkout camera look (None: none).
            image_format: "BGR" or "RGB", the channel order of the returned image.
            seed: crop k is drawn from ``scene_rng(seed, k)``.
        """
        lo, hi = (float(v) for v in fill_range)
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop fill range {list(fill_range)}: need 0 < lo <= hi <= 1")
        if int(crop_size) < 32:
            raise ValueError(f"crop size {crop_size}: need >= 32 pixels")
        self.synthesizer = synthesizer
        self.crop_size = int(crop_size)
        self.fill_range = (lo, hi)
        self.augmentations = T.AugmentationList(list(augmentations))
        self.camera = camera
        self.image_format = image_format
        self.seed = int(seed)
        logger.info(
            f"[ProductCropMapper] {crop_size} px crops of {len(synthesizer.skus)} SKUs from "
            f"{synthesizer.store.folder}, seed {self.seed}"
        )

    @classmethod
    def from_config(cls, cfg):
        return {
            "synthesizer": build_scene_synthesizer(cfg),
            "crop_size": cfg.PRETRAIN.CROP_SIZE,
            "fill_range": cfg.PRETRAIN.FILL_RANGE,
            "augmentations": build_crop_augmentations(),
            "camera": build_checkout_camera(cfg),
            "image_format": cfg.INPUT.FORMAT,
            "seed": synthesis_seed(cfg),
        }

    @property
    def num_classes(self) -> int:
        """K, the classes of the store (SKUs without kept cut-outs are never drawn)."""
        return len(self.synthesizer.store.thing_classes)

    def crop(self, rng: np.random.Generator) -> Tuple[np.ndarray, int]:
        """One crop drawn from ``rng``: (S x S x 3 uint8 RGB, SKU), before the augmentations."""
        syn, size = self.synthesizer, self.crop_size
        sku = int(syn.skus[int(rng.integers(len(syn.skus)))])
        rgba = syn.store.get(int(rng.choice(syn.by_sku[sku])))
        counter = syn.background(rng)
        side = min(int(size * rng.uniform(1.0, 2.0)), *counter.shape[:2])
        y0 = int(rng.integers(counter.shape[0] - side + 1))
        x0 = int(rng.integers(counter.shape[1] - side + 1))
        window = cv2.resize(counter[y0 : y0 + side, x0 : x0 + side], (size, size),
                            interpolation=cv2.INTER_AREA)
        scale = rng.uniform(*self.fill_range) * size / max(rgba.shape[:2])
        scene = compose_scene(window, [rgba], rng, scale_range=(scale, scale), drop_below=0.0,
                              classes=[sku])
        image = scene.image
        if self.camera is not None and rng.random() < self.camera.prob:
            image = self.camera.draw(image, rng).apply_image(image)
        return image, sku

    def __call__(self, record):
        """
        Args:
            record (dict): holds ``"synthesis_index"``, the crop index k.
        Returns:
            dict: "image" (3 x S x S uint8 tensor in ``image_format``), "label", "crop_index".
        """
        k = int(record[SYNTHESIS_KEY])
        image, sku = self.crop(scene_rng(self.seed, k))
        aug_input = T.AugInput(image)
        self.augmentations(aug_input)
        image = aug_input.image
        if self.image_format != "RGB":  # BGR (Detectron2's default)
            image = image[..., ::-1]
        return {
            "image": torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "label": sku,
            "crop_index": k,
        }


def build_product_crop_loader(cfg, mapper: Optional[ProductCropMapper] = None):
    """
    Detectron2's training loader of endless product crops: ``INPUT.SYNTHESIS.EPOCH_SIZE``
    records per epoch, each epoch's crops new (:class:`~.loader.EpochTrainingSampler`), batches
    of ``PRETRAIN.IMS_PER_BATCH`` crops (lists of the mapper's dicts), ``DATALOADER.NUM_WORKERS``
    workers.

    Args:
        mapper: default ``ProductCropMapper(cfg)``.
    """
    mapper = mapper if mapper is not None else ProductCropMapper(cfg)
    records = synthesis_records(int(cfg.INPUT.SYNTHESIS.EPOCH_SIZE))
    return build_epoch_loader(cfg, records, mapper, cfg.PRETRAIN.IMS_PER_BATCH,
                              aspect_ratio_grouping=False)
