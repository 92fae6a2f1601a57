"""
The distillation hook, in the mould of Detectron2's ``EvalHook``: at every stage start it predicts
the target images and calls :func:`dpsnet_d2.distill.rounds.label_stage`, puts the stage's
label-free numbers into EventStorage and has the trainer switch to the stage's loader; at every
stage end it evaluates on the labelled DISTILL.EVAL_DATASETS, finishes ``round_summary.json`` and
saves the stage's checkpoint through the trainer's (atomic) checkpointer.
"""
import copy
import logging
import os
import time

from detectron2.engine import HookBase
from detectron2.utils import comm

from ..data import DPSNetDatasetMapper
from ..density_channels import density_channel_map
from ..distill.rounds import (
    Selection,
    TargetSet,
    distill_stages,
    finish_stage_summary,
    label_stage,
    register_stage_labels,
    stage_scalars,
    write_run_report,
)
from .distill_calibration import ThresholdCalibrator
from .distill_predict import predict_images

__all__ = ["DistillationHook", "save_stage_checkpoint"]

logger = logging.getLogger(__name__)


class DistillationHook(HookBase):
    """
    Runs the stages of :func:`~dpsnet_d2.distill.rounds.distill_stages` inside one training run.
    Needs a :class:`~.distill_trainer.DistillTrainer` (``switch_to_stage`` replaces its loader).
    Resuming inside a stage reads the stage's labels back from disk; resuming at a stage
    boundary predicts again with the same weights.
    """

    def __init__(self, cfg):
        self.cfg = cfg.clone()
        self.stages = distill_stages(cfg)
        # only the image fields of the targets exist in this process: no label is read
        self.targets = TargetSet.load(list(cfg.DISTILL.TARGET_DATASETS))
        self.class_to_channel = density_channel_map(cfg)[1]
        self.mapper = DPSNetDatasetMapper(cfg, False)
        self.calibrator = (ThresholdCalibrator(cfg, self.class_to_channel)
                           if cfg.DISTILL.THRESHOLD_MODE == "calibrated" else None)
        self._train_start = None

    def stage_dir(self, stage):
        return os.path.join(self.cfg.OUTPUT_DIR, stage.name)

    def before_train(self):
        for stage in self.stages:
            if stage.start < self.trainer.iter < stage.end:
                logger.info(f"Resuming inside {stage.name} at iteration {self.trainer.iter}: its "
                            "labels are read back from disk")
                self._start_training(stage)

    def before_step(self):
        for stage in self.stages:
            if self.trainer.iter == stage.start:
                self._begin_stage(stage)

    def after_step(self):
        for stage in self.stages:
            if self.trainer.iter + 1 == stage.end:
                self._finish_stage(stage)

    def after_train(self):
        if self.trainer.iter < self.trainer.max_iter or not comm.is_main_process():
            return
        text = write_run_report(self.cfg.OUTPUT_DIR, self.stages)
        logger.info(f"Distillation finished: {self.cfg.OUTPUT_DIR}/distill_summary.md\n{text}")

    def _begin_stage(self, stage):
        start = time.perf_counter()
        predictions = predict_images(
            self.trainer.model, self.targets.records, self.mapper,
            batch_size=self.cfg.DISTILL.PREDICT_BATCH_SIZE,
            num_workers=self.cfg.DATALOADER.NUM_WORKERS, desc=f"{stage.name}: predict targets",
        )
        tau, tau_info = stage.threshold, None
        if self.calibrator is not None:
            tau, tau_info = self.calibrator(self.trainer.model, stage.threshold,
                                            desc=f"{stage.name}: calibrate tau")
        if comm.is_main_process():
            selection = Selection.from_config(self.cfg, stage, self.class_to_channel, tau)
            previous = [s for s in self.stages if s.end == stage.start]
            summary = label_stage(stage, self.targets, predictions, selection,
                                  self.stage_dir(stage),
                                  predict_seconds=time.perf_counter() - start,
                                  previous_folder=self.stage_dir(previous[0]) if previous else None,
                                  tau_info=tau_info)
            self.trainer.storage.put_scalars(smoothing_hint=False, **stage_scalars(summary))
        comm.synchronize()
        self._start_training(stage)

    def _start_training(self, stage):
        names = register_stage_labels(stage, self.stage_dir(stage), self.targets.image_root)
        self.trainer.switch_to_stage(stage, names)
        self._train_start = time.perf_counter()

    def _finish_stage(self, stage):
        train_seconds = time.perf_counter() - self._train_start
        eval_datasets, results = tuple(self.cfg.DISTILL.EVAL_DATASETS), None
        if eval_datasets:
            eval_cfg = self.cfg.clone()
            eval_cfg.defrost()
            eval_cfg.DATASETS.TEST = eval_datasets
            eval_cfg.OUTPUT_DIR = self.stage_dir(stage)
            results = self.trainer.test(eval_cfg, self.trainer.model)
            if len(eval_datasets) == 1:
                results = {eval_datasets[0]: results}
        if comm.is_main_process():
            finish_stage_summary(self.stage_dir(stage), train_seconds, results)
            save_stage_checkpoint(self.trainer.checkpointer, stage.name, self.trainer.iter)
        comm.synchronize()


def save_stage_checkpoint(checkpointer, stage_name: str, iteration: int) -> None:
    """
    ``<stage>/model_final.pth`` through a copy of the trainer's checkpointer (the same model,
    checkpointables and atomic writes) saving into the stage's folder, then the run's
    ``last_checkpoint`` tag, so that ``--resume`` starts after this stage.
    """
    stage = copy.copy(checkpointer)
    stage.save_dir = os.path.join(checkpointer.save_dir, stage_name)
    stage.save("model_final", iteration=iteration)
    checkpointer.tag_last_checkpoint(f"{stage_name}/model_final.pth")
