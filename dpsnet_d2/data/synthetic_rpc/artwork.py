"""
The printed artwork of a product: its outline, its front face and its end/side faces.

Shapes: H x W is a face; faces are float32 RGB in [0, 1], premultiplied by an alpha (H x W,
float32 in [0, 1], anti-aliased). Drawing is in centimetre units of the product (patterns) or
fractions of the face (label, logo, text), so a product looks the same at any resolution.

Per family: bottles carry the design on a label band between plastic shoulder and base with a cap;
cans have metal rims; cups a white lid rim; bags crimped ends; tubes a crimped end and a cap.
Round families are shaded as cylinders with a specular streak, flat ones with a soft gloss.
"""

import math

import cv2
import numpy as np

from .compose import AA, SHIFT
from .products import ProductSpec

__all__ = ["draw_front", "draw_end_face"]

_ONE = 1 << SHIFT
_FONT = cv2.FONT_HERSHEY_DUPLEX


def _pts(points, H, W):
    """Fractions of (W, H) -> int32 fixed-point polygon for OpenCV drawing with ``SHIFT``."""
    p = np.asarray(points, np.float64) * [W, H]
    return np.round(p * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _colour(rgb):
    return tuple(int(round(255 * c)) for c in rgb)


def _silhouette(spec: ProductSpec, H: int, W: int):
    """Outline of the front face: H x W float32 alpha."""
    f = spec.family
    if f in ("box", "can"):
        return np.ones((H, W), np.float32)
    if f == "bottle":
        shoulder = [
            (0.36 - 0.34 * math.sin(a), 0.18 + 0.18 * a / (math.pi / 2))
            for a in np.linspace(0, math.pi / 2, 8)
        ]
        left = [(0.32, 0.0), (0.32, 0.08), (0.36, 0.08)] + shoulder + [(0.02, 0.95), (0.08, 1.0)]
        poly = left + [(1.0 - x, y) for x, y in reversed(left)]
    elif f == "cup":
        poly = [(0.0, 0.0), (1.0, 0.0), (0.88, 1.0), (0.12, 1.0)]
    elif f == "bag":
        n = 12
        xs = np.linspace(0.0, 1.0, 2 * n + 1)
        top = [(x, 0.045 * (i % 2)) for i, x in enumerate(xs)]
        bottom = [(x, 1.0 - 0.045 * (i % 2)) for i, x in enumerate(xs)][::-1]
        ys = np.linspace(0.06, 0.94, 9)
        right = [(1.0 - 0.04 * (1 - math.sin(math.pi * y)), y) for y in ys]
        left = [(0.04 * (1 - math.sin(math.pi * y)), y) for y in ys][::-1]
        poly = top + right + bottom + left
    elif f == "pouch":
        r = 0.08
        corners = []
        for cx, cy, a0 in ((1 - r, r, -90), (1 - r, 1 - r, 0), (r, 1 - r, 90), (r, r, 180)):
            for a in np.radians(np.linspace(a0, a0 + 90, 5)):
                corners.append((cx + r * math.cos(a), cy + r * math.sin(a) * W / H))
        poly = corners[:-2] + [(0.0, 0.12), (0.05, 0.14), (0.0, 0.16)] + corners[-2:]
    else:  # tube
        poly = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.05), (0.76, 0.86), (0.72, 0.86), (0.72, 1.0),
                (0.28, 1.0), (0.28, 0.86), (0.24, 0.86), (0.0, 0.05)]  # fmt: skip
    canvas = np.zeros((H, W), np.uint8)
    cv2.fillPoly(canvas, [_pts(poly, H, W)], 255, AA, SHIFT)
    return canvas.astype(np.float32) / 255.0


def _pattern(spec: ProductSpec, H: int, Wd: int, cm_per_px: float):
    """The background print: H x Wd x 3 uint8."""
    ys = (np.arange(H, dtype=np.float32)[:, None] + 0.5) * cm_per_px
    xs = (np.arange(Wd, dtype=np.float32)[None, :] + 0.5) * cm_per_px
    p, a = spec.pattern_period_cm, spec.pattern_angle
    kind = spec.pattern
    if kind == "stripes":
        m = ((ys / p) % 1.0 < 0.35) + 0 * xs
    elif kind == "diagonal":
        m = ((xs * math.cos(a) + ys * math.sin(a)) / p) % 1.0 < 0.4
    elif kind == "dots":
        m = ((xs % p) - p / 2) ** 2 + ((ys % p) - p / 2) ** 2 < (0.28 * p) ** 2
    elif kind == "checks":
        m = (np.floor(xs / p) + np.floor(ys / p)) % 2 == 0
    elif kind == "waves":
        m = ((ys + 0.3 * p * np.sin(2 * math.pi * xs / (2 * p))) / p) % 1.0 < 0.4
    elif kind == "gradient":
        m = np.broadcast_to(ys / (H * cm_per_px), (H, Wd))
    else:
        m = np.zeros((H, Wd), np.float32)
    m = np.broadcast_to(np.asarray(m, np.float32), (H, Wd))[..., None]
    rgb = (
        np.asarray(spec.body, np.float32) * (1 - m)
        + np.asarray(spec.pattern_colour, np.float32) * m
    )
    return np.ascontiguousarray(np.round(rgb * 255).astype(np.uint8))


def _text(img, text, cx, cy, max_w, max_h, colour):
    """Write ``text`` centred at (cx, cy), fitted into max_w x max_h pixels."""
    (tw, th), base = cv2.getTextSize(text, _FONT, 1.0, 2)
    scale = min(max_w / max(tw, 1), max_h / max(th + base, 1))
    if scale * th < 3:
        cv2.rectangle(
            img, (int(cx - max_w / 2), int(cy - 1)), (int(cx + max_w / 2), int(cy + 1)), colour, -1
        )
        return
    thick = max(1, int(round(scale * 2)))
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thick)
    cv2.putText(img, text, (int(cx - tw / 2), int(cy + th / 2)), _FONT, scale, colour, thick, AA)


def _logo(img, shape, cx, cy, r, colour):
    if shape == "circle":
        cv2.circle(img, (int(cx * _ONE), int(cy * _ONE)), int(r * _ONE), colour, -1, AA, SHIFT)
        return
    n, inner = {"triangle": (3, None), "diamond": (4, None), "star": (5, 0.45)}[shape]
    angles = np.linspace(-math.pi / 2, 1.5 * math.pi, n * (2 if inner else 1), endpoint=False)
    radii = np.where(np.arange(len(angles)) % 2 == 1, r * (inner or 1.0), r)
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
    cv2.fillPoly(img, [np.round(pts * _ONE).astype(np.int32)], colour, AA, SHIFT)


def _design(spec: ProductSpec, H: int, Wd: int, W: int, cm_per_px: float):
    """The printed design on an H x Wd canvas whose visible face is W wide, centred: uint8 RGB."""
    img = _pattern(spec, H, Wd, cm_per_px)
    cx = Wd / 2.0
    if spec.stripe is not None:
        y = spec.stripe[0] * H
        cv2.rectangle(
            img, (0, int(y - 0.03 * H)), (Wd, int(y + 0.03 * H)), _colour(spec.stripe[1]), -1
        )
    lw, lh, ly = spec.label_w * W, spec.label_h * H, spec.label_y * H
    label = _colour(spec.label_colour)
    if spec.label_shape == "rect":
        p0, p1 = (cx - lw / 2, ly - lh / 2), (cx + lw / 2, ly + lh / 2)
        cv2.rectangle(
            img,
            tuple(int(v * _ONE) for v in p0),
            tuple(int(v * _ONE) for v in p1),
            label,
            -1,
            AA,
            SHIFT,
        )
    elif spec.label_shape == "ellipse":
        centre, axes = (int(cx * _ONE), int(ly * _ONE)), (int(lw / 2 * _ONE), int(lh / 2 * _ONE))
        cv2.ellipse(img, centre, axes, 0, 0, 360, label, -1, AA, SHIFT)
    else:
        cv2.rectangle(img, (0, int(ly - lh / 2)), (Wd, int(ly + lh / 2)), label, -1)
    _text(img, spec.brand, cx, ly, 0.8 * lw, 0.6 * lh, _colour(spec.text_colour))
    r = 0.11 * min(W, H * 0.6)
    _logo(img, spec.logo_shape, cx, spec.logo_y * H, r, _colour(spec.accent))
    if spec.tag is not None:
        _logo(img, "circle", cx + 0.28 * W, 0.8 * H, 0.1 * W, _colour(spec.tag))
    fine = _colour(spec.text_colour if spec.label_shape == "banner" else (0.15, 0.15, 0.15))
    for i in range(3):
        y = int((0.87 + 0.03 * i) * H)
        cv2.line(img, (int(cx - 0.25 * W), y), (int(cx + 0.2 * W - 0.05 * W * i), y), fine, 1)
    return img


def draw_front(spec: ProductSpec, H: int, W: int, *, roll: float = 0.0):
    """
    The front face of ``spec`` at H x W pixels (its ``size_cm`` width x height).

    Args:
        roll: for round products, the fraction of the circumference the label is turned.

    Returns:
        rgb (H x W x 3 float32, premultiplied), alpha (H x W float32).
    """
    cm_per_px = spec.size_cm[1] / H
    if spec.family == "bottle":
        y0, y1 = int(round(0.4 * H)), int(round(0.86 * H))
        plastic = 0.55 * np.asarray(spec.body, np.float32) + 0.45
        img = np.empty((H, 2 * W, 3), np.uint8)
        img[:] = _colour(plastic)
        img[y0:y1] = _design(spec, max(1, y1 - y0), 2 * W, W, cm_per_px)
        img[: int(round(0.08 * H))] = _colour(spec.accent)
    elif spec.is_round:
        img = _design(spec, H, 2 * W, W, cm_per_px)
    else:
        img = _design(spec, H, W, W, cm_per_px)
    if spec.is_round:
        shift = int(round((roll % 1.0) * 2 * W))
        img = np.roll(img, shift, axis=1)[:, W // 2 : W // 2 + W]
    rgb = img.astype(np.float32) / 255.0
    f, rows = spec.family, np.arange(H)[:, None]
    if f == "can":
        rim = (rows < 0.04 * H) | (rows >= 0.96 * H)
        rgb = np.where(rim[..., None], np.float32(0.78), rgb)
    elif f == "cup":
        rgb = np.where((rows < 0.07 * H)[..., None], np.float32(0.93), rgb)
    elif f in ("bag", "tube"):
        crimp = (rows < 0.06 * H) | ((rows >= 0.94 * H) & (f == "bag"))
        lines = (np.arange(W)[None, :] * cm_per_px / 0.25).astype(int) % 2 == 0
        shade = np.where(crimp & lines, np.float32(0.8), np.float32(1.0))[..., None]
        rgb = rgb * shade
        if f == "tube":
            rgb = np.where((rows >= 0.86 * H)[..., None], np.asarray(spec.accent, np.float32), rgb)
    rgb = rgb * _face_light(spec, H, W)
    alpha = _silhouette(spec, H, W)
    return np.clip(rgb, 0.0, 1.0) * alpha[..., None], alpha


def _face_light(spec: ProductSpec, H: int, W: int):
    """Studio shading of the front face: H x W x 1 (or broadcastable) float32 gain/highlight."""
    if spec.is_round:
        c = (np.arange(W, dtype=np.float32) + 0.5) / W * 2 - 1
        shade = (
            0.6 + 0.4 * np.sqrt(np.clip(1 - c**2, 0, 1)) + 0.35 * np.exp(-(((c - 0.4) / 0.1) ** 2))
        )
        return shade[None, :, None]
    y = (np.arange(H, dtype=np.float32)[:, None] + 0.5) / H
    x = (np.arange(W, dtype=np.float32)[None, :] + 0.5) / W
    gloss = 0.18 if spec.family in ("bag", "pouch") else 0.06
    return (0.94 + 0.08 * (1 - y) + gloss * np.exp(-(((x + y - 0.8) / 0.12) ** 2)))[..., None]


def draw_end_face(spec: ProductSpec, h: int, w: int, kind: str):
    """An end (or side) face of h x w pixels; ``kind`` "rect" or "ellipse". Returns rgb, alpha."""
    if spec.family == "can":
        base, ring = (0.8, 0.8, 0.82), (0.55, 0.55, 0.58)
    elif spec.family == "bottle":
        base = tuple(0.5 * c + 0.3 for c in spec.body)
        ring = tuple(0.7 * c for c in base)
    elif spec.family == "cup":
        base, ring = spec.label_colour, spec.accent
    else:
        base, ring = tuple(0.8 * c for c in spec.body), tuple(0.8 * c for c in spec.pattern_colour)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = _colour(base)
    alpha = np.zeros((h, w), np.uint8)
    if kind == "rect":
        alpha[:] = 255
        y0, y1 = int(0.35 * h), int(math.ceil(0.65 * h))
        img[y0:y1] = _colour(ring)
    else:
        centre, axes = (int(w / 2 * _ONE), int(h / 2 * _ONE)), (
            int(w / 2 * _ONE),
            int(h / 2 * _ONE),
        )
        cv2.ellipse(alpha, centre, axes, 0, 0, 360, 255, -1, AA, SHIFT)
        inner = (int(axes[0] * 0.7), int(axes[1] * 0.7))
        if spec.is_round and min(inner) > 0:
            cv2.ellipse(img, centre, inner, 0, 0, 360, _colour(ring), max(1, w // 30), AA, SHIFT)
    a = alpha.astype(np.float32) / 255.0
    return img.astype(np.float32) / 255.0 * 0.85 * a[..., None], a
