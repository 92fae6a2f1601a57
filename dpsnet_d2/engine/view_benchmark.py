"""
Do DPSNet's two views agree on correct images? The measurements of tools/benchmark_views.py for
one checkpoint: the counting view on a labelled target set, the detection view's recall at a
fixed precision on held-out synthesized scenes, and the consistency check on the target at the
published tau and at the tau calibrated on a synthesized (source) calibration set. Target labels
are read here to *measure*; the calibrated tau never sees them.

Shape shorthand — D: detections, G: ground-truth objects of an image.
"""
import logging
from typing import Dict, List, Sequence

import numpy as np
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import DatasetCatalog
from detectron2.structures import BoxMode

from ..augment.synthesis.heldout_scenes import heldout_scenes
from ..data import DPSNetDatasetMapper
from ..distill.calibration import calibrate_threshold, selection_quality, threshold_grid
from ..evaluation.view_metrics import counting_view_metrics, recall_at_precision
from ..modeling.density import density_channel_map
from .distill_predict import ArrayImageMapper, predict_images
from .trainer import DPSNetTrainer

__all__ = ["ViewSets", "measure_views", "target_truths"]

logger = logging.getLogger(__name__)


def target_truths(records: Sequence[Dict]) -> List[Dict]:
    """Ground truth of labelled dataset dicts: ``boxes`` G x 4 XYXY, ``classes``, size."""
    out = []
    for r in records:
        anns = r.get("annotations", [])
        boxes = np.array([BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS)
                          for a in anns], np.float32).reshape(-1, 4)
        out.append({"boxes": boxes, "classes": np.array([a["category_id"] for a in anns],
                                                         np.int64),
                    "height": r["height"], "width": r["width"]})
    return out


class ViewSets:
    """
    The labelled image sets of the measurement, built once for every checkpoint: the target
    dataset's records, and the synthesized ``calibration`` and ``heldout`` scenes.
    """

    def __init__(self, cfg, target: str, num_calibration: int, num_heldout: int):
        self.target_records = DatasetCatalog.get(target)
        self.target_truths = target_truths(self.target_records)
        self.calibration = heldout_scenes(cfg, "calibration", num_calibration)
        self.heldout = heldout_scenes(cfg, "heldout", num_heldout)
        logger.info(f"view sets: {len(self.target_records)} {target} images, "
                    f"{len(self.calibration)} calibration and {len(self.heldout)} held-out scenes")


def measure_views(cfg, weights: str, sets: ViewSets, *, published_tau: float = 0.8,
                  target_precision: float = 0.95, detection_precision: float = 0.9,
                  min_boxes: Sequence[int] = (0, 3), nms_iou: float = 0.5) -> Dict:
    """
    Measure one checkpoint.

    Returns:
        dict: ``weights``, ``iteration`` (trained iterations, from the checkpoint),
        ``counting_target`` / ``counting_heldout`` (see
        :func:`counting_view_metrics`), ``detection_heldout`` (recall at
        ``detection_precision``, and at ``published_tau``), ``calibrated_tau`` (None when the
        calibration set reaches ``target_precision`` at no tau), and ``consistency``: one row per
        (tau mode, min_boxes, class-agnostic NMS on/off) with :func:`selection_quality`'s
        measures on the target.
    """
    model = DPSNetTrainer.build_model(cfg)
    saved = DetectionCheckpointer(model).load(weights)
    batch = max(1, cfg.SOLVER.IMS_PER_BATCH)
    target = predict_images(model, sets.target_records, DPSNetDatasetMapper(cfg, False),
                            batch_size=batch, desc="target", keep_density=True)
    arrays = ArrayImageMapper(cfg)
    calib = predict_images(model, sets.calibration, arrays, batch_size=batch, desc="calibration")
    held = predict_images(model, sets.heldout, arrays, batch_size=batch, desc="held-out",
                          keep_density=True)
    _, class_to_channel = density_channel_map(cfg)
    grid = threshold_grid(0.05, 0.99)
    detection = recall_at_precision(held, sets.heldout, detection_precision, grid)
    at_tau = recall_at_precision(held, sets.heldout, 0.0, [published_tau])
    detection.update(published_tau=published_tau, recall_at_published_tau=at_tau["recall"],
                     precision_at_published_tau=at_tau["precision"])
    rows, calibrated = [], {}
    for mb in min_boxes:
        for nms in (0.0, nms_iou):
            tau, _ = calibrate_threshold(calib, sets.calibration, target_precision=target_precision,
                                         class_to_channel=class_to_channel, min_boxes=mb,
                                         nms_iou=nms)
            calibrated[(mb, nms)] = tau
            for mode, t in (("published", published_tau), ("calibrated", tau)):
                if t is None:
                    rows.append({"mode": mode, "threshold": None, "min_boxes": mb, "nms": nms})
                    continue
                q = selection_quality(target, sets.target_truths, threshold=t,
                                      class_to_channel=class_to_channel, min_boxes=mb,
                                      nms_iou=nms)
                q.pop("selected_ids")
                rows.append({"mode": mode, "threshold": t, "min_boxes": mb, "nms": nms, **q})
    return {
        "weights": weights,
        "iteration": int(saved["iteration"]) + 1 if "iteration" in saved else None,
        "counting_target": counting_view_metrics(target, sets.target_truths),
        "counting_heldout": counting_view_metrics(held, sets.heldout),
        "detection_heldout": detection,
        "calibrated_tau": {f"min_boxes={k[0]},nms={k[1]}": v for k, v in calibrated.items()},
        "consistency": rows,
    }
