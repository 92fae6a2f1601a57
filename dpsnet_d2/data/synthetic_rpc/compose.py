"""
Image-composition helpers shared by the turntable and checkout renderers (a mask's box and image
encoding are in :mod:`dpsnet_d2.utils.images`).

Shapes: S x S (or H x W) canvases are float32 RGB in [0, 1]; sprites are premultiplied RGB
(h x w x 3) with an alpha (h x w), as returned by :func:`render_product.render_view`.
"""

import math

import cv2
import numpy as np

__all__ = [
    "AA",
    "SHIFT",
    "grain",
    "smooth_noise",
    "smooth_field",
    "rotate_sprite",
    "resize_sprite",
    "cast_shadow",
    "paste",
]

# OpenCV drawing in the renderers: anti-aliased, with SHIFT fractional bits in fixed-point
# coordinates (pass a coordinate c as round(c * (1 << SHIFT))).
AA = cv2.LINE_AA
SHIFT = 4


def grain(rng, shape):
    """
    Fast per-pixel noise of zero mean and unit variance: the sum of two uniform random bytes
    (a triangular distribution), several times faster than Gaussian sampling at image size.

    Returns:
        float32 array of ``shape``.
    """
    a = rng.integers(0, 256, size=shape, dtype=np.uint8).astype(np.float32)
    a += rng.integers(0, 256, size=shape, dtype=np.uint8)
    a -= 255.0
    a *= 1.0 / 104.5
    return a


def smooth_noise(rng, shape, cells: int):
    """
    Low-frequency noise: a ``cells`` x ``cells`` grid of N(0, 1) values, bicubically upsampled.

    Returns:
        float32 array of ``shape`` (H, W).
    """
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def smooth_field(fn, shape, cells: int = 64):
    """
    A smooth field computed cheaply: ``fn(xx, yy)`` on a ``cells`` x ``cells`` grid of normalised
    coordinates in [0, 1] (float32), bilinearly upsampled to ``shape`` (H, W).

    Returns:
        float32 array of ``shape``.
    """
    t = (np.arange(cells, dtype=np.float32) + 0.5) / cells
    field = np.asarray(fn(t[None, :], t[:, None]), np.float32)
    field = np.broadcast_to(field, (cells, cells)).copy()
    return cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def rotate_sprite(rgb, alpha, angle_deg: float):
    """
    Rotate a premultiplied sprite in-plane (counter-clockwise) on an expanded canvas.

    Returns:
        rgb (h' x w' x 3), alpha (h' x w'), trimmed to the non-zero alpha.
    """
    H, W = alpha.shape
    rad = math.radians(angle_deg)
    c, s = abs(math.cos(rad)), abs(math.sin(rad))
    nw, nh = int(math.ceil(W * c + H * s)) + 2, int(math.ceil(W * s + H * c)) + 2
    M = cv2.getRotationMatrix2D((W / 2, H / 2), angle_deg, 1.0)
    M[:, 2] += (nw / 2 - W / 2, nh / 2 - H / 2)
    rgba = cv2.warpAffine(
        np.dstack([rgb, alpha]), M, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0
    )
    ys, xs = np.nonzero(rgba[..., 3] > 1e-3)
    rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def resize_sprite(rgb, alpha, factor: float):
    """Scale a sprite by ``factor`` (at least 2 x 2 pixels). Returns rgb, alpha."""
    h, w = alpha.shape
    size = (max(2, int(round(w * factor))), max(2, int(round(h * factor))))
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 3)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0])
    return rgb, alpha


def cast_shadow(canvas, alpha, x0: int, y0: int, *, offset, sigma: float, strength: float):
    """
    Darken ``canvas`` (S x S x 3, in place) under a soft shadow of a sprite whose alpha (h x w)
    will be pasted at (x0, y0); the shadow is the alpha shifted by ``offset`` (dx, dy) pixels and
    blurred by ``sigma`` pixels.
    """
    H, W = canvas.shape[:2]
    pad = int(math.ceil(3 * sigma)) + 1
    dx, dy = int(round(offset[0])), int(round(offset[1]))
    h, w = alpha.shape
    sx0, sy0 = x0 + dx - pad, y0 + dy - pad
    shadow = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    shadow[pad : pad + h, pad : pad + w] = alpha
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(sigma, 0.3))
    cx0, cy0 = max(sx0, 0), max(sy0, 0)
    cx1, cy1 = min(sx0 + shadow.shape[1], W), min(sy0 + shadow.shape[0], H)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    part = shadow[cy0 - sy0 : cy1 - sy0, cx0 - sx0 : cx1 - sx0]
    canvas[cy0:cy1, cx0:cx1] *= (1.0 - strength * part)[..., None]


def paste(canvas, rgb, alpha, x0: int, y0: int):
    """Composite a premultiplied sprite over ``canvas`` (in place) with its top-left at (x0, y0);
    the sprite must lie inside the canvas."""
    h, w = alpha.shape
    region = canvas[y0 : y0 + h, x0 : x0 + w]
    region *= (1.0 - alpha)[..., None]
    region += rgb
