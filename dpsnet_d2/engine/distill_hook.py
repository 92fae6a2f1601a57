"""
The distillation hook: at every stage boundary of a :class:`DistillTrainer` run, predict all
target images with the current model, keep the consistent ones as pseudo labels (and, in the
refinement stage, the confident boxes of the others on painted copies), write them, and rebuild
the training loader as source + pseudo-labelled target images. At every stage end: evaluate on
the labelled DISTILL.EVAL_DATASETS, write ``round_summary.json`` and the stage's checkpoint.
"""
import io
import json
import logging
import os
import time
from collections import Counter

import cv2
import torch
from detectron2.data.detection_utils import read_image
from detectron2.engine import HookBase
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng

from ..data import DPSNetDatasetMapper
from ..distill.consistency import check_consistency, count_gap
from ..distill.pseudo_labels import categories_from_metadata, pseudo_label_json, register_pseudo_labels
from ..distill.refinement import paint_boxes, split_detections
from ..distill.report import progress_png, summary_markdown
from ..distill.targets import load_target_images, target_classes
from ..density_channels import density_channel_map
from ..utils import atomic_write_bytes, read_json, write_json_atomic
from .distill_predict import predict_images
from .distill_trainer import MixedBatches, batch_split, distill_stages

__all__ = ["DistillationHook", "PSEUDO_LABELS", "REFINED_LABELS", "ROUND_SUMMARY"]

logger = logging.getLogger(__name__)

# File names inside OUTPUT_DIR/<stage>/.
PSEUDO_LABELS = "pseudo_labels.json"
REFINED_LABELS = "refined_labels.json"
ROUND_SUMMARY = "round_summary.json"
REFINED_IMAGES = "images"


class DistillationHook(HookBase):
    """
    Runs the stages of :func:`distill_stages` inside one training run (see module docstring).
    Needs a :class:`DistillTrainer` (its ``data_loader`` is switchable, its class builds the
    source and target loaders). Resuming inside a stage reads the stage's labels back from disk;
    resuming at a stage boundary predicts again with the same weights.
    """

    def __init__(self, cfg):
        self.cfg = cfg.clone()
        self.stages = distill_stages(cfg)
        self.output_dir = cfg.OUTPUT_DIR
        names = list(cfg.DISTILL.TARGET_DATASETS)
        # Only the image fields of the targets exist in this process: no label is read.
        self.records = [r for name in names for r in load_target_images(name)]
        self.image_root = os.path.commonpath([os.path.dirname(r["file_name"]) for r in self.records])
        self.categories = categories_from_metadata(target_classes(names[0]))
        self.num_channels, self.class_to_channel = density_channel_map(cfg)
        self.mapper = DPSNetDatasetMapper(cfg, False)
        self._train_start = None

    def stage_dir(self, stage):
        return os.path.join(self.output_dir, stage.name)

    # ---------------------------------------------------------------------------------------- #
    def before_train(self):
        start = self.trainer.iter
        for stage in self.stages:
            if stage.start < start < stage.end:
                logger.info(f"Resuming inside {stage.name} at iteration {start}: its labels are "
                            "read back from disk")
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
        paths = [os.path.join(self.stage_dir(s), ROUND_SUMMARY) for s in self.stages]
        summaries = [read_json(p) for p in paths if os.path.isfile(p)]
        atomic_write_bytes(os.path.join(self.output_dir, "distill_summary.md"),
                           summary_markdown(summaries).encode())
        atomic_write_bytes(os.path.join(self.output_dir, "distill_progress.png"),
                           progress_png(summaries))
        logger.info(f"Distillation finished: {self.output_dir}/distill_summary.md\n"
                    + summary_markdown(summaries))

    # ---------------------------------------------------------------------------------------- #
    def _begin_stage(self, stage):
        d = self.cfg.DISTILL
        start = time.perf_counter()
        predictions = predict_images(
            self.trainer.model, self.records, self.mapper, batch_size=d.PREDICT_BATCH_SIZE,
            num_workers=self.cfg.DATALOADER.NUM_WORKERS, desc=f"{stage.name}: predict targets",
        )
        if comm.is_main_process():
            self._write_labels(stage, predictions, time.perf_counter() - start)
        comm.synchronize()
        self._start_training(stage)

    def _write_labels(self, stage, predictions, predict_seconds):
        d, folder = self.cfg.DISTILL, self.stage_dir(stage)
        checks = [
            check_consistency(p["scores"], p["classes"], p["counts"], threshold=stage.threshold,
                              class_to_channel=self.class_to_channel, min_boxes=d.MIN_BOXES)
            for p in predictions
        ]
        info = {"stage": stage.name, "round": stage.index, "threshold": stage.threshold,
                "min_boxes": d.MIN_BOXES}
        keep = [c.keep if c.consistent else None for c in checks]
        data = pseudo_label_json(self.records, predictions, keep, categories=self.categories,
                                 image_root=self.image_root, info=info)
        write_json_atomic(os.path.join(folder, PSEUDO_LABELS), data)
        levels, consistent = Counter(), Counter()
        for record, check in zip(self.records, checks):
            level = record.get("level", "all")
            levels[level] += 1
            consistent[level] += check.consistent
        n = sum(consistent.values())
        summary = {
            "stage": stage.name, "round": stage.index, "refine": stage.refine,
            "target_datasets": list(d.TARGET_DATASETS),
            "threshold": stage.threshold, "iterations": [stage.start, stage.end],
            "target_images": len(self.records), "consistent_images": n,
            "consistency_rate": n / len(self.records),
            "levels": {k: {"images": levels[k], "consistent": consistent[k],
                           "rate": consistent[k] / levels[k]} for k in levels},
            "pseudo_boxes": len(data["annotations"]),
            "count_gap": count_gap(checks),
            "predict_seconds": round(predict_seconds, 2), "status": "training",
        }
        if stage.refine:
            summary.update(self._write_refined(stage, predictions, checks, info))
        if n == 0:
            logger.warning(f"{stage.name}: no target image is consistent at tau "
                           f"{stage.threshold}; this stage trains on what else it has")
        write_json_atomic(os.path.join(folder, ROUND_SUMMARY), summary)
        logger.info(f"{stage.name}: {n} / {len(self.records)} target images consistent at tau "
                    f"{stage.threshold} ({100 * summary['consistency_rate']:.1f} %), "
                    f"{summary['pseudo_boxes']} pseudo boxes; confident detections minus "
                    f"density count per image: median {summary['count_gap']['median']:+.0f}, "
                    f"within one object on {100 * summary['count_gap']['within_1']:.1f} %")

    def _write_refined(self, stage, predictions, checks, info):
        """Painted copies of the failed images with a confident box, and their labels."""
        r = self.cfg.DISTILL.REFINE
        image_dir = os.path.join(self.stage_dir(stage), REFINED_IMAGES)
        records, kept, masks, painted = [], [], [], 0
        for record, pred, check in zip(self.records, predictions, checks):
            split = None if check.consistent else split_detections(
                pred["scores"], label_threshold=r.SCORE_THRESH, paint_min_score=r.PAINT_MIN_SCORE)
            if split is None:
                continue
            label, paint = split
            image = paint_boxes(read_image(record["file_name"], format="RGB"),
                                pred["boxes"][paint])
            name = os.path.splitext(os.path.relpath(record["file_name"], self.image_root))[0]
            path = os.path.join(image_dir, name + ".png")
            atomic_write_bytes(path, cv2.imencode(".png", image[:, :, ::-1])[1].tobytes())
            records.append({**record, "file_name": path})
            kept.append(pred)
            masks.append(label)
            painted += int(paint.sum())
        data = pseudo_label_json(records, kept, masks, categories=self.categories,
                                 image_root=image_dir, info={**info, "refined": True})
        write_json_atomic(os.path.join(self.stage_dir(stage), REFINED_LABELS), data)
        logger.info(f"{stage.name}: {len(records)} failed images refined, "
                    f"{len(data['annotations'])} confident boxes kept, {painted} boxes painted")
        return {"refined_images": len(records), "refined_boxes": len(data["annotations"]),
                "painted_boxes": painted}

    def _start_training(self, stage):
        """Register the stage's label files (as written on disk) and switch the loader."""
        folder, names = self.stage_dir(stage), []
        files = [(PSEUDO_LABELS, self.image_root)]
        if stage.refine:
            files.append((REFINED_LABELS, os.path.join(folder, REFINED_IMAGES)))
        for file_name, image_root in files:
            path = os.path.join(folder, file_name)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path} is missing: cannot resume inside {stage.name}")
            if read_json(path)["annotations"]:
                name = f"distill_{stage.name}_{os.path.splitext(file_name)[0]}"
                names.append(register_pseudo_labels(name, path, image_root))
        trainer, cfg = self.trainer, self.cfg
        if cfg.SEED >= 0:
            # every stage draws its data order and augmentations from its own seed, so a run
            # resumed at a stage boundary trains exactly as an uninterrupted one
            seed_all_rng(cfg.SEED + 1000 * (stage.index + 1))
        num_source, num_target = batch_split(cfg, bool(cfg.DATASETS.TRAIN), bool(names))
        loaders = []
        if num_source:
            loaders.append(trainer.build_source_loader(cfg, num_source))
        if num_target:
            loaders.append(trainer.build_target_loader(cfg, names, num_target))
        if not loaders:
            raise RuntimeError(f"{stage.name}: no pseudo label and no source data "
                               "(DATASETS.TRAIN is empty): nothing to train on")
        trainer.data_loader.switch(loaders[0] if len(loaders) == 1 else MixedBatches(loaders))
        logger.info(f"{stage.name}: iterations {stage.start}-{stage.end - 1}, batches of "
                    f"{num_source} source + {num_target} pseudo-labelled target images")
        self._train_start = time.perf_counter()

    def _finish_stage(self, stage):
        train_seconds = time.perf_counter() - self._train_start
        d, folder = self.cfg.DISTILL, self.stage_dir(stage)
        results = None
        if d.EVAL_DATASETS:
            eval_cfg = self.cfg.clone()
            eval_cfg.defrost()
            eval_cfg.DATASETS.TEST = tuple(d.EVAL_DATASETS)
            eval_cfg.OUTPUT_DIR = folder
            results = self.trainer.test(eval_cfg, self.trainer.model)
            if len(d.EVAL_DATASETS) == 1:
                results = {d.EVAL_DATASETS[0]: results}
        if comm.is_main_process():
            path = os.path.join(folder, ROUND_SUMMARY)
            summary = read_json(path)
            summary.update(status="finished", train_seconds=round(train_seconds, 2),
                           eval=json.loads(json.dumps(results)) if results else None)
            write_json_atomic(path, summary)
            self._save_checkpoint(stage)
        comm.synchronize()

    def _save_checkpoint(self, stage):
        """``<stage>/model_final.pth`` (as Detectron2's checkpoints), written atomically, then
        tagged as the last checkpoint so that ``--resume`` starts after this stage."""
        checkpointer = self.trainer.checkpointer
        data = {"model": checkpointer.model.state_dict()}
        for key, obj in checkpointer.checkpointables.items():
            data[key] = obj.state_dict()
        data["iteration"] = self.trainer.iter
        buffer = io.BytesIO()
        torch.save(data, buffer)
        relative = os.path.join(stage.name, "model_final.pth")
        atomic_write_bytes(os.path.join(self.output_dir, relative), buffer.getvalue())
        atomic_write_bytes(os.path.join(self.output_dir, "last_checkpoint"), relative.encode())
