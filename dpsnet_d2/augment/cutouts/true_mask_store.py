"""
A cut-out store from the embedded synthetic RPC's TRUE product masks (for the embedded set only).

The method builds its cut-outs from masks it estimates itself (background removal, saliency,
pose pruning). The embedded set also ships the true mask of every train image
(``train2019_masks/<stem>.png``, written by its generator for tests), so a store can be built
without that step: for tests, development of the synthesis, and users who skip the masks step on
the embedded set. Real RPC has no such masks. Every cut-out is marked kept (no pose pruning).
"""
import os

import cv2
import numpy as np

from ...data.datasets.rpc_format import image_folder, json_name, load_rpc_json_with_metadata
from ...data.datasets.synthetic import MASK_DIR
from ...utils.images import mask_box
from .store import write_cutout_store

__all__ = ["build_true_mask_store"]


def build_true_mask_store(rpc_root: str, folder: str, *, max_images: int = 0,
                          max_scale: float = 1.0) -> int:
    """
    Write a cut-out store at ``folder`` from the train split of the embedded set at ``rpc_root``
    and its true masks (true masks: embedded set only).

    Args:
        rpc_root: the embedded set's folder (``instances_train2019.json``, ``train2019/``,
            ``train2019_masks/``).
        folder: the store folder (written atomically).
        max_images: use only the first ``max_images`` train images (0: all).
        max_scale: cut-outs are stored at ``min(1, max_scale)`` of their size
            (:func:`.store.cutout_scale_cap`).
    Returns:
        number of cut-outs written.
    Raises:
        FileNotFoundError: no true mask for a train image (not the embedded set).
    """
    dicts, meta = load_rpc_json_with_metadata(
        os.path.join(rpc_root, json_name("train")), os.path.join(rpc_root, image_folder("train"))
    )
    if max_images:
        dicts = dicts[:max_images]
    id_of = {v: k for k, v in meta["thing_dataset_id_to_contiguous_id"].items()}

    def items():
        for d in dicts:
            stem = os.path.splitext(os.path.basename(d["file_name"]))[0]
            mask_file = os.path.join(rpc_root, MASK_DIR, stem + ".png")
            mask = cv2.imread(mask_file, cv2.IMREAD_GRAYSCALE)
            if mask is None:
                raise FileNotFoundError(
                    f"{mask_file}: no true mask for train image {d['file_name']} (true-mask "
                    "stores exist for the embedded synthetic RPC only)"
                )
            image = cv2.imread(d["file_name"], cv2.IMREAD_COLOR)
            if image is None:
                raise FileNotFoundError(f"{d['file_name']}: not a readable image")
            x, y, w, h = mask_box(mask > 127)
            rgba = np.dstack([image[y : y + h, x : x + w, ::-1],
                              np.where(mask[y : y + h, x : x + w] > 127, 255, 0)]).astype(np.uint8)
            sku = int(d["annotations"][0]["category_id"])
            view = stem.split("_view")[1][:2] if "_view" in stem else "-1"
            record = {
                "sku": sku, "category_id": int(id_of[sku]), "image_id": d["image_id"],
                "file_name": os.path.basename(d["file_name"]),
                "view": int(view) if view.lstrip("-").isdigit() else -1,
                "area": float((rgba[..., 3] > 0).sum()) / (d["height"] * d["width"]),
                "ratio": 1.0, "kept": True,
            }
            yield record, rgba

    return write_cutout_store(folder, items(), meta["thing_classes"], max_scale=max_scale)
