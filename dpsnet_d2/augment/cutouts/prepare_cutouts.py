"""
The ``prune`` step of ``tools/prepare_rpc.py``: pose pruning on the final masks, then the cut-out
store (:mod:`.store`: every view indexed, pixels of the kept ones only, at most at the scale
synthesis uses) and a per-SKU report.

Outputs, in ``out``::

    cutouts/               the store (index.json + pixels.bin); records carry ``kept``
    cutouts_report.json    theta, per-SKU rows (:func:`.pose_pruning.pruning_report`), warnings

Resuming: the store records a signature of the masks file and the settings; when it matches and
the report exists, the step is skipped. Both are written atomically (the store as a folder).
"""
import json
import logging
import os
from typing import Dict

import cv2
import numpy as np
from tqdm import tqdm

from ...data.datasets.rpc_format import load_rpc_categories
from ...data.datasets.rpc_records import RPCFormatError
from ...utils.cli import UserError, read_json
from ...utils.file_io import atomic_write_bytes
from ...utils.parallel import imap_tasks
from .store import ENCODINGS, CutoutStore, write_cutout_store
from .pose_pruning import DEFAULT_THETA, parse_view, prune_poses, pruning_report
from .prepare_masks import decode_rle, file_digest

__all__ = ["STORE_DIR", "REPORT_FILE", "run_prune", "cutout_rgba"]

logger = logging.getLogger(__name__)

STORE_DIR = "cutouts"
REPORT_FILE = "cutouts_report.json"


def cutout_rgba(image_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The tight RGBA crop of a product. image_bgr: H x W x 3 uint8; mask: H x W bool (not
    empty). Returns h x w x 4 uint8, RGB order, alpha 255 on the mask and 0 elsewhere."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = image_bgr[y0:y1, x0:x1, ::-1]
    alpha = mask[y0:y1, x0:x1].astype(np.uint8) * 255
    return np.ascontiguousarray(np.concatenate([rgb, alpha[..., None]], axis=2))


def _cutout_task(args):
    """The cut-out of one annotation (None: unreadable image, or a pruned view, ``rle`` None,
    which is not read: the store indexes it without pixels)."""
    path, rle = args
    if rle is None:
        return None
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        return None
    return cutout_rgba(image, decode_rle(rle))


def run_prune(masks_json: str, image_root: str, out: str, *, theta: float = DEFAULT_THETA,
              max_scale: float = 1.0, encoding: str = "webp", workers: int = 1,
              overwrite: bool = False) -> Dict:  # fmt: skip
    """
    Pose-prune the annotations of ``masks_json`` (written by the masks step) and write the store
    and the report into ``out``; cut-outs are stored at ``min(1, max_scale)`` of their size
    (:func:`.store.cutout_scale_cap` of the training config) in ``encoding`` (:data:`.store.
    ENCODINGS`). Returns a summary: ``store``,
    ``report``, ``cutouts``, ``kept``, ``warnings`` (list), ``skipped`` (bool: outputs were up to
    date). A store of other inputs or settings is replaced only with ``overwrite``; a theta that
    keeps no view is an error.
    """
    if not 0.0 <= theta < 1.0:
        raise UserError(f"--theta {theta}: must lie in [0, 1) (views with R > theta are kept, "
                        "R <= 1)")
    if not max_scale > 0:
        raise UserError(f"--max-scale {max_scale}: must be > 0")
    if encoding not in ENCODINGS:
        raise UserError(f"encoding {encoding!r}: choose one of {sorted(ENCODINGS)}")
    signature = f"{file_digest(masks_json)}-{theta!r}-{min(1.0, float(max_scale))!r}"
    if encoding != "webp":  # the first compact stores were all WebP: their signatures hold
        signature += f"-{encoding}"
    store_dir, report_path = os.path.join(out, STORE_DIR), os.path.join(out, REPORT_FILE)
    if os.path.isfile(report_path) and os.path.isdir(store_dir):
        try:
            store = CutoutStore(store_dir)
        except (OSError, ValueError):
            store = None
        if store is not None and store.info.get("signature") == signature:
            logger.info(f"prune: {store_dir} is up to date, skipped")
            with open(report_path) as f:
                report = json.load(f)
            return {"store": store_dir, "report": report_path, "cutouts": len(store),
                    "kept": int(len(store.kept())), "warnings": report["warnings"],
                    "skipped": True}  # fmt: skip
        if not overwrite:
            raise UserError(f"{store_dir} holds a cut-out store of other inputs or settings: "
                            "pass --overwrite to replace it")

    data = read_json(masks_json, RPCFormatError, object_only=True)
    meta = load_rpc_categories(masks_json)
    to_sku = meta["thing_dataset_id_to_contiguous_id"]
    images = {im["id"]: im for im in data["images"]}
    anns = [a for a in data["annotations"] if isinstance(a.get("segmentation"), dict)]
    if len(anns) < len(data["annotations"]):
        raise UserError(f"{masks_json}: {len(data['annotations']) - len(anns)} annotations have "
                         "no RLE segmentation: not a masks file of the masks step")  # fmt: skip
    records = []
    for a in anns:
        im = images[a["image_id"]]
        records.append({
            "sku": int(to_sku[a["category_id"]]), "category_id": int(a["category_id"]),
            "image_id": int(a["image_id"]), "file_name": im["file_name"],
            "view": parse_view(im["file_name"]),
            "area": float(a["area"]) / float(im["width"] * im["height"]),
            "source_shape": [round(a["bbox"][3]), round(a["bbox"][2])],
        })  # fmt: skip
    ratio, kept = prune_poses([r["area"] for r in records], [r["sku"] for r in records], theta)
    for r, q, k in zip(records, ratio, kept):
        r["ratio"], r["kept"] = round(float(q), 6), bool(k)
    if not kept.any():
        raise UserError(f"{masks_json}: pose pruning at theta {theta} keeps none of "
                        f"{len(records)} views: nothing to write")
    rows, warnings = pruning_report(records, meta["thing_classes"])
    missing = sorted(set(range(len(meta["thing_classes"]))) - {r["sku"] for r in records})
    for sku in missing:
        warnings.append(f"SKU {meta['thing_classes'][sku]!r} (sku {sku}) has no kept view: no "
                        f"annotation with a mask in {masks_json}; it gets no cut-out")  # fmt: skip
    for w in warnings:
        logger.warning(w)

    jobs = [(os.path.join(image_root, r["file_name"]), a["segmentation"] if r["kept"] else None)
            for r, a in zip(records, anns)]  # fmt: skip
    cutouts = imap_tasks(_cutout_task, jobs, workers)

    def items():
        for r, rgba in tqdm(zip(records, cutouts), total=len(records), desc="cut-outs"):
            if rgba is None and r["kept"]:
                path = os.path.join(image_root, r["file_name"])
                raise UserError(f"cannot read image {path} (image_id {r['image_id']}) while "
                                "writing the cut-outs")  # fmt: skip
            yield r, rgba

    info = {"theta": theta, "signature": signature, "masks_file": os.path.abspath(masks_json)}
    count = write_cutout_store(store_dir, items(), meta["thing_classes"], info=info,
                               max_scale=max_scale, encoding=encoding)
    report = {"theta": theta, "cutouts": count, "kept": int(kept.sum()), "skus": rows,
              "warnings": warnings}  # fmt: skip
    atomic_write_bytes(report_path, json.dumps(report, indent=1).encode())
    return {"store": store_dir, "report": report_path, "cutouts": count, "kept": int(kept.sum()),
            "warnings": warnings, "skipped": False}  # fmt: skip
