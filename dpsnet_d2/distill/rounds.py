"""
The rounds of iterative knowledge distillation (docs/method.md §4): the stage plan, the batch
split, and :func:`label_stage`, which turns a stage's predictions on the target images into its
label files. The training hook (:class:`dpsnet_d2.engine.DistillationHook`) calls it at every
stage start, ``tools/benchmark_distill.py`` times it; it reads no target label.

Stages: an optional source-only phase (DISTILL.SOURCE_ITERS iterations), rounds 0..ROUNDS-1 of
DISTILL.ITERS_PER_ROUND iterations each, then the instance-level refinement (DISTILL.REFINE.*).
Files of a stage, in ``OUTPUT_DIR/<stage name>/``::

    pseudo_labels.json     the consistent target images with their kept boxes (this round's)
    training_labels.json   DISTILL.ACCUMULATE: every image pseudo-labelled so far (what trains)
    refined_labels.json    refinement: the confident boxes of the other images, on painted copies
    images/                refinement: the painted copies (PNG)
    round_summary.json     the stage's label-free numbers; at its end training time and eval
    model_final.pth        the model at the stage's end (written by the trainer's checkpointer)

Shape shorthand of a prediction (:func:`dpsnet_d2.engine.distill_predict.predict_images`) — D:
detections of one image, C: density channels: ``boxes`` D x 4 XYXY, ``scores`` (D,),
``classes`` (D,), ``counts`` (C,).
"""
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
from detectron2.data.detection_utils import read_image

from ..utils import atomic_write_bytes, read_json, write_json_atomic
from .consistency import ConsistencyResult, check_consistency, count_gap, threshold_for_round
from .calibration import apply_agnostic_nms
from .pseudo_labels import (
    accumulate_pseudo_labels,
    categories_from_metadata,
    pseudo_label_json,
    register_pseudo_labels,
)
from .refinement import paint_boxes, split_detections
from .report import progress_png, summary_markdown
from .targets import load_target_images, target_classes

__all__ = [
    "DistillStage", "PSEUDO_LABELS", "REFINED_LABELS", "ROUND_SUMMARY", "Selection", "TargetSet",
    "TRAINING_LABELS",
    "batch_split", "distill_max_iter", "distill_stages", "finish_stage_summary", "label_stage",
    "register_stage_labels", "stage_scalars", "write_run_report",
]  # fmt: skip

logger = logging.getLogger(__name__)

# File names inside OUTPUT_DIR/<stage>/.
PSEUDO_LABELS = "pseudo_labels.json"
TRAINING_LABELS = "training_labels.json"
REFINED_LABELS = "refined_labels.json"
ROUND_SUMMARY = "round_summary.json"
REFINED_IMAGES = "images"


@dataclass(frozen=True)
class DistillStage:
    """
    One stage: ``name`` (``round_{r}`` or ``refine``, also its folder under OUTPUT_DIR),
    ``index`` (r; the refinement takes index ROUNDS), iterations [start, end), tau, and whether
    it is the instance-level refinement.
    """

    name: str
    index: int
    start: int
    end: int
    threshold: float
    refine: bool = False


def distill_stages(cfg) -> List[DistillStage]:
    """The stages of ``cfg.DISTILL``: rounds 0..ROUNDS-1, then the refinement when enabled."""
    d = cfg.DISTILL
    stages, start = [], d.SOURCE_ITERS
    for r in range(d.ROUNDS):
        tau = threshold_for_round(d.THRESHOLDS, r)
        stages.append(DistillStage(f"round_{r}", r, start, start + d.ITERS_PER_ROUND, tau))
        start += d.ITERS_PER_ROUND
    if d.REFINE.ENABLED:
        tau = threshold_for_round(d.THRESHOLDS, d.ROUNDS)
        stages.append(DistillStage("refine", d.ROUNDS, start, start + d.REFINE.ITERS, tau, True))
    return stages


def distill_max_iter(cfg) -> int:
    """Total iterations: SOURCE_ITERS + ROUNDS x ITERS_PER_ROUND (+ REFINE.ITERS)."""
    return distill_stages(cfg)[-1].end if cfg.DISTILL.ROUNDS else cfg.DISTILL.SOURCE_ITERS


def batch_split(cfg, have_source: bool, have_target: bool) -> Tuple[int, int]:
    """(source, target) images of each training batch of SOLVER.IMS_PER_BATCH (all processes)."""
    total = cfg.SOLVER.IMS_PER_BATCH
    if not have_target:
        return total, 0
    if not have_source:
        return 0, total
    target = int(round(total * cfg.DISTILL.TARGET_RATIO))
    return total - target, target


@dataclass(frozen=True)
class Selection:
    """
    How a stage selects its pseudo labels from the predictions (one place to extend):

    * ``threshold`` (tau) and ``min_boxes``: an image is consistent when its detections above tau
      count what its density map counts, per channel of ``class_to_channel``
      (:func:`~.consistency.check_consistency`); its kept boxes become pseudo labels;
    * ``nms_iou``: class-agnostic NMS on the detections before they are counted (0: none);
    * ``accumulate``: the stage trains on every image pseudo-labelled so far;
    * ``refine``: the instance-level refinement also labels the other images' detections above
      ``label_threshold`` and paints those between ``paint_min_score`` and it
      (:func:`~.refinement.split_detections`).
    """

    threshold: float
    class_to_channel: Tuple[int, ...]
    min_boxes: int
    refine: bool = False
    nms_iou: float = 0.0
    accumulate: bool = False
    label_threshold: float = 0.0
    paint_min_score: float = 0.0

    @classmethod
    def from_config(cls, cfg, stage: DistillStage, class_to_channel: Sequence[int],
                    threshold: Optional[float] = None):
        """The selection of ``stage`` under ``cfg.DISTILL`` (``threshold``: a calibrated tau
        instead of the stage's scheduled one)."""
        d = cfg.DISTILL
        tau = stage.threshold if threshold is None else float(threshold)
        return cls(threshold=tau, class_to_channel=tuple(class_to_channel),
                   min_boxes=d.MIN_BOXES, refine=stage.refine, nms_iou=d.AGNOSTIC_NMS_IOU,
                   accumulate=d.ACCUMULATE,
                   label_threshold=d.REFINE.SCORE_THRESH, paint_min_score=d.REFINE.PAINT_MIN_SCORE)

    def check(self, prediction: Dict) -> ConsistencyResult:
        """The consistency check of one image's prediction."""
        p = prediction
        return check_consistency(p["scores"], p["classes"], p["counts"], threshold=self.threshold,
                                 class_to_channel=self.class_to_channel, min_boxes=self.min_boxes)


@dataclass(frozen=True)
class TargetSet:
    """The target images as the rounds see them: ``records`` (image fields only, no label), the
    ``image_root`` they share, the ``categories`` of the label files, the dataset ``names``."""

    records: List[Dict]
    image_root: str
    categories: List[Dict]
    names: Tuple[str, ...]

    @classmethod
    def load(cls, names: Sequence[str]) -> "TargetSet":
        records = [r for name in names for r in load_target_images(name)]
        root = os.path.commonpath([os.path.dirname(r["file_name"]) for r in records])
        return cls(records, root, categories_from_metadata(target_classes(names[0])), tuple(names))


def label_stage(stage: DistillStage, targets: TargetSet, predictions: Sequence[Dict],
                selection: Selection, folder: str, *, predict_seconds: float = 0.0,
                previous_folder: Optional[str] = None, tau_info: Optional[Dict] = None) -> Dict:
    """
    Select the pseudo labels of ``stage`` from ``predictions`` (one per target record, in order)
    and write the stage's files in ``folder``: ``pseudo_labels.json``, with
    ``selection.accumulate`` ``training_labels.json`` (these and ``previous_folder``'s training
    labels), for the refinement also ``refined_labels.json`` and ``images/``, and
    ``round_summary.json`` (status "training"; ``tau_info``, how tau was chosen, goes into it).

    Returns:
        the summary written (label-free numbers: consistency per level, pseudo boxes, count gap).
    """
    records = targets.records
    if 0 < selection.nms_iou < 1:
        predictions = apply_agnostic_nms(predictions, selection.nms_iou)
    checks = [selection.check(p) for p in predictions]
    info = {"stage": stage.name, "round": stage.index, "threshold": selection.threshold,
            "min_boxes": selection.min_boxes, "agnostic_nms_iou": selection.nms_iou}
    keep = [c.keep if c.consistent else None for c in checks]
    data = pseudo_label_json(records, predictions, keep, categories=targets.categories,
                             image_root=targets.image_root, info=info)
    write_json_atomic(os.path.join(folder, PSEUDO_LABELS), data)
    training = None
    if selection.accumulate and not selection.refine:
        earlier = None
        if previous_folder and os.path.isfile(os.path.join(previous_folder, TRAINING_LABELS)):
            earlier = read_json(os.path.join(previous_folder, TRAINING_LABELS))
        training = accumulate_pseudo_labels(earlier, data)
        write_json_atomic(os.path.join(folder, TRAINING_LABELS), training)
    levels, consistent = Counter(), Counter()
    for record, check in zip(records, checks):
        level = record.get("level", "all")
        levels[level] += 1
        consistent[level] += check.consistent
    n = sum(consistent.values())
    summary = {
        "stage": stage.name, "round": stage.index, "refine": stage.refine,
        "target_datasets": list(targets.names),
        "threshold": selection.threshold, "iterations": [stage.start, stage.end],
        "target_images": len(records), "consistent_images": n,
        "consistency_rate": n / len(records),
        "levels": {k: {"images": levels[k], "consistent": consistent[k],
                       "rate": consistent[k] / levels[k]} for k in levels},
        "pseudo_boxes": len(data["annotations"]),
        "training_images": len((training or data)["images"]),
        "tau": tau_info or {"mode": "schedule"},
        "count_gap": count_gap(checks),
        "predict_seconds": round(predict_seconds, 2), "status": "training",
    }
    if selection.refine:
        summary.update(_write_refined(targets, predictions, checks, selection, folder, info))
    if n == 0:
        logger.warning(f"{stage.name}: no target image is consistent at tau "
                       f"{selection.threshold}; this stage trains on what else it has")
    write_json_atomic(os.path.join(folder, ROUND_SUMMARY), summary)
    logger.info(f"{stage.name}: {n} / {len(records)} target images consistent at tau "
                f"{selection.threshold} ({100 * summary['consistency_rate']:.1f} %), "
                f"{summary['pseudo_boxes']} pseudo boxes; confident detections minus "
                f"density count per image: median {summary['count_gap']['median']:+.0f}, "
                f"within one object on {100 * summary['count_gap']['within_1']:.1f} %")
    return summary


def _write_refined(targets: TargetSet, predictions, checks, selection: Selection, folder: str,
                   info: Dict) -> Dict:
    """Painted copies of the failed images with a confident box, and their labels."""
    image_dir = os.path.join(folder, REFINED_IMAGES)
    records, kept, masks, painted = [], [], [], 0
    for record, pred, check in zip(targets.records, predictions, checks):
        split = None if check.consistent else split_detections(
            pred["scores"], label_threshold=selection.label_threshold,
            paint_min_score=selection.paint_min_score)
        if split is None:
            continue
        label, paint = split
        image = paint_boxes(read_image(record["file_name"], format="RGB"), pred["boxes"][paint])
        name = os.path.splitext(os.path.relpath(record["file_name"], targets.image_root))[0]
        path = os.path.join(image_dir, name + ".png")
        atomic_write_bytes(path, cv2.imencode(".png", image[:, :, ::-1])[1].tobytes())
        records.append({**record, "file_name": path})
        kept.append(pred)
        masks.append(label)
        painted += int(paint.sum())
    data = pseudo_label_json(records, kept, masks, categories=targets.categories,
                             image_root=image_dir, info={**info, "refined": True})
    write_json_atomic(os.path.join(folder, REFINED_LABELS), data)
    logger.info(f"{info['stage']}: {len(records)} failed images refined, "
                f"{len(data['annotations'])} confident boxes kept, {painted} boxes painted")
    return {"refined_images": len(records), "refined_boxes": len(data["annotations"]),
            "painted_boxes": painted}


def stage_scalars(summary: Dict) -> Dict[str, float]:
    """The label-free numbers of a stage's summary for EventStorage (``distill/*``)."""
    scalars = {"distill/stage": summary["round"], "distill/tau": summary["threshold"],
               "distill/consistency_rate": summary["consistency_rate"],
               "distill/pseudo_boxes": summary["pseudo_boxes"]}
    if "refined_boxes" in summary:
        scalars["distill/refined_boxes"] = summary["refined_boxes"]
    return scalars


def register_stage_labels(stage: DistillStage, folder: str, image_root: str) -> List[str]:
    """
    Register the stage's label files (as written in ``folder``) that hold a box; return their
    dataset names. A missing file (a resume inside a stage whose labels were never written)
    is a FileNotFoundError.
    """
    accumulated = os.path.isfile(os.path.join(folder, TRAINING_LABELS))
    files = [(TRAINING_LABELS if accumulated else PSEUDO_LABELS, image_root)]
    if stage.refine:
        files.append((REFINED_LABELS, os.path.join(folder, REFINED_IMAGES)))
    names = []
    for file_name, root in files:
        path = os.path.join(folder, file_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is missing: cannot resume inside {stage.name}")
        if read_json(path)["annotations"]:
            name = f"distill_{stage.name}_{os.path.splitext(file_name)[0]}"
            names.append(register_pseudo_labels(name, path, root))
    return names


def finish_stage_summary(folder: str, train_seconds: float, results: Optional[Dict]) -> None:
    """Mark the stage's summary finished, with its training time and evaluation results."""
    path = os.path.join(folder, ROUND_SUMMARY)
    summary = read_json(path)
    summary.update(status="finished", train_seconds=round(train_seconds, 2),
                   eval=json.loads(json.dumps(results)) if results else None)
    write_json_atomic(path, summary)


def write_run_report(output_dir: str, stages: Sequence[DistillStage]) -> str:
    """``distill_summary.md`` and ``distill_progress.png`` of the stages that wrote a summary;
    returns the markdown."""
    paths = [os.path.join(output_dir, s.name, ROUND_SUMMARY) for s in stages]
    summaries = [read_json(p) for p in paths if os.path.isfile(p)]
    text = summary_markdown(summaries)
    atomic_write_bytes(os.path.join(output_dir, "distill_summary.md"), text.encode())
    atomic_write_bytes(os.path.join(output_dir, "distill_progress.png"), progress_png(summaries))
    return text
