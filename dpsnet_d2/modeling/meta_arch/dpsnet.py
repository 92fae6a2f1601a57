"""
DPSNet: a Faster R-CNN detection view and a density counting view on one bidirectional
pyramid (docs/method.md §3).

The detection view is Detectron2's :class:`GeneralizedRCNN` itself: ``forward`` and
``inference`` call ``super()``. The counting view reads the same backbone features: a forward
hook on the backbone (installed only for the duration of that ``super()`` call) keeps its
output, so the backbone runs once per step and no ``GeneralizedRCNN`` method is re-written.

Shape shorthand — N: images, C: density channels, H x W: network input (resized, before
padding), s: density stride, h x w = ceil(H / s) x ceil(W / s), h' x w': the padded batch's map.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import torch
from torch import nn

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN

from ..density import build_density_head

__all__ = ["DPSNet"]


@META_ARCH_REGISTRY.register()
class DPSNet(GeneralizedRCNN):
    """
    GeneralizedRCNN (backbone, RPN, ROI heads) plus a density head (DENSITY_HEAD_REGISTRY) on
    the backbone features. With ``density_head=None`` (MODEL.DENSITY_HEAD.ENABLED False) it is
    Faster R-CNN on the BiPyramid neck; add MODEL.BIPYRAMID.FUSION_ON False for the plain FPN
    baseline.
    """

    @configurable
    def __init__(self, *, density_head: Optional[nn.Module] = None, **kwargs):
        """
        Args:
            density_head: called as ``density_head(features, targets)`` and returning
                ``(density N x C x h' x w' in objects, losses)``; None: no counting view.
            kwargs: the arguments of :class:`GeneralizedRCNN`.
        """
        super().__init__(**kwargs)
        self.density_head = density_head

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        if cfg.MODEL.DENSITY_HEAD.ENABLED:
            ret["density_head"] = build_density_head(cfg, ret["backbone"].output_shape())
        return ret

    @contextmanager
    def _keep_backbone_features(self) -> Iterator[Dict[str, Dict[str, torch.Tensor]]]:
        """While open, the backbone's output is stored as ``kept["features"]``."""
        kept = {}
        handle = self.backbone.register_forward_hook(
            lambda module, inputs, output: kept.update(features=output)
        )
        try:
            yield kept
        finally:
            handle.remove()

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        """
        Args:
            batched_inputs: a list, batched outputs of :class:`DPSNetDatasetMapper`, one dict
                per image:

                * "image": Tensor 3 x H x W, in the model's input format.
                * "instances" (training): ground-truth :class:`Instances` (gt_boxes, gt_classes).
                * "density" (training, counting view on): Tensor C x h x w, each object
                  summing to 1 (unscaled, before padding).
                * "height", "width" (inference, optional): output resolution of "instances".

        Returns:
            In training, dict[str, Tensor] of losses: "loss_rpn_cls", "loss_rpn_loc",
            "loss_cls", "loss_box_reg" and, with the counting view, "loss_density".

            In inference, a list of dicts, one per image:

            * "instances": :class:`Instances` (pred_boxes, scores, pred_classes) rescaled to
              "height" x "width" (as GeneralizedRCNN).
            * "density" (counting view on): Tensor C x h x w, non-negative, in objects per
              cell, covering the network input (H x W, before padding) at stride s: cell
              (y, x) is input pixels [s*y, s*(y+1)) x [s*x, s*(x+1)).
            * "counts" (counting view on): Tensor (C,) float, ``density.sum((1, 2))``.
        """
        if not self.training or self.density_head is None:
            return super().forward(batched_inputs)  # inference: self.inference
        if "density" not in batched_inputs[0]:
            raise KeyError(
                "DPSNet's counting view needs 'density' in its training inputs: use "
                "INPUT.DATASET_MAPPER_NAME 'dpsnet' (DPSNetDatasetMapper) or disable "
                "MODEL.DENSITY_HEAD.ENABLED"
            )
        targets = [x["density"].to(self.device) for x in batched_inputs]
        with self._keep_backbone_features() as kept:
            losses = super().forward(batched_inputs)
        _, density_losses = self.density_head(kept["features"], targets)
        losses.update(density_losses)
        return losses

    def inference(self, batched_inputs, detected_instances=None, do_postprocess=True):
        """
        As :meth:`GeneralizedRCNN.inference`, plus "density" and "counts" per image when
        ``do_postprocess`` (else the raw ``list[Instances]`` of the ROI heads, no counting view).

        Args:
            batched_inputs (list[dict]): as in :meth:`forward`.
            detected_instances (list[Instances] or None): boxes to run the ROI heads on.
            do_postprocess (bool): rescale the instances and add the counting view.
        Returns:
            as in :meth:`forward` (inference).
        """
        if self.density_head is None or not do_postprocess:
            return super().inference(batched_inputs, detected_instances, do_postprocess)
        with self._keep_backbone_features() as kept:
            outputs = super().inference(batched_inputs, detected_instances, do_postprocess)
        density, _ = self.density_head(kept["features"])  # N x C x h' x w'
        s = self.density_head.stride
        for output, inputs, d in zip(outputs, batched_inputs, density):
            height, width = inputs["image"].shape[-2:]  # the unpadded network input
            output["density"] = d[:, : -(-height // s), : -(-width // s)]
            output["counts"] = output["density"].sum(dim=(1, 2))
        return outputs
