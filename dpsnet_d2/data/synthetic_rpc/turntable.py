"""
Training images of the synthetic RPC: one product on a turntable, in a studio.

Shapes: S x S is the image (S = ``size``); images are float32 RGB in [0, 1] until encoded.

As in RPC's training set, the product is photographed alone, large and centred, with the
turntable (a disc with rings and tick marks, its rim visible) and a textured backdrop around it,
soft even studio light, a soft contact shadow, little noise. The backdrop, turntable and shadow
are *not* product: a background-removal step must separate them (docs/method.md §2). The true
mask is returned for the sidecar ``train2019_masks/`` only; the box follows the true mask.

Scale: the product is drawn at ``0.6 * S / 27`` pixels per centimetre (the tallest products,
27 cm, fill 60 % of the image side), +-5 % per image, so ``--size`` scales everything.
"""

import cv2
import numpy as np

from ...utils.images import mask_box
from .compose import AA, SHIFT, cast_shadow, grain, paste, resize_sprite, smooth_field, smooth_noise
from .render_product import Viewpoint, render_view

__all__ = ["TRAIN_PX_PER_CM", "render_train_image", "jitter_view"]

# Pixels per centimetre for an image side of 1 pixel (multiply by the image side).
TRAIN_PX_PER_CM = 0.6 / 27.0

_BACKDROPS = ((0.32, 0.33, 0.35), (0.45, 0.45, 0.44), (0.26, 0.29, 0.34), (0.52, 0.49, 0.45))


def jitter_view(view: Viewpoint, view_index: int, rng) -> Viewpoint:
    """A turntable shot of ``view``: tilt +-3 degrees, the turntable's angle as in-plane rotation
    (137.5 degrees per view index, +-15 degrees), any label roll."""
    return Viewpoint(
        axis=view.axis,
        tilt=float(np.clip(view.tilt + rng.uniform(-3.0, 3.0), 0.0, 90.0)),
        roll=float(rng.random()),
        rotation=float((137.5 * view_index + rng.uniform(-15.0, 15.0)) % 360.0),
    )


def _studio(rng, noise_rng, S: int):
    """Backdrop with a turntable: S x S x 3 float32, and the disc centre (cx, cy) in pixels."""
    base = np.asarray(_BACKDROPS[int(rng.integers(len(_BACKDROPS)))], np.float32) * rng.uniform(
        0.9, 1.1
    )
    tone = smooth_field(lambda x, y: 1.08 - 0.2 * y, (S, S), 8) + 0.04 * smooth_noise(
        rng, (S, S), 6
    )
    tone += 0.012 * grain(noise_rng, (S, S))
    img = tone[..., None] * base
    cx, cy = S * (0.5 + rng.normal(0, 0.01)), S * rng.uniform(0.56, 0.6)
    ax, ay = S * rng.uniform(0.42, 0.47), S * rng.uniform(0.24, 0.29)
    dark = rng.random() < 0.4
    top, rim, mark = ((0.16, 0.16, 0.17), (0.08, 0.08, 0.09), (0.75, 0.75, 0.72)) if dark else (
        (0.78, 0.78, 0.76), (0.5, 0.5, 0.5), (0.35, 0.35, 0.37))  # fmt: skip
    one = 1 << SHIFT

    def ellipse(centre_y, scale, colour, thickness):
        centre = (int(cx * one), int(centre_y * one))
        axes = (int(ax * scale * one), int(ay * scale * one))
        cv2.ellipse(img, centre, axes, 0, 0, 360, colour, thickness, AA, SHIFT)

    ellipse(cy + 0.035 * S, 1.0, rim, -1)
    ellipse(cy, 1.0, top, -1)
    line = max(1, int(round(S / 400)))
    for k in range(1, 9):
        ellipse(cy, k / 9.0, mark, line)
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    inner = np.stack([cx + 0.9 * ax * np.cos(angles), cy + 0.9 * ay * np.sin(angles)], 1)
    outer = np.stack([cx + ax * np.cos(angles), cy + ay * np.sin(angles)], 1)
    ticks = np.round(np.stack([inner, outer], 1) * one).astype(np.int32)
    cv2.polylines(img, list(ticks), False, mark, 2 * line, AA, SHIFT)
    return img, (cx, cy)


def render_train_image(spec, view: Viewpoint, size: int, rng):
    """
    One turntable image of ``spec`` seen from ``view``.

    Returns:
        image (S x S x 3 float32 RGB), mask (S x S bool, the true product mask),
        box ([x, y, w, h] ints, the mask's extent).
    """
    S = int(size)
    rng, noise_rng = rng.spawn(2)  # per-pixel noise apart, so the geometry is the same at any size
    img, (cx, cy) = _studio(rng, noise_rng, S)
    rgb, alpha = render_view(spec, view, TRAIN_PX_PER_CM * S * rng.uniform(0.95, 1.05))
    h, w = alpha.shape
    if max(h, w) > 0.9 * S:
        rgb, alpha = resize_sprite(rgb, alpha, 0.9 * S / max(h, w))
        h, w = alpha.shape
    px = cx + rng.normal(0, 0.03 * S) - w / 2
    py = cy - 0.06 * S + rng.normal(0, 0.03 * S) - h / 2
    x0 = int(np.clip(round(px), 0, S - w))
    y0 = int(np.clip(round(py), 0, S - h))
    cast_shadow(img, alpha, x0, y0, offset=(0.01 * S, 0.02 * S), sigma=0.015 * S, strength=0.45)
    paste(img, rgb, alpha, x0, y0)
    light = smooth_field(lambda x, y: 1.04 - 0.35 * ((x - 0.5) ** 2 + (y - 0.5) ** 2), (S, S), 16)
    gain = rng.uniform(0.97, 1.03, size=3).astype(np.float32)
    img = img * light[..., None] * gain + 0.006 * grain(noise_rng, img.shape)
    img = cv2.GaussianBlur(img, (0, 0), 0.35 * S / 512) if S >= 256 else img
    mask = np.zeros((S, S), bool)
    mask[y0 : y0 + h, x0 : x0 + w] = alpha > 0.5
    return np.clip(img, 0.0, 1.0), mask, mask_box(mask)
