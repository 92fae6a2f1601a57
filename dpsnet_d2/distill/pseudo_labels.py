"""
Pseudo labels: the consistent target images and their confident detections as an RPC-format
(COCO style) annotation file, which the RPC loader reads back like any labelled split.

Shape shorthand — D: detections of one image (XYXY boxes in the image's own pixels).
"""
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..data.datasets.rpc import register_rpc_instances

__all__ = [
    "accumulate_pseudo_labels",
    "categories_from_metadata",
    "image_entry",
    "box_annotations",
    "pseudo_label_json",
    "register_pseudo_labels",
]

# Decimals kept for box coordinates (pixels) and scores in the written files.
BOX_DECIMALS = 2
SCORE_DECIMALS = 4


def categories_from_metadata(meta: Dict) -> List[Dict]:
    """
    The ``categories`` list of an RPC file from category metadata (``thing_classes``,
    ``thing_dataset_id_to_contiguous_id`` (None: ids 1..K), and optionally ``supercategories`` +
    ``thing_class_to_supercategory``), in contiguous-id order.
    """
    classes = list(meta["thing_classes"])
    id_map = meta.get("thing_dataset_id_to_contiguous_id") or {k + 1: k for k in range(len(classes))}
    dataset_id = {int(v): int(k) for k, v in id_map.items()}
    supers = meta.get("supercategories")
    class_to_super = meta.get("thing_class_to_supercategory")
    return [
        {
            "id": dataset_id[k],
            "name": name,
            "supercategory": supers[class_to_super[k]] if supers and class_to_super else "product",
        }
        for k, name in enumerate(classes)
    ]


def image_entry(record: Dict, image_root: str, file_name: Optional[str] = None) -> Dict:
    """
    The ``images`` entry of a target record: ``id, file_name`` (relative to ``image_root``, or
    ``file_name`` when given), ``width, height`` and ``level`` when the record has one.
    """
    entry = {
        "id": record["image_id"],
        "file_name": file_name or os.path.relpath(record["file_name"], image_root),
        "width": int(record["width"]),
        "height": int(record["height"]),
    }
    if "level" in record:
        entry["level"] = record["level"]
    return entry


def box_annotations(
    image_id, boxes, scores, classes, *, width: int, height: int, dataset_ids: Sequence[int],
    first_id: int,
) -> List[Dict]:
    """
    RPC ``annotations`` entries for detections of one image.

    Args:
        image_id: the image's id.
        boxes: D x 4 XYXY, image pixels (clipped to the image here).
        scores: (D,) kept as ``score`` (for the audit; the loader ignores it).
        classes: (D,) contiguous class ids; ``dataset_ids[k]`` is the file's id of class k.
        width, height: the image size.
        first_id: the ``id`` of the first entry (then consecutive).
    Returns:
        list of dicts with ``id, image_id, category_id, bbox [x, y, w, h], area, iscrowd,
        segmentation, point_xy, score``; every box at least 1/100 pixel wide and high.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = np.round(np.clip(boxes, 0, [width, height, width, height]), BOX_DECIMALS)
    step = 10.0**-BOX_DECIMALS
    out = []
    for j, ((x0, y0, x1, y1), score, cls) in enumerate(zip(boxes.tolist(), scores, classes)):
        w, h = round(max(x1 - x0, step), BOX_DECIMALS), round(max(y1 - y0, step), BOX_DECIMALS)
        x0, y0 = min(x0, width - w), min(y0, height - h)
        out.append(
            {
                "id": first_id + j,
                "image_id": image_id,
                "category_id": int(dataset_ids[int(cls)]),
                "bbox": [x0, y0, w, h],
                "area": round(w * h, BOX_DECIMALS),
                "iscrowd": 0,
                "segmentation": [],
                "point_xy": [round(x0 + w / 2, BOX_DECIMALS), round(y0 + h / 2, BOX_DECIMALS)],
                "score": round(float(score), SCORE_DECIMALS),
            }
        )
    return out


def pseudo_label_json(
    records: Sequence[Dict], predictions: Sequence[Dict], keep: Sequence, *,
    categories: List[Dict], image_root: str, info: Dict,
) -> Dict:
    """
    The pseudo-label file of a round.

    Args:
        records: the target images (see :func:`dpsnet_d2.distill.targets.load_target_images`).
        predictions: one per record: ``boxes`` (D x 4 XYXY), ``scores`` (D,), ``classes`` (D,).
        keep: one per record: None (image left out) or (D,) bool, the detections that become
            labels.
        categories: the ``categories`` list (:func:`categories_from_metadata`).
        image_root: the folder ``file_name`` entries are relative to.
        info: written as the file's ``info`` (round, threshold, ...).
    Returns:
        dict with ``info, images, annotations, categories``, images in target order.
    """
    dataset_ids = [c["id"] for c in categories]
    images, annotations = [], []
    for record, pred, mask in zip(records, predictions, keep):
        if mask is None:
            continue
        mask = np.asarray(mask, bool)
        images.append(image_entry(record, image_root))
        annotations += box_annotations(
            record["image_id"], np.asarray(pred["boxes"])[mask], np.asarray(pred["scores"])[mask],
            np.asarray(pred["classes"])[mask], width=record["width"], height=record["height"],
            dataset_ids=dataset_ids, first_id=len(annotations) + 1,
        )
    return {"info": info, "images": images, "annotations": annotations, "categories": categories}


def accumulate_pseudo_labels(earlier: Optional[Dict], latest: Dict) -> Dict:
    """
    All images pseudo-labelled so far: the images of ``earlier`` (the accumulated labels of the
    previous rounds, or None) that ``latest`` (this round's file) does not select again, then
    every image of ``latest`` with this round's labels (a later, more confident model relabels
    the images it selects again). Annotation ids are renumbered; ``info`` is ``latest``'s with
    ``accumulated_rounds``.

    Returns:
        dict with ``info, images, annotations, categories`` (the training file of the round).
    """
    if earlier is None:
        return {**latest, "info": {**latest["info"], "accumulated_rounds": 1}}
    fresh = {image["id"] for image in latest["images"]}
    images = [i for i in earlier["images"] if i["id"] not in fresh] + list(latest["images"])
    anns = [a for a in earlier["annotations"] if a["image_id"] not in fresh]
    anns = [{**a, "id": k + 1} for k, a in enumerate(anns + list(latest["annotations"]))]
    rounds = int(earlier["info"].get("accumulated_rounds", 1)) + 1
    return {"info": {**latest["info"], "accumulated_rounds": rounds}, "images": images,
            "annotations": anns, "categories": latest["categories"]}


def register_pseudo_labels(name: str, json_file: str, image_root: str) -> str:
    """Register a written label file as an RPC-format dataset ``name``; return ``name``."""
    register_rpc_instances(name, json_file, image_root)
    return name
