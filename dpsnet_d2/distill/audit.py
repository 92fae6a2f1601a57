"""
Pseudo-label audit, for analysis after a run (tools/audit_pseudo_labels.py): how trustworthy is
the consistency check? Compares the written label files with the target ground truth. Nothing
in the training path imports this module; it reads ground truth only to measure.

Shape shorthand — P: pseudo boxes of one image, G: ground-truth boxes of one image.
"""
import os
from typing import Dict, List

import numpy as np

from ..evaluation.view_metrics import match_detections
from ..utils.cli import FileFormatError, read_json
from .report import stage_folders

__all__ = ["AUDIT_FILE", "audit_label_file", "audit_markdown", "audit_run", "match_image"]

# Written into each stage folder by tools/audit_pseudo_labels.py.
AUDIT_FILE = "audit.json"

# The label files a distillation stage writes, audited in this order.
LABEL_FILES = ("pseudo_labels.json", "refined_labels.json")


def _by_image(data: Dict, path: str) -> Dict[int, List[Dict]]:
    """{image id: its annotations} of an RPC json; a FileFormatError names ``path`` and the
    record that lacks a key."""
    try:
        out = {image["id"]: [] for image in data["images"]}
        for i, a in enumerate(data["annotations"]):
            if not isinstance(a.get("bbox"), list) or len(a["bbox"]) != 4:
                raise FileFormatError(path, f"annotations[{i}]", "no 'bbox' of 4 numbers")
            out.setdefault(a["image_id"], []).append(a)
    except (KeyError, TypeError, AttributeError) as e:
        raise FileFormatError(path, "file", f"not an RPC json (lacks {e})") from e
    return out


def _xyxy(annotations) -> np.ndarray:
    boxes = np.array([a["bbox"] for a in annotations], dtype=np.float64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def match_image(pseudo: List[Dict], truth: List[Dict], iou_threshold: float = 0.5) -> int:
    """
    True positives of one image: pseudo boxes (highest ``score`` first) matched greedily to
    unmatched ground-truth boxes of the same ``category_id`` with IoU >= ``iou_threshold``
    (:func:`dpsnet_d2.evaluation.view_metrics.match_detections` on the annotations).
    """
    hits = match_detections(_xyxy(pseudo), [a.get("score", 1.0) for a in pseudo],
                            [a["category_id"] for a in pseudo], _xyxy(truth),
                            [a["category_id"] for a in truth], iou_threshold)
    return int(hits.sum())


def audit_label_file(path: str, truth: Dict, iou_threshold: float = 0.5) -> Dict:
    """
    Args:
        path: a written label file (RPC json; its image ids are the target's).
        truth: the target's ground-truth RPC json (a dict).
    Returns:
        ``images`` labelled, ``pseudo_boxes``, ``gt_boxes`` (in the labelled images),
        ``precision`` and ``recall`` (box, with class, at IoU ``iou_threshold``; None when
        undefined), ``count_acc``: fraction of labelled images whose per-class count of
        pseudo boxes equals the ground truth's, and ``entirely_correct``: fraction whose pseudo
        boxes match their ground truth one to one.
    """
    pseudo, gt = _by_image(read_json(path), path), _by_image(truth, "the ground truth")
    hits = num_pseudo = num_gt = exact = correct = 0
    for image_id, boxes in pseudo.items():
        if image_id not in gt:
            raise ValueError(f"{path}: image id {image_id} is not in the ground truth")
        true = gt[image_id]
        found = match_image(boxes, true, iou_threshold)
        hits += found
        correct += found == len(boxes) == len(true)
        num_pseudo, num_gt = num_pseudo + len(boxes), num_gt + len(true)
        count = sorted(a["category_id"] for a in boxes)
        exact += count == sorted(a["category_id"] for a in true)
    n = len(pseudo)
    return {
        "images": n, "pseudo_boxes": num_pseudo, "gt_boxes": num_gt,
        "precision": hits / num_pseudo if num_pseudo else None,
        "recall": hits / num_gt if num_gt else None,
        "count_acc": exact / n if n else None,
        "entirely_correct": correct / n if n else None,
    }


def audit_run(output_dir: str, truth_json: str, iou_threshold: float = 0.5) -> List[Dict]:
    """Audit every label file of every stage folder of a distillation run, in stage order."""
    truth = read_json(truth_json)
    _by_image(truth, truth_json)
    stages = [os.path.join(output_dir, name) for name in stage_folders(output_dir)]
    rows = []
    for folder in stages:
        for name in LABEL_FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                row = audit_label_file(path, truth, iou_threshold)
                rows.append({"stage": os.path.basename(folder), "file": name,
                             "target_images": len(truth["images"]), **row})
    return rows


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def audit_markdown(rows: List[Dict]) -> str:
    """The audit rows as a markdown table (the section added to ``distill_summary.md``)."""
    lines = ["| stage | labels | images | pseudo boxes | precision % | recall % | "
             "count acc % | entirely correct % |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stage']} | {r['file']} | {r['images']} / {r['target_images']} | "
                     f"{r['pseudo_boxes']} | {_pct(r['precision'])} | {_pct(r['recall'])} | "
                     f"{_pct(r['count_acc'])} | {_pct(r.get('entirely_correct'))} |")
    return "\n".join(lines) + "\n"
