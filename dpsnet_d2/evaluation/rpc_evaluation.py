"""
RPCEvaluator: the RPC check-out leaderboard metrics as a Detectron2 DatasetEvaluator.

Shapes: N images, D detections, K classes, C density channels.

Per level (easy / medium / hard / averaged) and threshold mode (``sweep``: the official
oracle protocol; ``fixed``: ``TEST.RPC_SCORE_THRESH``), plus the counting view when the model
returns "counts": cAcc, mCIoU, ACD, mCCD, count_acc, and COCO mAP50 / mmAP. Definitions are in
:mod:`.rpc_metrics`, rows and notes in :mod:`.rpc_protocol`.
"""
import itertools
import json
import logging
import os
import time

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets.coco import convert_to_coco_dict
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm
from detectron2.utils.file_io import PathManager

from ..utils.cli import UserError
from ..utils.file_io import atomic_write_bytes, write_json_atomic
from .rpc_coco import coco_ground_truth, results_json, rounded_boxes, rpc_report
from .rpc_detections import detections_from_predictions
from .rpc_protocol import RPCGroundTruth, report_metrics, report_text

__all__ = ["RPCEvaluator"]


class RPCEvaluator(DatasetEvaluator):
    """
    Evaluate check-out counting (cAcc, mCIoU, ACD, mCCD) and detection (mAP50, mmAP) as the
    RPC leaderboard, in two threshold modes, per level.

    ``evaluate()`` returns ``{"rpc": {"<level>/<mode>/<metric>": float, "<level>/mAP50": ...}}``
    on the main process (None on the others), logs the leaderboard table, and writes
    ``rpc_results.json`` (table, per-level details, sweep passes, notes) and
    ``bbox_results.json`` (COCO results with the dataset's ids, readable by ``rpctool``) into
    ``output_dir``.
    """

    def __init__(self, dataset_name, output_dir=None, *, score_threshold=None, distributed=True,
                 compute_map=True):
        """
        Args:
            dataset_name (str): a registered dataset whose dicts carry "image_id", optional
                "level" and annotations with contiguous "category_id" (docs/method.md §1.2); its
                metadata gives "thing_classes", and optionally "thing_dataset_id_to_contiguous_id"
                and "json_file" (used for COCO AP when the file exists).
            output_dir (str or None): where to write the JSON files; None writes nothing.
            score_threshold (float or None): threshold of the ``fixed`` mode, in [0, 1];
                None reports the ``sweep`` mode only.
            distributed (bool): gather the predictions of all ranks and evaluate on the main one.
            compute_map (bool): compute mAP50 / mmAP (COCO box AP; the slowest part).
        """
        if score_threshold is not None and not 0.0 <= float(score_threshold) <= 1.0:
            raise ValueError(f"score_threshold must lie in [0, 1]; got {score_threshold}")
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._score_threshold = None if score_threshold is None else float(score_threshold)
        self._distributed = distributed
        self._compute_map = compute_map
        self._metadata = MetadataCatalog.get(dataset_name)
        self._logger = logging.getLogger(__name__)
        self._ground_truth = None
        self.reset()

    def reset(self):
        self._predictions = []

    def process(self, inputs, outputs):
        """
        Keep per image its id, detections (XYWH boxes in the output's image coordinates,
        scores, contiguous classes) and "counts" (C,) when the model returns them.
        """
        for inp, out in zip(inputs, outputs):
            record = {"image_id": inp["image_id"]}
            instances = out.get("instances")
            if instances is not None:
                xyxy = instances.pred_boxes.tensor.detach().cpu().float().numpy()  # (D, 4)
                record["boxes"] = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
                record["scores"] = instances.scores.detach().cpu().float().numpy()
                record["classes"] = instances.pred_classes.detach().cpu().numpy().astype(np.int64)
            if "counts" in out:
                record["counts"] = out["counts"].detach().cpu().float().numpy().reshape(-1)
            self._predictions.append(record)

    def evaluate(self):
        predictions = self._predictions
        if self._distributed:
            comm.synchronize()
            predictions = list(itertools.chain(*comm.gather(predictions, dst=0)))
            if not comm.is_main_process():
                return None
        if not predictions:
            self._logger.warning(f"RPCEvaluator on {self._dataset_name}: no predictions received")
            return {}
        start = time.perf_counter()
        report = self._evaluate(predictions)
        self._logger.info(
            f"RPC evaluation of {self._dataset_name} ({len(predictions)} images, "
            f"{time.perf_counter() - start:.1f} s):\n{report_text(report)}"
        )
        if self._output_dir:
            write_json_atomic(os.path.join(self._output_dir, "rpc_results.json"), report)
        return {"rpc": report_metrics(report)}

    def ground_truth(self):
        """The dataset's :class:`RPCGroundTruth` (read once)."""
        if self._ground_truth is None:
            num_classes = len(self._metadata.thing_classes)
            if hasattr(self._metadata, "thing_dataset_id_to_contiguous_id"):
                mapping = self._metadata.thing_dataset_id_to_contiguous_id
                reverse = {v: k for k, v in mapping.items()}
                category_ids = [reverse[k] for k in range(num_classes)]
            else:
                category_ids = list(range(num_classes))
            self._ground_truth = RPCGroundTruth.from_dataset_dicts(
                DatasetCatalog.get(self._dataset_name), category_ids, source=self._dataset_name
            )
        return self._ground_truth

    def _coco_gt(self):
        json_file = self._metadata.get("json_file")
        if json_file and PathManager.exists(json_file):
            with PathManager.open(json_file) as f:
                return coco_ground_truth(json.load(f), source=json_file)
        return coco_ground_truth(convert_to_coco_dict(self._dataset_name),
                                 source=self._dataset_name)

    def _evaluate(self, predictions):
        """The report of all gathered predictions; writes ``bbox_results.json`` on the way."""
        gt_all = self.ground_truth()
        source = f"predictions on {self._dataset_name}"
        image_ids = [p["image_id"] for p in predictions]
        index = gt_all.index_of(image_ids, source=source)
        if len(np.unique(index)) != len(index):
            raise UserError(f"{source}: an image was predicted more than once")
        if len(index) < gt_all.num_images:
            self._logger.warning(f"{source}: {len(index)} of {gt_all.num_images} images were "
                                 "predicted; evaluating those only")
        gt = gt_all.subset(index)  # gt image j = predictions[j]
        # boxes to 0.001 px, as bbox_results.json holds them: AP is computed from the same
        det = rounded_boxes(detections_from_predictions(predictions, gt.num_classes,
                                                        source=source))
        counts = _counts(predictions, source)
        if self._output_dir:
            atomic_write_bytes(os.path.join(self._output_dir, "bbox_results.json"),
                               results_json(gt, det).encode())
        return rpc_report(
            gt, det, dataset=self._dataset_name, score_threshold=self._score_threshold,
            counts=counts, coco_gt=self._coco_gt() if self._compute_map else None,
        )


def _counts(predictions, source):
    """(N, C) density counts, or None when the model returned none."""
    has = [("counts" in p) for p in predictions]
    if not any(has):
        return None
    if not all(has) or len({p["counts"].shape for p in predictions}) != 1:
        raise ValueError(f"{source}: 'counts' must be present with the same length on every image")
    return np.stack([p["counts"] for p in predictions])
