"""
In-domain backbone pre-training (docs/method.md, "in-domain backbone pre-training").

The published detector starts from an ImageNet ResNet. Where ImageNet weights are out of reach,
the ResNet of the detector's own config is first trained as a product classifier on product
crops (:mod:`dpsnet_d2.augment.synthesis.product_crops`: cut-outs of the store pasted on
empty-counter photos, labelled with their SKU — source labels only), and its weights then
initialise the detector through ``MODEL.WEIGHTS``.

Shapes — N: crops, S: crop side, C: channels of the ResNet's last output, K: SKUs.

* :class:`BackboneClassifier`: the bottom-up ResNet of ``build_backbone(cfg)``, global average
  pooling of its last output, one linear layer. Its state names the ResNet
  ``backbone.bottom_up.*``, as a Detectron2 ResNet-FPN checkpoint does, so that
  :class:`~.checkpointer.DPSNetCheckpointer` loads it into DPSNet's ``backbone.fpn.bottom_up.*``
  (and a stock ResNet-FPN takes it as it is).
* :class:`BackbonePretrainer`: :class:`~.trainer.DPSNetTrainer` (Detectron2's hooks, periodic
  checkpointer and writers) with the classifier, the crop loader and the ``PRETRAIN`` solver of
  :func:`pretrain_run_cfg`; at the end it writes :data:`BACKBONE_FILE`.
* :func:`export_backbone`: the ResNet's tensors alone, ``{"model": {"backbone.bottom_up.*"}}``.
"""
import io
import logging
import os
from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.modeling import Backbone, build_backbone
from detectron2.utils import comm
from detectron2.utils.events import get_event_storage

from ..augment.cutouts.store import CutoutStore
from ..augment.synthesis.product_crops import build_product_crop_loader
from ..utils.cli import UserError, check_output_dir
from ..utils.file_io import atomic_write_bytes
from .checkpoint_checks import check_checkpoint_file
from .checks import check_background_dir, check_store_integrity, check_weights, last_checkpoint
from .trainer import DPSNetTrainer

__all__ = [
    "BACKBONE_FILE", "BACKBONE_PREFIX", "BackboneClassifier", "BackbonePretrainer",
    "check_pretrain_inputs", "export_backbone", "pretrain_run_cfg",
]

logger = logging.getLogger(__name__)

# OUTPUT_DIR file with the pre-trained ResNet alone (what MODEL.WEIGHTS takes).
BACKBONE_FILE = "backbone_final.pth"
# Prefix of the ResNet's tensors, in the classifier's state and in BACKBONE_FILE: the name of a
# ResNet-FPN's bottom-up network in Detectron2's checkpoints.
BACKBONE_PREFIX = "backbone.bottom_up."


def pretrain_run_cfg(cfg):
    """
    The config of a pre-training run of ``cfg`` (a new, unfrozen copy): Detectron2's solver keys
    from ``PRETRAIN`` (batch, iterations, learning rate, warm-up, checkpoint period; cosine
    decay), every ResNet stage trained (``FREEZE_AT`` 0), no evaluation.
    """
    run, pre = cfg.clone(), cfg.PRETRAIN
    run.defrost()
    run.SOLVER.IMS_PER_BATCH = pre.IMS_PER_BATCH
    run.SOLVER.MAX_ITER = pre.MAX_ITER
    run.SOLVER.BASE_LR = pre.BASE_LR
    run.SOLVER.LR_SCHEDULER_NAME = "WarmupCosineLR"
    run.SOLVER.STEPS = ()
    run.SOLVER.WARMUP_ITERS = min(pre.WARMUP_ITERS, pre.MAX_ITER)
    run.SOLVER.CHECKPOINT_PERIOD = pre.CHECKPOINT_PERIOD
    run.SOLVER.REFERENCE_WORLD_SIZE = 0
    run.MODEL.BACKBONE.FREEZE_AT = 0
    run.TEST.EVAL_PERIOD = 0
    run.TEST.PRECISE_BN.ENABLED = False
    run.DATASETS.TEST = ()
    return run


def check_pretrain_inputs(cfg, *, resume: bool = False) -> None:
    """
    Check what a pre-training run of ``cfg`` reads and writes, in seconds, before anything is
    built: ``OUTPUT_DIR`` writable, the ``PRETRAIN`` values, the cut-out store (whole, with kept
    cut-outs), the background folder and the weights it starts from (the last checkpoint of
    ``OUTPUT_DIR`` with ``resume``, else ``MODEL.WEIGHTS``). Raises a one-line UserError.
    """
    check_output_dir(cfg.OUTPUT_DIR, "OUTPUT_DIR")
    pre = cfg.PRETRAIN
    least = {"CROP_SIZE": 32, "IMS_PER_BATCH": 1, "MAX_ITER": 1, "CHECKPOINT_PERIOD": 1,
             "WARMUP_ITERS": 0}
    for key, low in least.items():
        if pre[key] < low:
            raise UserError(f"PRETRAIN.{key} is {pre[key]}: must be >= {low}")
    if pre.BASE_LR <= 0:
        raise UserError(f"PRETRAIN.BASE_LR is {pre.BASE_LR}: must be > 0")
    fill = list(pre.FILL_RANGE)
    if len(fill) != 2 or not 0 < fill[0] <= fill[1] <= 1:
        raise UserError(f"PRETRAIN.FILL_RANGE is {fill}: need [lo, hi] with 0 < lo <= hi <= 1")
    what = "INPUT.SYNTHESIS.CUTOUT_STORE (--cutouts)"
    if not cfg.INPUT.SYNTHESIS.CUTOUT_STORE:
        raise UserError(f"{what} is empty: give the cut-out store of the turntable images "
                        "(tools/prepare_rpc.py prune writes one)")
    store = check_store_integrity(cfg.INPUT.SYNTHESIS.CUTOUT_STORE, what)
    if not len(store.kept()):
        raise UserError(f"{what} {store.folder}: no cut-out is kept by pose pruning")
    check_background_dir(cfg.INPUT.SYNTHESIS.BACKGROUND_DIR)
    last = last_checkpoint(cfg.OUTPUT_DIR) if resume else None
    weights, what = (last, "the last checkpoint of OUTPUT_DIR") if last else \
        (cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS")
    check_weights(weights, what)
    check_checkpoint_file(weights, what)


def _bottom_up(backbone: nn.Module) -> Backbone:
    """The bottom-up network of a ResNet-FPN backbone (DPSNet's neck holds the FPN as ``fpn``)."""
    fpn = getattr(backbone, "fpn", backbone)
    bottom_up = getattr(fpn, "bottom_up", None)
    if not isinstance(bottom_up, Backbone):
        raise UserError(f"backbone {type(backbone).__name__} has no bottom-up network to "
                         "pre-train (MODEL.BACKBONE.NAME must build a ResNet-FPN)")
    return bottom_up


class BackboneClassifier(nn.Module):
    """
    A product classifier on a ResNet: ResNet -> last output N x C x h x w -> global average
    pooling N x C -> linear N x K. Takes Detectron2-style inputs (a list of dicts with "image",
    3 x S x S in ``INPUT.FORMAT``, normalised here with ``MODEL.PIXEL_MEAN`` / ``PIXEL_STD`` as
    the detector normalises its images, and "label", the SKU). Returns ``{"loss_cls"}``
    (cross-entropy) in training, and puts the batch's accuracy into the event storage
    (``pretrain/cls_accuracy``); N x K logits in eval mode.
    """

    @configurable
    def __init__(self, *, bottom_up: Backbone, num_classes: int, pixel_mean: Sequence[float],
                 pixel_std: Sequence[float]):
        """
        Args:
            bottom_up: the ResNet (its output of the largest stride is pooled).
            num_classes: K.
            pixel_mean, pixel_std: per-channel normalisation of the input images.
        """
        super().__init__()
        # the ResNet's state keys start with "backbone.bottom_up." (BACKBONE_PREFIX)
        self.backbone = nn.ModuleDict({"bottom_up": bottom_up})
        shapes = bottom_up.output_shape()
        self.in_feature = max(shapes, key=lambda k: shapes[k].stride)
        self.classifier = nn.Linear(shapes[self.in_feature].channels, int(num_classes))
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @classmethod
    def from_config(cls, cfg, num_classes: int):
        return {
            "bottom_up": _bottom_up(build_backbone(cfg)),
            "num_classes": num_classes,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def forward(self, batched_inputs):
        """
        Args:
            batched_inputs: list of N dicts, "image" 3 x S x S (uint8 or float), "label" int.
        Returns:
            training: {"loss_cls": scalar}; eval: N x K logits.
        """
        images = torch.stack([x["image"] for x in batched_inputs]).to(self.device)
        images = (images.float() - self.pixel_mean) / self.pixel_std  # N x 3 x S x S
        features = self.backbone["bottom_up"](images)[self.in_feature]  # N x C x h x w
        logits = self.classifier(features.mean(dim=(2, 3)))  # N x K
        if not self.training:
            return logits
        labels = torch.as_tensor([int(x["label"]) for x in batched_inputs], device=self.device)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        get_event_storage().put_scalar("pretrain/cls_accuracy", accuracy.item())
        return {"loss_cls": F.cross_entropy(logits.float(), labels)}


def export_backbone(model: nn.Module, path: str) -> int:
    """
    Write the ResNet of a :class:`BackboneClassifier` (or of a model whose state holds
    ``backbone.bottom_up.*``) to ``path`` as a Detectron2 checkpoint ``{"model": {name:
    tensor}}``, whole or not at all. Returns the number of tensors written.
    """
    model = getattr(model, "module", model)  # DistributedDataParallel
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()
             if k.startswith(BACKBONE_PREFIX)}
    if not state:
        raise ValueError(f"{type(model).__name__} has no {BACKBONE_PREFIX}* tensors to export")
    buffer = io.BytesIO()
    torch.save({"model": state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return len(state)


class BackbonePretrainer(DPSNetTrainer):
    """
    DPSNetTrainer that trains a :class:`BackboneClassifier` on product crops. Give it
    ``pretrain_run_cfg(cfg)``. Differences, through the ``build_*`` class methods:

    * ``build_model``: the classifier on ``build_backbone(cfg)``'s ResNet, K = the classes of
      ``INPUT.SYNTHESIS.CUTOUT_STORE``;
    * ``build_train_loader``: endless product crops (:func:`~dpsnet_d2.augment.synthesis.
      product_crops.build_product_crop_loader`);
    * ``test``: nothing (the lever is measured on the detector it initialises).

    Checkpoints (``model_*.pth``, every ``PRETRAIN.CHECKPOINT_PERIOD``) hold the classifier; each
    loads as ``MODEL.WEIGHTS`` too (its two classifier tensors are reported unused). After the
    last iteration :meth:`train` writes the ResNet alone to ``OUTPUT_DIR/backbone_final.pth``.
    """

    @classmethod
    def build_model(cls, cfg):
        classes = CutoutStore(cfg.INPUT.SYNTHESIS.CUTOUT_STORE).thing_classes
        model = BackboneClassifier(cfg, num_classes=len(classes))
        model.to(torch.device(cfg.MODEL.DEVICE))
        logger.info(f"Pre-training the ResNet as a classifier of {len(classes)} SKUs:\n{model}")
        return model

    @classmethod
    def build_train_loader(cls, cfg):
        return build_product_crop_loader(cfg)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        return OrderedDict()

    def train(self):
        """Train; return the path of ``backbone_final.pth`` once the last iteration is done."""
        super().train()
        path = os.path.join(self.cfg.OUTPUT_DIR, BACKBONE_FILE)
        if comm.is_main_process() and self.iter + 1 >= self.max_iter:
            count = export_backbone(self.model, path)
            logger.info(f"Wrote the pre-trained ResNet ({count} tensors) to {path}: train the "
                        f"detector with MODEL.WEIGHTS {path}")
        return path
