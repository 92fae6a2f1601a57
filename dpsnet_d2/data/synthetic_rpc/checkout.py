"""
Checkout scenes (val/test) of the synthetic RPC: many products on a counter, seen from above.

Shapes: S x S is the image (S = ``size``); images are float32 RGB in [0, 1] until encoded.

**Levels.** Per image, the number of distinct SKUs (categories) and of products (items) are drawn
from :data:`~dpsnet_d2.data.datasets.rpc_levels.LEVEL_SPECS` (shared with the method's scene
synthesis; its table gives the ranges and means), chosen so the means match RPC's
(docs/method.md §1) within the synthesis rules' ranges.

Every chosen SKU appears at least once; categories are capped at the catalogue size (a catalogue
of fewer SKUs than a level asks for gives fewer categories, never fewer items).
:func:`~dpsnet_d2.data.datasets.rpc_levels.sample_scene_plan` draws a scene's SKUs without
rendering it.

**Scene.** A counter (a white-ish board with stains and grain, often a dark counter edge on one
side) with 2-5 non-product clutter items (:mod:`.clutter`) under the products. Products take
natural poses (:func:`natural_viewpoint`: small tilt, any in-plane rotation) at about
``S / 85`` pixels per centimetre (an 85 cm wide counter, +-8 % per scene, +-10 % per product),
and are stacked in a random order: each new product lies on top of the earlier ones and casts a
soft shadow on them. A position is accepted only if every earlier product keeps at least half of
its own pixels visible (at most 50 % occluded, mask-based); after 40 refused positions (the
product shrinks by 15 % every 10) the least-occluding position seen is used, and a product that
ends up wholly hidden is not annotated (neither happened in 120 scenes at 512 px, 40 per level).
Whole products stay inside the image.

**Look** (the target domain; compare the turntable's studio look): an uneven illumination field
(a linear gradient plus a bright spot), at times a large soft shadow falling across the counter,
a colour cast, a gamma change, blur and sensor noise, and stronger JPEG compression.

**Annotations** follow the *visible* part of each product (its mask minus what lies on top):
``bbox`` is the visible extent, ``area`` the visible pixel count, ``segmentation`` COCO polygons of
the visible outline.
"""

import cv2
import numpy as np

from ...utils.images import mask_box
from ..datasets.rpc_levels import sample_scene_plan
from .clutter import draw_clutter
from .compose import cast_shadow, grain, paste, resize_sprite, smooth_field, smooth_noise
from .render_product import natural_viewpoint, render_view

__all__ = ["render_checkout_image", "render_empty_counter"]

# Pixels per centimetre of the checkout scenes for an image side of 1 pixel.
CHECKOUT_PX_PER_CM = 1.0 / 85.0


def _counter(rng, S: int):
    """The counter surface: S x S x 3 float32."""
    white = rng.uniform(0.78, 0.95)
    tint = np.asarray([1.0, rng.uniform(0.97, 1.01), rng.uniform(0.92, 1.02)], np.float32)
    tone = white + 0.03 * smooth_noise(rng, (S, S), 5) + 0.015 * smooth_noise(rng, (S, S), 40)
    img = (tone[..., None] * tint).astype(np.float32)
    if rng.random() < 0.7:
        width = int(S * rng.uniform(0.04, 0.1))
        edge = np.asarray(rng.uniform(0.12, 0.35) * np.asarray([1.0, 0.95, 0.9]), np.float32)
        side = int(rng.integers(4))
        img = np.rot90(img, side).copy()
        img[:, :width] = edge * (1 + 0.05 * smooth_noise(rng, (S, width), 4))[..., None]
        img = np.rot90(img, -side).copy()
    return img


def _place(rng, alpha, label, full, visible, S):
    """
    Try 10 top-left corners for a new product with alpha h x w over the label map (S x S: -1 or
    the index of the product on top). ``full``/``visible``: (n,) pixel counts of the earlier
    products. Returns the first corner keeping every earlier product at least half visible, else
    the best one seen, as (x0, y0, covered, score): covered (n,) the visible pixels of each
    earlier product the new one would hide, score the smallest visible fraction left; None if
    the product is larger than the image.
    """
    h, w = alpha.shape
    if h > S or w > S:
        return None
    m = alpha > 0.5
    best = None
    for _ in range(10):
        x0, y0 = int(rng.integers(0, S - w + 1)), int(rng.integers(0, S - h + 1))
        under = label[y0 : y0 + h, x0 : x0 + w][m]
        covered = np.bincount(under + 1, minlength=len(full) + 1)[1:]
        score = float(np.min((visible - covered) / full)) if len(full) else 1.0
        if best is None or score > best[3]:
            best = (x0, y0, covered, score)
        if score >= 0.5:
            break
    return best


def _visible_annotation(vis, x0, y0):
    """
    Box, area and COCO polygons of a product's visible mask (a boolean crop whose top-left is
    (x0, y0)). Slivers whose outline has fewer than 3 points (1-pixel lines and dots left between
    products on top) are dropped, so the box is exactly the polygons' extent.

    Returns:
        (bbox [x, y, w, h] ints, area in pixels, list of polygons [x1, y1, x2, y2, ...]) or None.
    """
    u8 = vis.astype(np.uint8)
    contours, _ = cv2.findContours(u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    keep = [c for c in contours if len(c) >= 3]
    if not keep:
        return None
    inside = np.zeros_like(u8)
    cv2.drawContours(inside, keep, -1, 1, thickness=cv2.FILLED)
    kept = vis & (inside > 0)
    x, y, w, h = mask_box(kept)
    polys = [[float(v) for v in (c.reshape(-1, 2) + (x0, y0)).reshape(-1)] for c in keep]
    return [x + x0, y + y0, w, h], int(kept.sum()), polys


def _photometric(img, rng, noise_rng):
    """The checkout look: uneven light, a cast shadow, colour cast, gamma, blur, noise."""
    S = img.shape[0]
    ang = rng.uniform(0, 2 * np.pi)
    sx, sy = rng.uniform(0.1, 0.9, size=2)
    spot_r = rng.uniform(0.15, 0.35)
    base, slope, spot_gain = rng.uniform(0.82, 1.0), rng.uniform(0.25, 0.6), rng.uniform(0.1, 0.35)
    shadow = rng.random() < 0.5
    phi, reach, depth = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.4), rng.uniform(0.2, 0.4)

    def light(x, y):
        grad = (x - 0.5) * np.cos(ang) + (y - 0.5) * np.sin(ang)
        spot = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * spot_r**2))
        out = base + slope * grad + spot_gain * spot
        if shadow:
            dist = (x - 0.5) * np.cos(phi) + (y - 0.5) * np.sin(phi) - reach
            out = out * (1 - depth / (1 + np.exp(-dist / 0.03)))
        return np.clip(out, 0.35, 1.5)

    cast = rng.normal(1.0, 0.05, size=3).astype(np.float32)
    img = np.clip(img * smooth_field(light, (S, S), 96)[..., None] * cast, 0, 1)
    img = cv2.pow(img, rng.uniform(0.85, 1.15))
    sigma = rng.uniform(0.4, 1.3) * S / 512
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise = rng.uniform(0.01, 0.03)
    img += noise * grain(noise_rng, img.shape) * (0.4 + 0.6 * img)
    return np.clip(img, 0.0, 1.0)


def render_empty_counter(size: int, rng):
    """
    A photo of the empty counter, as a store would take one with its checkout camera: the same
    counter, clutter (0-3 pieces), light and camera model as :func:`render_checkout_image`,
    no product. Unlabelled background for checkout scene synthesis.

    Returns:
        image (S x S x 3 float32 RGB).
    """
    S = int(size)
    rng, noise_rng = rng.spawn(2)
    img = _counter(rng, S)
    px_per_cm = CHECKOUT_PX_PER_CM * S * rng.uniform(0.92, 1.08)
    draw_clutter(img, rng, px_per_cm, int(rng.integers(0, 4)))
    return _photometric(img, rng, noise_rng)


def render_checkout_image(catalogue, level: str, size: int, rng):
    """
    One checkout scene of ``level`` with products of ``catalogue`` (list of ProductSpec).

    Returns:
        image (S x S x 3 float32 RGB), instances: list of dicts ``category_index`` (0-based
        catalogue index), ``bbox`` ([x, y, w, h] ints, visible extent), ``area`` (visible
        pixels), ``segmentation`` (COCO polygons of the visible part).
    """
    S = int(size)
    rng, noise_rng = rng.spawn(2)  # per-pixel noise apart from the scene's layout
    plan = sample_scene_plan(level, len(catalogue), rng)
    img = _counter(rng, S)
    px_per_cm = CHECKOUT_PX_PER_CM * S * rng.uniform(0.92, 1.08)
    draw_clutter(img, rng, px_per_cm, int(rng.integers(2, 6)))
    label = np.full((S, S), -1, np.int32)
    full, visible, corners = [], [], []
    light_dir = rng.uniform(-1, 1, size=2) * 0.3 * px_per_cm
    for i, k in enumerate(plan):
        rgb, alpha = render_view(
            catalogue[int(k)], natural_viewpoint(rng), px_per_cm * rng.uniform(0.9, 1.1)
        )
        if max(alpha.shape) > 0.8 * S:
            rgb, alpha = resize_sprite(rgb, alpha, 0.8 * S / max(alpha.shape))
        best = None
        for attempt in range(4):
            if attempt:
                rgb, alpha = resize_sprite(rgb, alpha, 0.85)
            choice = _place(
                rng, alpha, label, np.asarray(full, np.float64), np.asarray(visible, np.float64), S
            )
            if choice is not None and (best is None or choice[3] > best[0][3]):
                best = (choice, rgb, alpha)
            if best is not None and best[0][3] >= 0.5:
                break
        (x0, y0, covered, _), rgb, alpha = best
        h, w = alpha.shape
        cast_shadow(img, alpha, x0, y0, offset=light_dir, sigma=0.25 * px_per_cm, strength=0.45)
        paste(img, rgb, alpha, x0, y0)
        m = alpha > 0.5
        label[y0 : y0 + h, x0 : x0 + w][m] = i
        visible = [v - int(c) for v, c in zip(visible, covered)] + [int(m.sum())]
        full.append(int(m.sum()))
        corners.append((x0, y0, w, h))
    instances = []
    for i, k in enumerate(plan):
        x0, y0, w, h = corners[i]
        found = _visible_annotation(label[y0 : y0 + h, x0 : x0 + w] == i, x0, y0)
        if found is None:
            continue
        box, area, polys = found
        instances.append(
            {"category_index": int(k), "bbox": box, "area": area, "segmentation": polys}
        )
    return _photometric(img, rng, noise_rng), instances
