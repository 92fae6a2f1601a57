"""DPSNetDatasetMapper: Detectron2's DatasetMapper plus density targets built after augmentation."""
import logging
from typing import Callable, Optional

import torch

from detectron2.config import configurable
from detectron2.data import DatasetMapper

from .density_targets import DensityTargetGenerator

__all__ = ["DPSNetDatasetMapper"]


class DPSNetDatasetMapper(DatasetMapper):
    """
    A callable which maps a Detectron2 dataset dict into DPSNet's training input. It does what
    :class:`DatasetMapper` does (read, augment, boxes to ``instances``) and, in training, adds

    * ``density``: float32 Tensor C x ceil(H/s) x ceil(W/s) for the augmented image (H x W,
      before padding), built from the augmented, clipped, non-empty boxes of ``instances`` —
      flips, resizes and crops move the Gaussians with the boxes. Each object sums to 1.

    At inference it is :class:`DatasetMapper` (annotations dropped, no ``density``).
    """

    @configurable
    def __init__(
        self,
        is_train: bool = True,
        *,
        density_target_generator: Optional[Callable] = None,
        **kwargs,
    ):
        """
        Args:
            is_train: whether it's used in training or inference.
            density_target_generator: callable (boxes N x 4 XYXY, classes (N,), (H, W)) ->
                C x h x w density (e.g. :class:`DensityTargetGenerator`); None: no ``density``.
            kwargs: the arguments of :class:`DatasetMapper` (augmentations, image_format, ...).
        """
        super().__init__(is_train, **kwargs)
        self.density_target_generator = density_target_generator
        if is_train and density_target_generator is not None:
            name = density_target_generator.__class__.__name__
            logging.getLogger(__name__).info(f"[DPSNetDatasetMapper] density targets: {name}")

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        ret = super().from_config(cfg, is_train)
        use_density = is_train and cfg.MODEL.DENSITY_HEAD.ENABLED
        ret["density_target_generator"] = DensityTargetGenerator(cfg) if use_density else None
        return ret

    def __call__(self, dataset_dict):
        """
        Args:
            dataset_dict (dict): one image in Detectron2 dataset format.

        Returns:
            dict: DatasetMapper's output ("image", "instances", ...) plus "density" in training.

        Raises:
            ValueError: the density targets cannot be built (e.g. a class id outside the
                generator's map); the message names the image's ``file_name`` and ``image_id``.
        """
        dataset_dict = super().__call__(dataset_dict)
        if self.is_train:
            self._add_density(dataset_dict)
        return dataset_dict

    def _add_density(self, dataset_dict):
        """
        Add ``density`` (C x h x w) built from ``dataset_dict["instances"]`` (no instances: an
        empty map) for the CHW tensor ``dataset_dict["image"]``, in place; nothing without a
        density target generator. Subclasses that build "image" / "instances" themselves (e.g.
        the synthesis mapper) call it last.
        """
        if self.density_target_generator is None:
            return
        image_size = tuple(dataset_dict["image"].shape[-2:])
        instances = dataset_dict.get("instances", None)
        if instances is None:
            boxes, classes = torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)
        else:
            boxes, classes = instances.gt_boxes, instances.gt_classes
        try:
            density = self.density_target_generator(boxes, classes, image_size)
        except ValueError as e:
            raise ValueError(
                f"density targets of {dataset_dict.get('file_name')!r} (image_id "
                f"{dataset_dict.get('image_id')!r}): {e}"
            ) from e
        dataset_dict["density"] = density
