"""
Preview grids: titled rows of thumbnails with their boxes, shared by the embedded set's preview
and the synthesis preview.

A sample is ``(image, boxes, category_ids, caption)``: image H x W x 3 uint8 RGB, boxes XYWH in
image pixels, one category id per box (colours cycle over a palette of 10).
"""
import json
import os

import cv2
import numpy as np

__all__ = ["read_samples", "thumbnail", "titled_section"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PALETTE = np.asarray(
    [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
     (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190)], np.uint8)  # fmt: skip


def thumbnail(image_rgb, boxes, category_ids, thumb):
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


def read_samples(json_file, image_root, count, spread):
    """
    Up to ``count`` samples (image RGB uint8, boxes, category ids, caption) of a COCO-style json:
    evenly spread over its images when ``spread``, else the first ones. The caption is the
    image's ``level`` if it has one, else its file stem.
    """
    with open(json_file) as f:
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
        bgr = cv2.imread(os.path.join(image_root, im["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(
                f"{image_root}: cannot read image {im['file_name']!r} of {json_file}"
            )
        anns = by_image.get(im["id"], [])
        caption = im.get("level", os.path.splitext(im["file_name"])[0])
        out.append(
            (bgr[..., ::-1], [a["bbox"] for a in anns], [a["category_id"] for a in anns], caption)
        )
    return out


def titled_section(title, samples, cols, thumb):
    """A titled block of thumbnails: H x (cols * thumb) x 3 uint8."""
    bar = np.full((28, cols * thumb, 3), 30, np.uint8)
    cv2.putText(bar, title, (8, 19), _FONT, 0.55, (240, 240, 240), 1, cv2.LINE_AA)
    rows = [bar]
    for r in range(0, len(samples), cols):
        row = np.full((thumb, cols * thumb, 3), 255, np.uint8)
        for c, (img, boxes, cats, caption) in enumerate(samples[r : r + cols]):
            tile = thumbnail(img, boxes, cats, thumb)
            cv2.putText(tile, caption, (4, thumb - 6), _FONT, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(tile, caption, (4, thumb - 6), _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            row[:, c * thumb : (c + 1) * thumb] = tile
        rows.append(row)
    return np.vstack(rows)
