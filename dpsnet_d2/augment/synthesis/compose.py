"""
Pasting cut-outs onto a background: one item on top of the earlier ones under a visibility rule,
then the annotations of what stays visible (steps 2-4 of :mod:`.scene_synthesis`).

Shapes: H x W is the scene (the background's size); N: products annotated in the scene. Images
are uint8 RGB; a cut-out is h x w x 4 uint8 RGBA with alpha 0 / 255 and RGB 0 under alpha 0 (the
cut-out store's format), so a warped edge pixel is un-premultiplied by its alpha: its colour
comes from the product only, never from the hidden pixels around it.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ...utils.images import mask_box

__all__ = ["RULES", "SynthesizedScene", "compose_scene"]

# Visibility rules of the placement.
RULES = ("mask", "box_iou")


@dataclass
class SynthesizedScene:
    """
    One synthesized scene.

    Attributes:
        image: H x W x 3 uint8 RGB.
        boxes: N x 4 float32 XYXY (pixel edges), tight to each item's visible pixels.
        classes: (N,) int64 contiguous class ids (the store's ``sku``).
        visible: (N,) float32 visible fraction of each item.
        cutouts: (N,) int64 store indices of the items (from :func:`compose_scene` alone: indices
            into its ``cutouts`` list).
        masks: N x H x W bool visible masks, or None when not asked for.
        level: "easy", "medium" or "hard" ("" when not known).
        full: (N,) int64 whole-mask pixels of each item.
        whole_boxes: rule "box_iou": M x 4 float32 XYXY of every pasted item's whole mask, in
            paste order; else None.
        skipped: cut-outs that found no place.
        shrunk: times a cut-out was scaled down to fit inside the scene.
    """

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    visible: np.ndarray
    cutouts: np.ndarray
    masks: Optional[np.ndarray]
    level: str
    full: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    whole_boxes: Optional[np.ndarray] = None
    skipped: int = 0
    shrunk: int = 0


@dataclass
class _Stack:
    """
    The scene while items are pasted. ``label`` (H x W uint8): 0 counter, j + 1 item j on top;
    per pasted item j: ``full`` / ``visible`` pixels, ``placed`` (x0, y0, w, h) of its paste,
    ``src`` its index in the cut-out list; ``whole`` (rule "box_iou") XYXY of each whole mask.
    """

    image: np.ndarray
    label: np.ndarray
    full: List[int] = field(default_factory=list)
    visible: List[int] = field(default_factory=list)
    placed: List[Tuple[int, int, int, int]] = field(default_factory=list)
    src: List[int] = field(default_factory=list)
    whole: List[Tuple[float, float, float, float]] = field(default_factory=list)


def _transform_cutout(rgba: np.ndarray, angle: float, scale: float):
    """
    Rotate (counter-clockwise, degrees) and scale a cut-out on an expanded canvas.

    Returns:
        rgb h' x w' x 3 uint8, mask h' x w' bool and the same mask as uint8 0/1 (h' x w' the
        rotated, scaled cut-out's bounding rectangle); None if it vanished.
    """
    h, w = rgba.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(w * cos + h * sin)), int(math.ceil(w * sin + h * cos))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    out = cv2.warpAffine(rgba, m, (max(nw, 1), max(nh, 1)), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = out[..., 3]
    mask = alpha >= 128
    if not mask.any():
        return None
    # edge pixels are mixed with hidden (RGB 0) ones: un-premultiply, rgb x 255 / alpha (where
    # alpha is 255 this is the identity; below 128 the pixel is not pasted)
    rgb = cv2.divide(cv2.cvtColor(out, cv2.COLOR_RGBA2RGB), cv2.merge([alpha, alpha, alpha]),
                     scale=255.0)
    return rgb, mask, mask.view(np.uint8)


def _covered(region: np.ndarray, mask_u8: np.ndarray, n: int) -> np.ndarray:
    """
    Pixels of items 1..n of the label-map ``region`` (h x w uint8) under ``mask_u8`` (h x w,
    0/1): (n,) int64, the visible pixels of each earlier item that a paste there would hide.
    """
    hist = cv2.calcHist([region], [0], mask_u8, [n + 1], [0, n + 1])
    return hist.reshape(-1)[1:].astype(np.int64)


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one XYXY box (4,) with M XYXY boxes (M x 4) -> (M,)."""
    if not len(boxes):
        return np.zeros(0)
    wh = np.clip(np.minimum(box[2:], boxes[:, 2:]) - np.maximum(box[:2], boxes[:, :2]), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter)


def _fit(rgba: np.ndarray, angle: float, scale: float, factor: float, H: int, W: int):
    """
    The cut-out transformed at ``scale * factor``, scale lowered until it fits an H x W scene.

    Returns:
        (item or None, the lowered scale, number of times it was lowered); item as
        :func:`_transform_cutout`.
    """
    item, shrunk = _transform_cutout(rgba, angle, scale * factor), 0
    while item is not None and (item[1].shape[0] > H or item[1].shape[1] > W):
        scale *= 0.98 * min(H / item[1].shape[0], W / item[1].shape[1])
        item = _transform_cutout(rgba, angle, scale * factor)
        shrunk += 1
    return item, scale, shrunk


def _find_place(stack: _Stack, rgba: np.ndarray, rng: np.random.Generator, *, scale_range,
                rule: str, min_visible: float, max_iou: float, max_tries: int,
                cutout_scale: float = 1.0):
    """
    Draw a rotation, scale and up to ``max_tries`` positions for one cut-out (it shrinks by 15 %
    every ``max_tries // 4`` refused positions) until the visibility rule accepts one. The drawn
    scale is for the cut-out's source pixels; ``cutout_scale`` is stored / source pixels.

    Returns:
        (place, shrunk): place is (item, x0, y0, covered, tight) or None when nothing fitted;
        covered (n,) the earlier items' pixels it hides (rule "mask", else None), tight (4,)
        XYXY of its mask in its own frame (rule "box_iou", else None).
    """
    H, W = stack.label.shape
    angle = rng.uniform(0.0, 360.0)
    scale = rng.uniform(*scale_range) / cutout_scale
    shrink_every = max(1, max_tries // 4)
    item, tight, shrunk = None, None, 0
    for t in range(max_tries):
        if item is None or (t and t % shrink_every == 0):
            item, scale, n = _fit(rgba, angle, scale, 0.85 ** (t // shrink_every), H, W)
            shrunk += n
            if item is None:  # scaled to nothing
                break
            if rule == "box_iou":
                x, y, bw, bh = mask_box(item[1])
                tight = np.asarray([x, y, x + bw, y + bh], np.float64)
        h, w = item[1].shape
        x0, y0 = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
        if rule == "box_iou":
            box = tight + (x0, y0, x0, y0)
            ok = bool(np.all(_box_iou(box, np.asarray(stack.whole, np.float64)) <= max_iou))
            covered = None
        else:
            covered = _covered(stack.label[y0 : y0 + h, x0 : x0 + w], item[2], len(stack.full))
            ok = all(v - c >= min_visible * f
                     for v, c, f in zip(stack.visible, covered, stack.full))
        if ok:
            return (item, x0, y0, covered, tight), shrunk
    return None, shrunk


def _paste(stack: _Stack, place, k: int) -> None:
    """Paste cut-out ``k`` at its place on top of the stack (image, label map, counts)."""
    (rgb, mask, mask_u8), x0, y0, covered, tight = place
    h, w = mask.shape
    if covered is None:
        covered = _covered(stack.label[y0 : y0 + h, x0 : x0 + w], mask_u8, len(stack.full))
        stack.whole.append(tuple(tight + (x0, y0, x0, y0)))
    stack.visible = [v - int(c) for v, c in zip(stack.visible, covered)]
    n = int(mask.sum())
    stack.full.append(n)
    stack.visible.append(n)
    cv2.copyTo(rgb, mask_u8, stack.image[y0 : y0 + h, x0 : x0 + w])
    stack.label[y0 : y0 + h, x0 : x0 + w][mask] = len(stack.full)
    stack.placed.append((x0, y0, w, h))
    stack.src.append(k)


def _annotate(stack: _Stack, drop_below: float, with_masks: bool):
    """
    The items at least ``drop_below`` visible (and not hidden): their stack indices (N,), boxes
    N x 4 float32 XYXY tight to their visible pixels, and N x H x W bool masks (or None).
    """
    keep = [j for j, (v, f) in enumerate(zip(stack.visible, stack.full))
            if v >= drop_below * f and v > 0]
    H, W = stack.label.shape
    boxes = np.zeros((len(keep), 4), np.float32)
    masks = np.zeros((len(keep), H, W), bool) if with_masks else None
    for i, j in enumerate(keep):
        x0, y0, w, h = stack.placed[j]
        vis = stack.label[y0 : y0 + h, x0 : x0 + w] == j + 1
        x, y, bw, bh = mask_box(vis)
        boxes[i] = (x0 + x, y0 + y, x0 + x + bw, y0 + y + bh)
        if with_masks:
            masks[i, y0 : y0 + h, x0 : x0 + w] = vis
    return keep, boxes, masks


def compose_scene(
    background: np.ndarray,
    cutouts: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    scale_range: Tuple[float, float] = (0.4, 0.7),
    rule: str = "mask",
    min_visible: float = 0.5,
    max_iou: float = 0.5,
    drop_below: float = 0.5,
    max_tries: int = 40,
    with_masks: bool = False,
    classes: Optional[Sequence[int]] = None,
    level: str = "",
    cutout_scales: Optional[Sequence[float]] = None,
) -> SynthesizedScene:
    """
    Paste ``cutouts`` (in order, each on top of the earlier ones) onto ``background``.

    Args:
        background: H x W x 3 uint8 RGB (not modified).
        cutouts: h x w x 4 uint8 RGBA each (alpha 0 / 255).
        rng: the random generator (rotation, scale, positions).
        scale_range: (lo, hi), each item's scale is uniform in it (cut-out pixels -> scene).
        rule, min_visible, max_iou, drop_below, max_tries: see :mod:`.scene_synthesis`.
        with_masks: also return the visible masks.
        classes: the class id of each cut-out (default: its index in ``cutouts``).
        level: stored in the scene.
        cutout_scales: per cut-out, its stored / source pixels (the store's ``scale``; default
            1): ``scale_range`` is for source pixels, so a scene's geometry does not depend on
            the resolution a store keeps.
    Returns:
        the :class:`SynthesizedScene`; its ``cutouts`` index ``cutouts``.
    """
    if rule not in RULES:
        raise ValueError(f"visibility rule {rule!r}; choose one of {RULES}")
    if len(cutouts) > 254:
        raise ValueError(f"{len(cutouts)} cut-outs in one scene; at most 254")
    stack = _Stack(image=background.copy(), label=np.zeros(background.shape[:2], np.uint8))
    skipped = shrunk = 0
    for k, rgba in enumerate(cutouts):
        place, n = _find_place(stack, rgba, rng, scale_range=scale_range, rule=rule,
                               min_visible=min_visible, max_iou=max_iou, max_tries=max_tries,
                               cutout_scale=cutout_scales[k] if cutout_scales is not None else 1.0)
        shrunk += n
        if place is None:
            skipped += 1
            continue
        _paste(stack, place, k)
    keep, boxes, masks = _annotate(stack, drop_below, with_masks)
    items = np.asarray([stack.src[j] for j in keep], np.int64)
    whole = np.asarray(stack.whole, np.float32).reshape(-1, 4) if rule == "box_iou" else None
    return SynthesizedScene(
        image=stack.image, boxes=boxes,
        classes=np.asarray(classes, np.int64)[items] if classes is not None else items.copy(),
        visible=np.asarray([stack.visible[j] / stack.full[j] for j in keep], np.float32),
        cutouts=items, masks=masks, level=level,
        full=np.asarray([stack.full[j] for j in keep], np.int64),
        whole_boxes=whole,
        skipped=skipped, shrunk=shrunk,
    )
