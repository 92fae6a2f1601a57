"""
SynthesisDatasetMapper: DPSNet's dataset mapper that composes a fresh checkout scene for every
synthesized sample (records of the ``synth_scenes`` pseudo-dataset, see :mod:`.loader`)
and maps every other record as :class:`DPSNetDatasetMapper` does.
"""
import copy
import logging
from typing import Dict, Optional

import cv2
import numpy as np
import torch

from detectron2.config import configurable
from detectron2.data import transforms as T
from detectron2.structures import BoxMode

from ...data import DPSNetDatasetMapper
from .checkout_camera import CheckoutCameraAugmentation, build_checkout_camera
from ..cutouts.store import CutoutStore
from .scene_synthesis import SceneSynthesizer, scene_rng

__all__ = ["SynthesisDatasetMapper", "build_scene_synthesizer", "synthesis_seed",
           "synthesizer_settings", "SYNTHESIS_KEY"]

# Key of a dataset dict that asks for a synthesized scene; its value is the scene index.
SYNTHESIS_KEY = "synthesis_index"


def synthesizer_settings(cfg) -> Dict:
    """The keyword arguments of :class:`SceneSynthesizer` in ``cfg.INPUT.SYNTHESIS``."""
    syn = cfg.INPUT.SYNTHESIS
    return dict(level_weights=syn.LEVEL_WEIGHTS, scale_range=syn.SCALE_RANGE,
                reference_size=syn.REFERENCE_SIZE, canvas_size=syn.CANVAS_SIZE,
                rule=syn.VISIBILITY_RULE, min_visible=syn.MIN_VISIBLE, max_iou=syn.MAX_IOU,
                background_dir=syn.BACKGROUND_DIR)  # fmt: skip


def build_scene_synthesizer(cfg) -> SceneSynthesizer:
    """A :class:`SceneSynthesizer` from ``cfg.INPUT.SYNTHESIS``."""
    if not cfg.INPUT.SYNTHESIS.CUTOUT_STORE:
        raise ValueError(
            "INPUT.SYNTHESIS.CUTOUT_STORE is empty: set it to a cut-out store folder "
            "(tools/prepare_rpc.py masks / prune; on the embedded set also synthesize "
            "--true-masks ROOT --num 0)"
        )
    return SceneSynthesizer(CutoutStore(cfg.INPUT.SYNTHESIS.CUTOUT_STORE),
                            **synthesizer_settings(cfg))


def synthesis_seed(cfg) -> int:
    """The seed of the training scenes: INPUT.SYNTHESIS.SEED, else cfg.SEED (0 if < 0)."""
    seed = cfg.INPUT.SYNTHESIS.SEED
    return int(seed if seed >= 0 else max(cfg.SEED, 0))


class SynthesisDatasetMapper(DPSNetDatasetMapper):
    """
    A callable which maps a Detectron2 dataset dict into DPSNet's training input.

    * A dict holding ``"synthesis_index": k`` gets a scene composed by the synthesizer with the
      generator ``scene_rng(seed, k)`` (the same k gives the same scene; the training loader of
      :mod:`.loader` gives each sample of each epoch its own k). The scene is composed
      at the input size: a leading ``ResizeShortestEdge`` picks its short side from that
      generator instead of resampling the image. Then, when given, the checkout camera look
      (:mod:`.checkout_camera`; synthesized scenes only, drawn from the scene's generator, so
      scene k always gets the same look), the other D2 augmentations (e.g. flip, drawing from
      the worker's global random state as for any dataset),
      ``instances`` (the visible boxes and classes) and, in training, ``density`` exactly as
      :class:`DPSNetDatasetMapper` builds them.
    * Any other dict is mapped by :class:`DPSNetDatasetMapper` (read from its file).
    """

    @configurable
    def __init__(self, is_train: bool = True, *, synthesizer: SceneSynthesizer, seed: int = 0,
                 camera: Optional[CheckoutCameraAugmentation] = None, **kwargs):
        """
        Args:
            is_train: whether it's used in training or inference.
            synthesizer: composes a scene from a numpy Generator (:class:`SceneSynthesizer`).
            seed: the synthesis seed; scene k is drawn from ``scene_rng(seed, k)``.
            camera: the checkout camera look, applied to a synthesized scene with its
                probability from the scene's generator; None: no look.
            kwargs: the arguments of :class:`DPSNetDatasetMapper`.
        """
        super().__init__(is_train, **kwargs)
        self.synthesizer = synthesizer
        self.seed = int(seed)
        # A leading ResizeShortestEdge is done by composing the scene at the size it would pick
        # (no resampling of the whole image); the other augmentations apply as usual.
        augs = list(self.augmentations.augs)
        self.resize = augs.pop(0) if augs and isinstance(augs[0], T.ResizeShortestEdge) else None
        self.scene_augmentations = T.AugmentationList(augs)
        self.camera = camera
        logging.getLogger(__name__).info(
            f"[SynthesisDatasetMapper] scenes from {synthesizer.store.folder} "
            f"({len(synthesizer.skus)} SKUs), seed {self.seed}"
        )

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        ret = super().from_config(cfg, is_train)
        ret["synthesizer"] = build_scene_synthesizer(cfg)
        ret["camera"] = build_checkout_camera(cfg) if is_train else None
        ret["seed"] = synthesis_seed(cfg)
        return ret

    def __call__(self, dataset_dict):
        """
        Args:
            dataset_dict (dict): one image in Detectron2 dataset format, or a synthesis record.

        Returns:
            dict: "image", "instances", "height", "width" ("density" in training) as
            :class:`DPSNetDatasetMapper` returns; synthesized ones also "level".
        """
        if SYNTHESIS_KEY not in dataset_dict:
            return super().__call__(dataset_dict)
        dataset_dict = copy.deepcopy(dataset_dict)
        rng = scene_rng(self.seed, int(dataset_dict[SYNTHESIS_KEY]))
        size, max_size = None, 0
        if self.resize is not None:
            lengths = self.resize.short_edge_length
            size = int(rng.integers(lengths[0], lengths[1] + 1) if self.resize.is_range
                       else rng.choice(lengths))
            max_size = int(min(self.resize.max_size, 10 ** 9))
        scene = self.synthesizer(rng, size=size, max_size=max_size)
        image = scene.image
        if self.camera is not None and rng.random() < self.camera.prob:
            image = self.camera.draw(image, rng).apply_image(image)
        if self.image_format != "RGB":  # BGR (D2's default)
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # 20x a NumPy [..., ::-1] copy
        dataset_dict.update(height=image.shape[0], width=image.shape[1], level=scene.level)
        aug_input = T.AugInput(image)
        transforms = self.scene_augmentations(aug_input)
        image = aug_input.image
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if not self.is_train:
            return dataset_dict
        dataset_dict["annotations"] = [
            {"bbox": box.tolist(), "bbox_mode": BoxMode.XYXY_ABS, "category_id": int(c)}
            for box, c in zip(scene.boxes, scene.classes)
        ]
        self._transform_annotations(dataset_dict, transforms, image.shape[:2])
        self._add_density(dataset_dict)
        return dataset_dict
