"""The DPSNet trainer: DefaultTrainer with the mapper and evaluator chosen from the config."""
import os

import torch
from detectron2.data import DatasetMapper, MetadataCatalog, build_detection_train_loader
from detectron2.engine import DefaultTrainer, SimpleTrainer
from detectron2.utils import comm
from detectron2.evaluation import COCOEvaluator
from detectron2.solver.build import (
    get_default_optimizer_params,
    maybe_add_gradient_clipping,
    reduce_param_groups,
)

from ..augment import SynthesisDatasetMapper, build_synthesis_train_loader, uses_synthesis
from ..data import DPSNetDatasetMapper
from ..data.unreadable import SkipUnreadableImages
from ..evaluation import RPCEvaluator
from ..utils.cli import UserError
from ..utils.file_io import AtomicPathManager, atomic_write_bytes
from .checkpointer import DPSNetCheckpointer, dataset_thing_classes
from .cpu_autocast import CPUAutocastTrainer, use_cpu_autocast

__all__ = [
    "DPSNetTrainer", "DENSITY_MAPPERS", "LOAD_REPORT_FILE", "TRAIN_MAPPERS", "build_train_mapper",
]

# OUTPUT_DIR file with the LoadReport (json) of MODEL.WEIGHTS or the resumed checkpoint.
LOAD_REPORT_FILE = "weights_load_report.json"

# cfg.INPUT.DATASET_MAPPER_NAME -> callable(cfg, is_train) returning a dataset mapper.
TRAIN_MAPPERS = {
    "d2": DatasetMapper,
    "dpsnet": DPSNetDatasetMapper,
    "synthesis": SynthesisDatasetMapper,
}


# Mappers of TRAIN_MAPPERS that build the "density" targets the counting view trains on.
DENSITY_MAPPERS = ("dpsnet", "synthesis")


def build_train_mapper(cfg):
    """
    Return the training mapper named by ``cfg.INPUT.DATASET_MAPPER_NAME``; with the counting
    view on (MODEL.DENSITY_HEAD.ENABLED) it must be one that builds density targets.
    """
    name = cfg.INPUT.DATASET_MAPPER_NAME
    if name not in TRAIN_MAPPERS:
        raise UserError(
            f"cfg.INPUT.DATASET_MAPPER_NAME={name!r} is unknown; "
            f"choose one of {sorted(TRAIN_MAPPERS)}"
        )
    if cfg.MODEL.DENSITY_HEAD.ENABLED and name not in DENSITY_MAPPERS:
        raise UserError(
            f"cfg.INPUT.DATASET_MAPPER_NAME={name!r} builds no density targets but "
            f"cfg.MODEL.DENSITY_HEAD.ENABLED is True: use one of {list(DENSITY_MAPPERS)} or "
            "disable the density head"
        )
    if uses_synthesis(cfg) and name != "synthesis":
        raise ValueError(
            f"DATASETS.TRAIN holds 'synth_scenes' but cfg.INPUT.DATASET_MAPPER_NAME={name!r}: "
            "synthesized scenes need the 'synthesis' mapper"
        )
    return TRAIN_MAPPERS[name](cfg, True)


class DPSNetTrainer(DefaultTrainer):
    """
    DefaultTrainer for DPSNet. Differences, all through DefaultTrainer's ``build_*`` class methods:

    * ``build_train_loader``: the mapper named by ``cfg.INPUT.DATASET_MAPPER_NAME``, checked
      against ``cfg.MODEL.DENSITY_HEAD.ENABLED`` (see :func:`build_train_mapper`); with
      ``synth_scenes`` in ``DATASETS.TRAIN``, synthesized scenes mixed with the other datasets
      (:func:`~dpsnet_d2.augment.build_synthesis_train_loader`); an image that fails to
      decode is reported and skipped (:class:`~dpsnet_d2.data.unreadable.SkipUnreadableImages`);
    * ``build_optimizer``: SGD as Detectron2's, with the density head's learning rate
      multiplied by ``cfg.MODEL.DENSITY_HEAD.LR_MULTIPLIER``;
    * ``build_evaluator``: chosen by the dataset's ``evaluator_type`` metadata
      (COCO's evaluator without compiled ops for "coco", :class:`RPCEvaluator` with the
      fixed threshold ``cfg.TEST.RPC_SCORE_THRESH`` and ``cfg.TEST.RPC_COMPUTE_MAP`` for "rpc").

    With ``SOLVER.AMP.ENABLED`` on the CPU the step runs under bfloat16 autocast
    (:class:`~dpsnet_d2.engine.cpu_autocast.CPUAutocastTrainer`; Detectron2's AMPTrainer is
    CUDA-only); on CUDA it is Detectron2's AMPTrainer.

    The checkpointer is a :class:`DPSNetCheckpointer` (installed by ``build_hooks``, before the
    hooks take it): ``MODEL.WEIGHTS`` may be a Detectron2 ResNet-FPN checkpoint (keys mapped to
    DPSNet's), its load report goes to ``OUTPUT_DIR/weights_load_report.json``, and every
    checkpoint holds the class names of ``DATASETS.TRAIN``. Checkpoints and the
    ``last_checkpoint`` tag are written to a temporary file and renamed into place, so an
    interrupted save leaves the previous checkpoint, never a truncated one.
    """

    def __init__(self, cfg):
        super().__init__(cfg)
        if cfg.SOLVER.AMP.ENABLED and str(cfg.MODEL.DEVICE).startswith("cpu"):
            # D2 built its CUDA-only AMPTrainer: bf16 autocast where the CPU has bf16 units,
            # float32 elsewhere; same model, loader and optimizer (a fresh loader iterator
            # restarts the sampler from its seed, so the data order is that of a float32 run)
            t = self._trainer
            step = CPUAutocastTrainer if use_cpu_autocast(cfg) else SimpleTrainer
            self._trainer = step(t.model, t.data_loader, t.optimizer)

    def build_hooks(self):
        old = self.checkpointer
        self.checkpointer = DPSNetCheckpointer(
            old.model, old.save_dir, thing_classes=dataset_thing_classes(self.cfg),
            save_to_disk=old.save_to_disk, **old.checkpointables,
        )
        self.checkpointer.path_manager = AtomicPathManager(old.path_manager)
        return super().build_hooks()

    def resume_or_load(self, resume=True):
        super().resume_or_load(resume=resume)
        report = self.checkpointer.last_load_report
        if report is not None and comm.is_main_process():
            atomic_write_bytes(os.path.join(self.cfg.OUTPUT_DIR, LOAD_REPORT_FILE),
                               report.to_json().encode())

    @classmethod
    def build_train_loader(cls, cfg):
        # an image that fails to decode during training is reported and skipped, not a crash
        mapper = SkipUnreadableImages(build_train_mapper(cfg))
        if uses_synthesis(cfg):
            return build_synthesis_train_loader(cfg, mapper)
        return build_detection_train_loader(cfg, mapper=mapper)

    @classmethod
    def build_optimizer(cls, cfg, model):
        """
        Detectron2's SGD; parameters of ``model.density_head`` get LR x LR_MULTIPLIER.

        The multiplier applies to the density head only: the neck's counting fusion
        (``backbone.count_fusion``), which only the counting view uses, trains at the base LR
        like the rest of the backbone. Weight decay, bias and norm settings are Detectron2's
        in both groups.
        """
        solver = cfg.SOLVER
        kwargs = {
            "weight_decay_norm": solver.WEIGHT_DECAY_NORM,
            "bias_lr_factor": solver.BIAS_LR_FACTOR,
            "weight_decay_bias": solver.WEIGHT_DECAY_BIAS,
        }
        params = get_default_optimizer_params(model, base_lr=solver.BASE_LR, **kwargs)
        density_head = getattr(model, "density_head", None)
        if density_head is not None:
            lr = solver.BASE_LR * cfg.MODEL.DENSITY_HEAD.LR_MULTIPLIER
            # later groups override earlier ones parameter by parameter
            params = reduce_param_groups(
                params + get_default_optimizer_params(density_head, base_lr=lr, **kwargs)
            )
        return maybe_add_gradient_clipping(cfg, torch.optim.SGD)(
            params,
            lr=solver.BASE_LR,
            momentum=solver.MOMENTUM,
            nesterov=solver.NESTEROV,
            weight_decay=solver.WEIGHT_DECAY,
        )

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        evaluator_type = MetadataCatalog.get(dataset_name).get("evaluator_type", "coco")
        if evaluator_type == "coco":
            return COCOEvaluator(dataset_name, output_dir=output_folder, use_fast_impl=False)
        if evaluator_type == "rpc":
            return RPCEvaluator(
                dataset_name, output_folder, score_threshold=cfg.TEST.RPC_SCORE_THRESH,
                compute_map=cfg.TEST.RPC_COMPUTE_MAP,
            )
        raise ValueError(
            f"no evaluator for dataset {dataset_name!r} with evaluator_type={evaluator_type!r}"
        )
