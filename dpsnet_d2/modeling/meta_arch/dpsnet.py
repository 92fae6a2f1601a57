"""
DPSNet: a Faster R-CNN detection view and a density counting view on one bidirectional
pyramid (METHOD.md §3).

Shape shorthand — N: images, C: density channels, H x W: network input (resized, before
padding), Hp x Wp: padded batch, s: density stride, h x w = ceil(H / s) x ceil(W / s).
"""
from typing import Dict, List, Optional

import torch
from torch import nn

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances
from detectron2.utils.events import get_event_storage

from ..density import build_density_head, density_l2_loss, pad_density_targets

__all__ = ["DPSNet"]


@META_ARCH_REGISTRY.register()
class DPSNet(GeneralizedRCNN):
    """
    GeneralizedRCNN (backbone, RPN, ROI heads) plus a density head on one backbone feature.
    With ``density_head=None`` (MODEL.DENSITY_HEAD.ENABLED False) it is Faster R-CNN on the
    BiPyramid neck; add MODEL.BIPYRAMID.FUSION_ON False for the plain FPN baseline.
    """

    @configurable
    def __init__(
        self,
        *,
        density_head: Optional[nn.Module] = None,
        density_in_feature: str = "count",
        density_loss_weight: float = 1.0,
        density_target_scale: float = 100.0,
        **kwargs,
    ):
        """
        Args:
            density_head: maps backbone feature ``density_in_feature`` to N x C x h' x w'
                non-negative density; None: no counting view.
            density_in_feature: name of the backbone output the density head reads (checked
                by :meth:`from_config`, which needs its shape to build the head).
            density_loss_weight: weight of ``loss_density``.
            density_target_scale: ground-truth densities are multiplied by it for the loss;
                predictions are divided by it at inference (so they are in objects).
            kwargs: the arguments of :class:`GeneralizedRCNN`.
        """
        super().__init__(**kwargs)
        self.density_head = density_head
        self.density_in_feature = density_in_feature
        self.density_loss_weight = density_loss_weight
        self.density_target_scale = density_target_scale

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        dh = cfg.MODEL.DENSITY_HEAD
        if not dh.ENABLED:
            return ret
        shapes = ret["backbone"].output_shape()
        if dh.IN_FEATURE not in shapes:
            raise ValueError(
                f"MODEL.DENSITY_HEAD.IN_FEATURE={dh.IN_FEATURE!r} is not an output of "
                f"MODEL.BACKBONE.NAME={cfg.MODEL.BACKBONE.NAME!r} ({sorted(shapes)})"
            )
        target_stride = cfg.MODEL.BIPYRAMID.COUNT_STRIDE
        if shapes[dh.IN_FEATURE].stride != target_stride:
            raise ValueError(
                f"density feature {dh.IN_FEATURE!r} has stride {shapes[dh.IN_FEATURE].stride}, "
                f"the density targets MODEL.BIPYRAMID.COUNT_STRIDE={target_stride}"
            )
        ret.update(
            density_head=build_density_head(cfg, shapes[dh.IN_FEATURE]),
            density_in_feature=dh.IN_FEATURE,
            density_loss_weight=dh.LOSS_WEIGHT,
            density_target_scale=dh.TARGET_SCALE,
        )
        return ret

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
        if not self.training:
            return self.inference(batched_inputs)

        images = self.preprocess_image(batched_inputs)
        if "instances" in batched_inputs[0]:
            gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        else:
            gt_instances = None
        features = self.backbone(images.tensor)

        if self.proposal_generator is not None:
            proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)
        else:
            proposals = [x["proposals"].to(self.device) for x in batched_inputs]
            proposal_losses = {}
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances)
        if self.vis_period > 0:
            storage = get_event_storage()
            if storage.iter % self.vis_period == 0:
                self.visualize_training(batched_inputs, proposals)

        losses = {}
        losses.update(detector_losses)
        losses.update(proposal_losses)
        if self.density_head is not None:
            losses.update(self._density_losses(batched_inputs, features))
        return losses

    def _density_losses(
        self, batched_inputs: List[Dict[str, torch.Tensor]], features: Dict[str, torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """
        The density loss; logs ``density/count_abs_error`` (objects per image, summed over
        channels, each prediction cropped to its target as at inference).

        Args:
            batched_inputs: as in :meth:`forward` (training), each with "density" C x h x w.
            features: backbone outputs; ``features[density_in_feature]`` is N x D x h' x w'
                (the padded batch, h' >= h, w' >= w).
        Returns:
            ``{"loss_density": scalar}``.
        """
        if "density" not in batched_inputs[0]:
            raise KeyError(
                "DPSNet's counting view needs 'density' in its training inputs: use "
                "INPUT.DATASET_MAPPER_NAME 'dpsnet' (DPSNetDatasetMapper) or disable "
                "MODEL.DENSITY_HEAD.ENABLED"
            )
        pred = self.density_head(features[self.density_in_feature])  # N x C x h' x w'
        targets = [x["density"].to(self.device) for x in batched_inputs]
        if targets[0].shape[0] != pred.shape[1]:
            raise ValueError(
                f"density targets have {targets[0].shape[0]} channels, the head {pred.shape[1]}"
            )
        target = pad_density_targets(targets, pred.shape[-2:], self.density_target_scale)
        loss = density_l2_loss(pred, target)
        with torch.no_grad():
            errors = []
            for p, t in zip(pred, targets):  # C x h' x w', C x h x w (unscaled)
                counts = p[:, : t.shape[-2], : t.shape[-1]].sum(dim=(1, 2))
                errors.append((counts / self.density_target_scale - t.sum(dim=(1, 2))).abs().sum())
            get_event_storage().put_scalar(
                "density/count_abs_error", torch.stack(errors).mean().item()
            )
        return {"loss_density": loss * self.density_loss_weight}

    def inference(
        self,
        batched_inputs: List[Dict[str, torch.Tensor]],
        detected_instances: Optional[List[Instances]] = None,
        do_postprocess: bool = True,
    ):
        """
        Run inference on the given inputs.

        Args:
            batched_inputs: as in :meth:`forward`.
            detected_instances: if given, boxes to run the ROI heads on (GeneralizedRCNN).
            do_postprocess: False returns the raw ``list[Instances]`` of the ROI heads (the
                counting view is skipped), as GeneralizedRCNN does.

        Returns:
            as in :meth:`forward` (inference).
        """
        assert not self.training
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        if detected_instances is None:
            if self.proposal_generator is not None:
                proposals, _ = self.proposal_generator(images, features, None)
            else:
                proposals = [x["proposals"].to(self.device) for x in batched_inputs]
            results, _ = self.roi_heads(images, features, proposals, None)
        else:
            detected_instances = [x.to(self.device) for x in detected_instances]
            results = self.roi_heads.forward_with_given_boxes(features, detected_instances)
        if not do_postprocess:
            return results

        outputs = []
        for result, inputs, image_size in zip(results, batched_inputs, images.image_sizes):
            height = inputs.get("height", image_size[0])
            width = inputs.get("width", image_size[1])
            outputs.append({"instances": detector_postprocess(result, height, width)})
        if self.density_head is not None:
            pred = self.density_head(features[self.density_in_feature]) / self.density_target_scale
            s = self.backbone.output_shape()[self.density_in_feature].stride
            for output, density, (h, w) in zip(outputs, pred, images.image_sizes):
                density = density[:, : -(-h // s), : -(-w // s)]
                output["density"] = density
                output["counts"] = density.sum(dim=(1, 2))
        return outputs
