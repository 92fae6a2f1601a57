"""
The trainer of iterative knowledge distillation: one training run of DPSNetTrainer whose
iterations are cut into stages (an optional source-only phase, the rounds, the refinement; the
plan is :mod:`dpsnet_d2.distill.rounds`), with the training loader replaced at each stage start
(:meth:`DistillTrainer.switch_to_stage`, called by :class:`~.distill_hook.DistillationHook`).
"""
import logging
from typing import Callable, Iterable, List, Sequence

from detectron2.data import build_detection_train_loader, get_detection_dataset_dicts
from detectron2.solver import LRMultiplier, WarmupParamScheduler
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng
from fvcore.common.param_scheduler import MultiStepParamScheduler, ParamScheduler

from ..data import DPSNetDatasetMapper
from ..distill.rounds import DistillStage, batch_split, distill_max_iter
from ..distill.targets import TargetError, load_target_images, target_classes
from ..utils.cli import UserError
from .checks import check_weights
from .distill_calibration import THRESHOLD_MODES
from .distill_hook import DistillationHook
from .trainer import DPSNetTrainer

__all__ = [
    "DistillConfigError",
    "DistillTrainer",
    "MixedBatches",
    "SwitchableLoader",
    "validate_distill_config",
]

logger = logging.getLogger(__name__)


class DistillConfigError(UserError):
    """A distillation config that cannot run (one line naming the key and the fault)."""


class SwitchableLoader:
    """
    The trainer's data loader: an endless iterable of training batches whose underlying loader
    can be replaced between two steps (:meth:`switch`). The first loader is built lazily, on the
    first batch, so one replaced before training starts is never built.
    """

    def __init__(self, build_first: Callable[[], Iterable]):
        self._build_first = build_first
        self._iterator = None

    def switch(self, loader: Iterable) -> None:
        """Take the following batches from ``loader`` (the previous one is dropped)."""
        self._iterator = iter(loader)

    def __iter__(self):
        while True:
            if self._iterator is None:
                self._iterator = iter(self._build_first())
            yield next(self._iterator)


class MixedBatches:
    """An endless iterable whose batches are one batch of each loader, concatenated (a list)."""

    def __init__(self, loaders: List[Iterable]):
        self.loaders = loaders

    def __iter__(self):
        iterators = [iter(loader) for loader in self.loaders]
        while True:
            yield [d for it in iterators for d in next(it)]


class _DistillLRSchedule(ParamScheduler):
    """
    LR multiplier over the whole run (``where`` = iteration / max_iter): the source phase follows
    SOLVER's warm-up and steps (as WarmupMultiStepLR), every later stage DISTILL.BASE_LR.
    """

    def __init__(self, cfg, max_iter: int):
        solver, source_iters = cfg.SOLVER, cfg.DISTILL.SOURCE_ITERS
        self.max_iter, self.source_iters = max_iter, source_iters
        self.stage_value = cfg.DISTILL.BASE_LR / solver.BASE_LR
        if source_iters:
            steps = [s for s in solver.STEPS if s <= source_iters]
            self.source = WarmupParamScheduler(
                MultiStepParamScheduler(
                    values=[solver.GAMMA**k for k in range(len(steps) + 1)],
                    milestones=steps, num_updates=source_iters,
                ),
                solver.WARMUP_FACTOR, min(solver.WARMUP_ITERS / source_iters, 1.0),
                solver.WARMUP_METHOD,
            )

    def __call__(self, where: float) -> float:
        iteration = where * self.max_iter
        if iteration < self.source_iters:
            return self.source(iteration / self.source_iters)
        return self.stage_value


class DistillTrainer(DPSNetTrainer):
    """
    :class:`DPSNetTrainer` for distillation (see tools/distill_net.py). Through its class methods:

    * ``build_train_loader``: a :class:`SwitchableLoader`, first on the source data
      (``build_source_loader``), replaced at every stage by :class:`DistillationHook`;
    * ``build_source_loader``: whatever DPSNetTrainer builds from DATASETS.TRAIN and
      INPUT.DATASET_MAPPER_NAME, at a given batch size;
    * ``build_target_loader``: pseudo-labelled target datasets through DPSNetDatasetMapper
      (density targets from the pseudo boxes);
    * ``build_lr_scheduler``: source phase as SOLVER, then DISTILL.BASE_LR;
    * ``build_hooks``: adds the :class:`DistillationHook` before the final writer;
    * ``state_dict``: checkpoints also hold the optimizer state;
    * ``switch_to_stage``: the loader of a stage (source + its pseudo-labelled datasets).

    SOLVER.MAX_ITER must be :func:`distill_max_iter` (tools/distill_net.py sets it).
    """

    @classmethod
    def build_train_loader(cls, cfg):
        return SwitchableLoader(lambda: cls.build_source_loader(cfg, cfg.SOLVER.IMS_PER_BATCH))

    @classmethod
    def build_source_loader(cls, cfg, batch_size: int):
        """The source loader of DPSNetTrainer with ``batch_size`` images per batch (all ranks)."""
        cfg = cfg.clone()
        cfg.defrost()
        cfg.SOLVER.IMS_PER_BATCH = batch_size
        return super().build_train_loader(cfg)

    @classmethod
    def build_target_loader(cls, cfg, dataset_names, batch_size: int):
        """Pseudo-labelled datasets, DPSNet's training mapper, ``batch_size`` images per batch."""
        dicts = get_detection_dataset_dicts(
            list(dataset_names), filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
        )
        return build_detection_train_loader(
            dicts, mapper=DPSNetDatasetMapper(cfg, True), total_batch_size=batch_size,
            aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
            num_workers=cfg.DATALOADER.NUM_WORKERS,
        )

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer):
        max_iter = cfg.SOLVER.MAX_ITER
        return LRMultiplier(optimizer, multiplier=_DistillLRSchedule(cfg, max_iter),
                            max_iter=max_iter)

    def state_dict(self):
        """Detectron2's trainer state plus the optimizer's (momentum), so that a resumed run
        continues exactly where a checkpoint was taken."""
        ret = super().state_dict()
        ret["_trainer"] = self._trainer.state_dict()
        return ret

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if "_trainer" in state_dict:
            self._trainer.load_state_dict(state_dict["_trainer"])

    def build_hooks(self):
        hooks = super().build_hooks()
        hooks.insert(len(hooks) - 1 if comm.is_main_process() else len(hooks),
                     DistillationHook(self.cfg))
        return hooks

    def switch_to_stage(self, stage: DistillStage, target_datasets: Sequence[str]) -> None:
        """
        Train the following steps on source data and the stage's pseudo-labelled
        ``target_datasets``, split by :func:`~dpsnet_d2.distill.rounds.batch_split`. Every stage
        draws its data order and augmentations from its own seed (with SEED >= 0), so a run
        resumed at a stage boundary trains exactly as an uninterrupted one.
        """
        cfg = self.cfg
        if cfg.SEED >= 0:
            seed_all_rng(cfg.SEED + 1000 * (stage.index + 1))
        num_source, num_target = batch_split(cfg, bool(cfg.DATASETS.TRAIN), bool(target_datasets))
        loaders = []
        if num_source:
            loaders.append(self.build_source_loader(cfg, num_source))
        if num_target:
            loaders.append(self.build_target_loader(cfg, target_datasets, num_target))
        if not loaders:
            raise RuntimeError(f"{stage.name}: no pseudo label and no source data "
                               "(DATASETS.TRAIN is empty): nothing to train on")
        self.data_loader.switch(loaders[0] if len(loaders) == 1 else MixedBatches(loaders))
        logger.info(f"{stage.name}: iterations {stage.start}-{stage.end - 1}, batches of "
                    f"{num_source} source + {num_target} pseudo-labelled target images")


def validate_distill_config(cfg, num_processes: int = 1) -> None:
    """
    Check a distillation config before any training; raise :class:`DistillConfigError` or
    :class:`TargetError` with one line naming the key, dataset or file at fault.

    Checks: the counting view is on; rounds, iterations, ratio, LR and the selection keys
    (threshold mode and calibration, MIN_BOXES, class-agnostic NMS) are sane; SOLVER.MAX_ITER
    is the stages' total; the batch split divides among ``num_processes``; there is a model to
    start from; every target dataset loads (images only) with at least one image and the model's
    classes; no evaluation dataset is a target dataset.
    """
    d = cfg.DISTILL

    def fail(message):
        raise DistillConfigError(message)

    if not cfg.MODEL.DENSITY_HEAD.ENABLED:
        fail("distillation needs the counting view: MODEL.DENSITY_HEAD.ENABLED is False")
    if d.ROUNDS < 1 or d.ITERS_PER_ROUND < 1 or d.SOURCE_ITERS < 0:
        fail(f"DISTILL.ROUNDS={d.ROUNDS} and DISTILL.ITERS_PER_ROUND={d.ITERS_PER_ROUND} must be "
             f">= 1, DISTILL.SOURCE_ITERS={d.SOURCE_ITERS} >= 0")
    if d.REFINE.ENABLED and d.REFINE.ITERS < 1:
        fail(f"DISTILL.REFINE.ITERS={d.REFINE.ITERS} must be >= 1 (or DISTILL.REFINE.ENABLED False)")
    if not 0.0 <= d.TARGET_RATIO <= 1.0:
        fail(f"DISTILL.TARGET_RATIO={d.TARGET_RATIO} must lie in [0, 1]")
    if not d.THRESHOLDS or not all(0.0 <= t < 1.0 for t in d.THRESHOLDS):
        fail(f"DISTILL.THRESHOLDS={tuple(d.THRESHOLDS)} must be non-empty, each in [0, 1)")
    if d.THRESHOLD_MODE not in THRESHOLD_MODES:
        fail(f"DISTILL.THRESHOLD_MODE={d.THRESHOLD_MODE!r}: choose one of {THRESHOLD_MODES}")
    if d.THRESHOLD_MODE == "calibrated" and (
            d.CALIBRATION.SCENES < 1 or not 0 < d.CALIBRATION.PRECISION <= 1
            or not cfg.INPUT.SYNTHESIS.CUTOUT_STORE):
        fail(f"DISTILL.THRESHOLD_MODE 'calibrated' needs DISTILL.CALIBRATION.SCENES >= 1 (is "
             f"{d.CALIBRATION.SCENES}), DISTILL.CALIBRATION.PRECISION in (0, 1] (is "
             f"{d.CALIBRATION.PRECISION}) and a cut-out store in INPUT.SYNTHESIS.CUTOUT_STORE "
             "to synthesize the calibration scenes from")
    if d.MIN_BOXES < 0 or not 0 <= d.AGNOSTIC_NMS_IOU < 1:
        fail(f"DISTILL.MIN_BOXES={d.MIN_BOXES} must be >= 0 and DISTILL.AGNOSTIC_NMS_IOU="
             f"{d.AGNOSTIC_NMS_IOU} in [0, 1)")
    if d.BASE_LR <= 0 or cfg.SOLVER.BASE_LR <= 0:
        fail(f"DISTILL.BASE_LR={d.BASE_LR} and SOLVER.BASE_LR must be > 0")
    if cfg.SOLVER.MAX_ITER != distill_max_iter(cfg):
        fail(f"SOLVER.MAX_ITER={cfg.SOLVER.MAX_ITER} must be {distill_max_iter(cfg)}, the "
             "iterations of DISTILL.* (tools/distill_net.py sets it)")
    for split in (batch_split(cfg, True, True), batch_split(cfg, bool(cfg.DATASETS.TRAIN), False),
                  batch_split(cfg, False, True)):
        if any(n % num_processes for n in split):
            fail(f"SOLVER.IMS_PER_BATCH={cfg.SOLVER.IMS_PER_BATCH} split {split} (source, target) "
                 f"by DISTILL.TARGET_RATIO={d.TARGET_RATIO} does not divide among {num_processes}"
                 " processes")
    if not cfg.MODEL.WEIGHTS and not d.SOURCE_ITERS:
        fail("nothing to distil from: MODEL.WEIGHTS is empty and DISTILL.SOURCE_ITERS is 0")
    check_weights(cfg.MODEL.WEIGHTS)
    if d.SOURCE_ITERS and not cfg.DATASETS.TRAIN:
        fail(f"DISTILL.SOURCE_ITERS={d.SOURCE_ITERS} but DATASETS.TRAIN is empty")
    if not d.TARGET_DATASETS:
        fail("DISTILL.TARGET_DATASETS is empty: name the unlabelled target dataset(s)")
    overlap = set(d.TARGET_DATASETS) & set(d.EVAL_DATASETS)
    if overlap:
        fail(f"DISTILL.EVAL_DATASETS {sorted(overlap)} are target datasets: distillation never "
             "reads target labels (evaluate them after the run)")
    source_classes = None
    if cfg.DATASETS.TRAIN:
        from detectron2.data import MetadataCatalog

        source_classes = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).get("thing_classes", None)
    for name in d.TARGET_DATASETS:
        load_target_images(name)
        classes = target_classes(name)["thing_classes"]
        if len(classes) != cfg.MODEL.ROI_HEADS.NUM_CLASSES:
            raise TargetError(f"target dataset {name!r} has {len(classes)} classes, the model "
                              f"MODEL.ROI_HEADS.NUM_CLASSES={cfg.MODEL.ROI_HEADS.NUM_CLASSES}")
        if source_classes is not None and list(classes) != list(source_classes):
            first = next((i for i, (a, b) in enumerate(zip(classes, source_classes)) if a != b),
                         min(len(classes), len(source_classes)))
            raise TargetError(f"target dataset {name!r} has other classes than the model's "
                              f"training data {cfg.DATASETS.TRAIN[0]!r} (first difference at "
                              f"class {first})")
