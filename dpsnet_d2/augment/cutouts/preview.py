"""
A picture of the cut-out pipeline: train image -> coarse mask -> refined mask -> cut-out, for a
few SKUs, one kept and one pruned view each (``prepare_rpc.py prune --preview PATH``).
"""
import json
import os
from typing import Dict

import cv2
import numpy as np

from ...utils.file_io import atomic_write_bytes
from .store import CutoutStore
from .prepare_cutouts import cutout_rgba
from .prepare_masks import decode_rle

__all__ = ["make_cutouts_preview"]

TILE = 150
_GREEN, _RED = (60, 200, 60), (60, 60, 230)


def _tile(image: np.ndarray) -> np.ndarray:
    """Fit an image (h x w x 3 BGR) into a TILE x TILE grey square."""
    h, w = image.shape[:2]
    s = TILE / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    out = np.full((TILE, TILE, 3), 90, np.uint8)
    y, x = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def _overlay(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = crop.copy()
    out[mask] = (0.45 * out[mask] + 0.55 * np.array([255, 200, 0])).astype(np.uint8)
    return out


def _checker(rgba: np.ndarray) -> np.ndarray:
    h, w = rgba.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    board = np.where(((yy // 8 + xx // 8) % 2)[..., None] == 0, 200, 150).astype(np.float32)
    a = rgba[..., 3:].astype(np.float32) / 255
    return (rgba[..., 2::-1] * a + board * (1 - a)).astype(np.uint8)  # RGB -> BGR


def make_cutouts_preview(out: str, image_root: str, path: str, num_skus: int = 4) -> str:
    """
    Draw the preview from the outputs of the masks and prune steps in ``out`` and save it to
    ``path`` (.jpg or .png). Returns ``path``.
    """
    store = CutoutStore(os.path.join(out, "cutouts"))
    masks_json = store.info["masks_file"]
    with open(masks_json) as f:
        final = {a["image_id"]: a for a in json.load(f)["annotations"]}
    coarse_json = os.path.join(out, "cutouts_work", "coarse.json")
    coarse = {}
    if os.path.isfile(coarse_json):  # absent with --method grabcut: the column stays empty
        with open(coarse_json) as f:
            coarse = json.load(f)["masks"]
    by_sku: Dict[int, list] = {}
    for i, r in enumerate(store.records):
        by_sku.setdefault(r["sku"], []).append(i)
    skus = sorted(by_sku)
    picked = [skus[int(k)] for k in np.linspace(0, len(skus) - 1, min(num_skus, len(skus)))]
    rows = []
    for sku in picked:
        items = sorted(by_sku[sku], key=lambda i: -store.records[i]["ratio"])
        groups = []
        for i in (items[0], items[-1]):
            r = store.records[i]
            ann = final[r["image_id"]]
            image = cv2.imread(os.path.join(image_root, r["file_name"]))
            x, y, w, h = ann["bbox"]
            m = int(0.1 * max(w, h))
            y0, y1 = max(0, y - m), min(image.shape[0], y + h + m)
            x0, x1 = max(0, x - m), min(image.shape[1], x + w + m)
            crop = image[y0:y1, x0:x1]
            cm = coarse.get(str(ann["id"]))
            cmask = decode_rle(cm["rle"])[y0:y1, x0:x1] if cm else np.zeros(crop.shape[:2], bool)
            fmask = decode_rle(ann["segmentation"])[y0:y1, x0:x1]
            tiles = [_tile(crop), _tile(_overlay(crop, cmask)), _tile(_overlay(crop, fmask)),
                     _tile(_checker(store.get(i) if store.has_pixels(i)  # pruned: not stored
                                    else cutout_rgba(crop, fmask)))]  # fmt: skip
            group = np.concatenate(tiles, axis=1)
            label = f"{store.thing_classes[sku]} view {r['view']}  R={r['ratio']:.2f}"
            label += "  KEPT" if r["kept"] else "  PRUNED"
            colour = _GREEN if r["kept"] else _RED
            cv2.rectangle(group, (0, 0), (group.shape[1] - 1, group.shape[0] - 1), colour, 3)
            bar = np.full((22, group.shape[1], 3), 255, np.uint8)
            cv2.putText(bar, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
            groups.append(np.concatenate([bar, group], axis=0))
        rows.append(np.concatenate([groups[0], np.full((groups[0].shape[0], 10, 3), 255, np.uint8),
                                    groups[1]], axis=1))  # fmt: skip
    header = np.full((26, rows[0].shape[1], 3), 255, np.uint8)
    cols = ["image (box + margin)", "coarse mask", "refined mask", "cut-out"]
    for g in range(2):
        for c, text in enumerate(cols):
            x = g * (4 * TILE + 10) + c * TILE + 6
            cv2.putText(header, text, (x, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                        cv2.LINE_AA)  # fmt: skip
    grid = np.concatenate([header] + rows, axis=0)
    ext = os.path.splitext(path)[1].lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, 88] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, grid, params)
    if not ok:
        raise ValueError(f"cannot encode a preview as {ext!r} ({path})")
    atomic_write_bytes(path, buf.tobytes())
    return path
