"""
A preview grid of the synthetic RPC: turntable train images above checkout test scenes, boxes
drawn, so the domain shift is visible at a glance.

Read from a generated dataset folder when it has the JSON files, else rendered in memory.
"""

import json
import os

import cv2
import numpy as np

from ...utils.file_io import atomic_write_bytes
from ..datasets.rpc_format import image_folder, json_name
from .compose import encode
from .generate import SynthConfig, render_checkout, render_train
from .products import make_catalogue

__all__ = ["make_preview"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PALETTE = np.asarray(
    [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
     (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190)], np.uint8)  # fmt: skip


def _thumb(image_rgb, boxes, category_ids, thumb):
    """
    Resize an RGB uint8 image (H x W x 3) to thumb x thumb (squashed when H != W) and draw its
    boxes (XYWH in image pixels, scaled with the image along each axis), coloured by category.
    """
    sx, sy = thumb / image_rgb.shape[1], thumb / image_rgb.shape[0]
    img = cv2.resize(image_rgb, (thumb, thumb), interpolation=cv2.INTER_AREA)
    for (x, y, w, h), c in zip(boxes, category_ids):
        colour = tuple(int(v) for v in _PALETTE[c % len(_PALETTE)])
        p0 = (int(round(x * sx)), int(round(y * sy)))
        p1 = (int(round((x + w) * sx)), int(round((y + h) * sy)))
        cv2.rectangle(img, p0, p1, colour, 1, cv2.LINE_AA)
    return img


def _from_disk(root, split, count, spread):
    """Up to ``count`` (image RGB uint8, boxes, category ids, caption) of ``split`` in ``root``."""
    with open(os.path.join(root, json_name(split))) as f:
        data = json.load(f)
    images = data["images"]
    if not images:
        return []
    picks = (
        np.linspace(0, len(images) - 1, count).round().astype(int)
        if spread
        else range(min(count, len(images)))
    )
    by_image = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    out = []
    for i in dict.fromkeys(int(p) for p in picks):
        im = images[i]
        bgr = cv2.imread(os.path.join(root, image_folder(split), im["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(
                f"{root}: cannot read image {im['file_name']!r} of {json_name(split)}"
            )
        anns = by_image.get(im["id"], [])
        caption = im.get("level", os.path.splitext(im["file_name"])[0])
        out.append(
            (bgr[..., ::-1], [a["bbox"] for a in anns], [a["category_id"] for a in anns], caption)
        )
    return out


def _in_memory(cfg: SynthConfig, count):
    """``count`` train and ``count`` test samples rendered without writing."""
    catalogue = make_catalogue(cfg.num_skus, cfg.seed)
    total = cfg.count("train")
    train = []
    for i in np.linspace(0, total - 1, count).round().astype(int):
        image, _, rec = render_train(catalogue, cfg, int(i))
        u8 = np.round(image * 255).astype(np.uint8)
        train.append((u8, [rec["bbox"]], [rec["sku_id"]], os.path.splitext(rec["file_name"])[0]))
    test = []
    for i in range(count):
        image, rec = render_checkout(catalogue, cfg, "test", i)
        u8 = np.round(image * 255).astype(np.uint8)
        ids = [catalogue[d["category_index"]].sku_id for d in rec["instances"]]
        test.append((u8, [d["bbox"] for d in rec["instances"]], ids, rec["level"]))
    return train, test


def _section(title, samples, cols, thumb):
    """A titled block of thumbnails: H x (cols * thumb) x 3 uint8."""
    bar = np.full((28, cols * thumb, 3), 30, np.uint8)
    cv2.putText(bar, title, (8, 19), _FONT, 0.55, (240, 240, 240), 1, cv2.LINE_AA)
    rows = [bar]
    for r in range(0, len(samples), cols):
        row = np.full((thumb, cols * thumb, 3), 255, np.uint8)
        for c, (img, boxes, cats, caption) in enumerate(samples[r : r + cols]):
            tile = _thumb(img, boxes, cats, thumb)
            cv2.putText(tile, caption, (4, thumb - 6), _FONT, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(tile, caption, (4, thumb - 6), _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            row[:, c * thumb : (c + 1) * thumb] = tile
        rows.append(row)
    return np.vstack(rows)


def make_preview(
    path: str,
    *,
    root: str = None,
    cfg: SynthConfig = None,
    cols: int = 5,
    rows: int = 2,
    thumb: int = 192,
):
    """
    Save a grid of ``rows`` x ``cols`` train images above ``rows`` x ``cols`` test scenes to
    ``path`` (extension picks the format; JPEG quality 85).

    Args:
        root: a generated dataset folder to read from; when it lacks the JSON files (or is None),
            samples are rendered in memory with ``cfg`` (default :class:`SynthConfig`).

    Returns:
        the grid (H x W x 3 uint8 RGB).
    """
    count = cols * rows
    if root is not None and os.path.isfile(os.path.join(root, json_name("train"))):
        train = _from_disk(root, "train", count, spread=True)
        checkout = "test" if os.path.isfile(os.path.join(root, json_name("test"))) else "val"
        test = _from_disk(root, checkout, count, spread=False)
    else:
        train, test = _in_memory(cfg or SynthConfig(), count)
    grid = np.vstack(
        [
            _section(
                "TRAIN: one product on a turntable (box from the true mask)", train, cols, thumb
            ),
            _section(
                "TEST: checkout scenes, levels easy / medium / hard (visible-extent boxes)",
                test,
                cols,
                thumb,
            ),
        ]
    )
    ext = os.path.splitext(path)[1].lower()
    try:
        data = encode(grid, ".jpg" if ext in (".jpg", ".jpeg") else ext, quality=85)
    except (cv2.error, RuntimeError) as e:
        raise ValueError(f"cannot encode the preview as {ext!r} ({path}); use .jpg or .png") from e
    atomic_write_bytes(path, data)
    return grid

