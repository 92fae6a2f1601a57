"""
Background removal, coarse stage: a product mask from one single-product training image and its
box, by classical image processing only (no learning). See docs/method.md §2.

Shapes: H x W is the image; an image is H x W x 3 uint8 (BGR, as ``cv2.imread`` gives); a mask is
H x W bool; a box is [x, y, w, h] in pixels (COCO ``bbox``).

Steps, all at a working scale where the crop's longer side is ``work_size`` pixels (so the cost
does not grow with the camera's resolution):

1. crop the box plus a margin;
2. edge detection (Canny on the brightness and on the colour channels): the thresholds come from
   the crop's own gradient statistics (a high percentile of the Sobel magnitude), so weak edges
   (JPEG noise, soft shading, the backdrop's texture) are dropped whatever the image's contrast;
3. morphology: closing joins the product's outline, holes are filled (the outline's inside
   becomes product), an opening removes thin lines that do not enclose anything (turntable rings,
   tick marks, shadows' edges);
4. the object component(s): the largest one and those at least ``keep_fraction`` of its area,
   inside the box;
5. a median filter smooths the outline; the mask is scaled back to the image.

:func:`coarse_confidence` scores how much a coarse mask can be trusted as a training label for the
saliency network (:mod:`.saliency`).
"""
from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ...config import defaults_from_config, settings_from_node

# The Canny high threshold is at least this many times the median gradient magnitude.
_NOISE_FLOOR = 4.0

__all__ = [
    "CoarseMaskParams",
    "box_mask",
    "coarse_confidence",
    "coarse_mask",
    "crop_window",
    "grabcut_mask",
    "keep_object",
]


@dataclass(frozen=True)
@defaults_from_config("CUTOUTS.COARSE")
class CoarseMaskParams:
    """
    Settings of :func:`coarse_mask` (lengths as fractions of the crop's longer side): the keys
    of ``CUTOUTS.COARSE``, lower-cased, with their defaults and meanings (dpsnet_d2/config.py).
    """

    work_size: int
    margin: float
    high_percentile: float
    low_ratio: float
    close_size: float
    open_size: float
    keep_fraction: float
    colour_distance: float
    median_size: int

    @classmethod
    def from_config(cls, cfg) -> "CoarseMaskParams":
        """The settings in ``cfg.CUTOUTS.COARSE``."""
        return settings_from_node(cls, cfg.CUTOUTS.COARSE)


def crop_window(box: Sequence[float], margin: float, height: int, width: int) -> Tuple[int, ...]:
    """
    The box ``[x, y, w, h]`` grown by ``margin`` x its longer side on every side, clipped to the
    image. Returns integer (x0, y0, x1, y1), x1/y1 exclusive; empty when the box misses the image.
    """
    x, y, w, h = (float(v) for v in box)
    m = margin * max(w, h)
    x0 = min(width, max(0, int(np.floor(x - m))))
    y0 = min(height, max(0, int(np.floor(y - m))))
    x1, y1 = min(width, int(np.ceil(x + w + m))), min(height, int(np.ceil(y + h + m)))
    return x0, y0, max(x0, x1), max(y0, y1)


def _kernel(size_px: float) -> np.ndarray:
    k = max(3, int(round(size_px)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def _edges(crop: np.ndarray, high_percentile: float, low_ratio: float) -> np.ndarray:
    """
    Colour Canny edges: per pixel the Sobel gradient of the Lab channel where it is strongest,
    fed to ``cv2.Canny``. The high threshold is the ``high_percentile`` of that magnitude, but at
    least ``noise_floor`` times its median (flat crops would otherwise pick up JPEG noise).
    crop: h x w x 3 uint8 BGR. Returns h x w bool.
    """
    lab = cv2.cvtColor(cv2.GaussianBlur(crop, (3, 3), 0), cv2.COLOR_BGR2Lab)
    gx = cv2.Sobel(lab, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(lab, cv2.CV_16S, 0, 1, ksize=3)
    mag = gx.astype(np.int32) ** 2 + gy.astype(np.int32) ** 2  # h x w x 3
    best = np.argmax(mag, axis=2)[..., None]
    dx = np.ascontiguousarray(np.take_along_axis(gx, best, 2)[..., 0])
    dy = np.ascontiguousarray(np.take_along_axis(gy, best, 2)[..., 0])
    magnitude = np.sqrt(np.take_along_axis(mag, best, 2)[..., 0].astype(np.float32))
    high = max(float(np.percentile(magnitude, high_percentile)),
               _NOISE_FLOOR * float(np.median(magnitude)), 1.0)
    return cv2.Canny(dx, dy, low_ratio * high, high, L2gradient=True) > 0


def _foreground_regions(crop, edges, inside, colour_distance):
    """
    The regions between edges that are not background: region mean colour (Lab) farther than
    ``colour_distance`` from every background sample (pixels of the margin, outside the box).
    crop: h x w x 3 uint8 BGR; edges, inside: h x w bool. Returns h x w bool.
    """
    free = ~cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    labels, n = ndimage.label(free)
    if n == 0:
        return np.zeros_like(edges)
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2Lab).reshape(-1, 3).astype(np.float32)
    counts = np.maximum(np.bincount(labels.ravel(), minlength=n + 1), 1)
    means = np.stack(
        [np.bincount(labels.ravel(), lab[:, c], minlength=n + 1) / counts for c in range(3)], 1
    )
    margin = (~inside & free).ravel()
    if not margin.any():
        fg = np.ones(n + 1, bool)
    else:
        samples = lab[margin][:: max(1, int(margin.sum()) // 2000)]
        distance, _ = cKDTree(samples).query(means)
        fg = distance > colour_distance
    fg[0] = False
    fg = fg[labels]
    # the product's outline itself (edge pixels next to product regions) is product too
    grown = cv2.dilate(fg.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return fg | (grown & ~free)


def coarse_mask(
    image: np.ndarray, box: Sequence[float], params: CoarseMaskParams = CoarseMaskParams()
) -> np.ndarray:
    """
    The coarse product mask of a single-product image.

    Args:
        image: H x W x 3 uint8 BGR.
        box: the product's box [x, y, w, h].
        params: the settings.
    Returns:
        H x W bool, False outside the box; all False when the crop is empty or no closed outline
        is found.
    """
    H, W = image.shape[:2]
    out = np.zeros((H, W), bool)
    x0, y0, x1, y1 = crop_window(box, params.margin, H, W)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    crop = image[y0:y1, x0:x1]
    scale = min(1.0, params.work_size / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    side = max(h, w)
    # the box in working coordinates
    bx, by, bw, bh = (float(v) for v in box)
    bx0, by0 = int(round((bx - x0) * scale)), int(round((by - y0) * scale))
    bx1, by1 = int(round((bx + bw - x0) * scale)), int(round((by + bh - y0) * scale))
    inside = np.zeros((h, w), bool)
    inside[max(0, by0) : max(0, by1), max(0, bx0) : max(0, bx1)] = True

    edges = _edges(small, params.high_percentile, params.low_ratio)
    m = _foreground_regions(small, edges, inside, params.colour_distance)
    m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, _kernel(params.close_size * side))
    m = ndimage.binary_fill_holes(m)
    m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_OPEN, _kernel(params.open_size * side))
    m = keep_object(m.astype(bool) & inside, params.keep_fraction, params.median_size)
    m = m.astype(np.uint8) * 255
    m = cv2.resize(m, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) >= 128
    out[y0:y1, x0:x1] = m
    return out & box_mask(box, H, W)


def keep_object(mask: np.ndarray, keep_fraction: float, median_size: int) -> np.ndarray:
    """
    The object component(s) of a binary mask, holes filled, outline smoothed: the largest
    component and those of at least ``keep_fraction`` of its area, then a median filter of
    aperture ``median_size`` (odd). mask: h x w bool. Returns h x w bool.
    """
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    areas = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(areas >= keep_fraction * areas.max()) + 1
    m = ndimage.binary_fill_holes(np.isin(labels, keep)).astype(np.uint8) * 255
    return cv2.medianBlur(m, median_size | 1) > 0


def box_mask(box: Sequence[float], height: int, width: int) -> np.ndarray:
    """H x W bool, True inside the box (rounded outwards)."""
    x, y, w, h = (float(v) for v in box)
    m = np.zeros((height, width), bool)
    m[max(0, int(np.floor(y))) : max(0, int(np.ceil(y + h))),
      max(0, int(np.floor(x))) : max(0, int(np.ceil(x + w)))] = True  # fmt: skip
    return m


def coarse_confidence(mask: np.ndarray, box: Sequence[float]) -> float:
    """
    How far a coarse mask can be trusted, in [0, 1]: the IoU of the mask's own bounding box with
    the given box. A training box is the product's extent, so a correct mask touches all four
    sides of it; a mask that lost part of the product (an outline not closed) or leaked into the
    background (filled up to the box) does not - or fills the box: a mask covering more than
    97 % of its box is scored 0, as a filled box is what a leak looks like.

    Args:
        mask: H x W bool; box: [x, y, w, h].
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0
    x, y, w, h = (float(v) for v in box)
    if len(xs) > 0.97 * w * h:
        return 0.0
    mx0, my0, mx1, my1 = xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0
    iw = max(0.0, min(mx1, x + w) - max(mx0, x))
    ih = max(0.0, min(my1, y + h) - max(my0, y))
    inter = iw * ih
    union = w * h + (mx1 - mx0) * (my1 - my0) - inter
    return float(inter / union) if union > 0 else 0.0


def grabcut_mask(image: np.ndarray, box: Sequence[float], iterations: int = 5,
                 margin: float = 0.1) -> np.ndarray:
    """
    OpenCV's GrabCut initialised with the box (the baseline a user would try first), on the crop
    of the box plus ``margin``. image: H x W x 3 uint8 BGR. Returns H x W bool.
    """
    H, W = image.shape[:2]
    out = np.zeros((H, W), bool)
    x0, y0, x1, y1 = crop_window(box, margin, H, W)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    x, y, w, h = (int(round(float(v))) for v in box)
    rect = (max(0, x - x0), max(0, y - y0), max(1, min(w, x1 - x)), max(1, min(h, y1 - y)))
    gc = np.zeros(crop.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(crop, gc, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    out[y0:y1, x0:x1] = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    return out
