"""
Non-product clutter for checkout scenes: receipts, keys, phones, cards, coins and pens.

They are drawn on the counter under the products and are never annotated, so a detector must
learn to ignore them. Each ``_draw_*`` returns a sprite (premultiplied rgb h x w x 3 float32,
alpha h x w float32) at ``px_per_cm`` pixels per centimetre, before in-plane rotation.
"""

import numpy as np
import cv2

from .compose import AA, cast_shadow, paste, rotate_sprite

__all__ = ["CLUTTER_KINDS", "draw_clutter"]


def _sprite(img_u8, alpha_u8):
    a = alpha_u8.astype(np.float32) / 255.0
    return img_u8.astype(np.float32) / 255.0 * a[..., None], a


def _px(v, s):
    return max(2, int(round(v * s)))


def _receipt(rng, s):
    w, h = _px(rng.uniform(6.0, 8.0), s), _px(rng.uniform(10.0, 22.0), s)
    img = np.full((h, w, 3), int(rng.integers(232, 250)), np.uint8)
    step = max(2, int(round(0.5 * s)))
    for y in range(step, h - step, step):
        x1 = int(w * rng.uniform(0.35, 0.9))
        cv2.line(img, (int(0.1 * w), y), (x1, y), (90, 90, 95), max(1, int(round(0.12 * s))))
    return _sprite(img, np.full((h, w), 255, np.uint8))


def _keys(rng, s):
    n = _px(9.0, s)
    img = np.zeros((n, n, 3), np.uint8)
    alpha = np.zeros((n, n), np.uint8)
    metal = (int(rng.integers(150, 200)),) * 2 + (int(rng.integers(120, 200)),)
    c, r = (n // 4, n // 4), max(2, int(1.3 * s))
    thick = max(1, int(round(0.25 * s)))
    for dst, col in ((img, metal), (alpha, 255)):
        cv2.circle(dst, c, r, col, thick, AA)
    for k in range(int(rng.integers(1, 3))):
        ang = rng.uniform(0.2, 1.4) + k * 0.5
        head = (int(c[0] + 1.8 * r * np.cos(ang)), int(c[1] + 1.8 * r * np.sin(ang)))
        tip = (int(head[0] + 4.5 * s * np.cos(ang)), int(head[1] + 4.5 * s * np.sin(ang)))
        for dst, col in ((img, metal), (alpha, 255)):
            cv2.circle(dst, head, max(2, int(0.9 * s)), col, -1, AA)
            cv2.line(dst, head, tip, col, max(1, int(round(0.45 * s))), AA)
    return _sprite(img, alpha)


def _rounded(w, h, r, colour):
    img = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    r = max(1, min(r, w // 2 - 1, h // 2 - 1))
    for dst, col in ((img, colour), (alpha, 255)):
        cv2.rectangle(dst, (r, 0), (w - 1 - r, h - 1), col, -1)
        cv2.rectangle(dst, (0, r), (w - 1, h - 1 - r), col, -1)
        for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
            cv2.circle(dst, (cx, cy), r, col, -1, AA)
    return img, alpha


def _phone(rng, s):
    w, h = _px(7.0, s), _px(14.5, s)
    body = int(rng.integers(10, 60))
    img, alpha = _rounded(w, h, int(0.8 * s), (body, body, body + 5))
    m = max(1, int(0.35 * s))
    screen = np.linspace(30, 80, h - 4 * m, dtype=np.float32)[:, None, None] * np.asarray(
        [0.8, 0.9, 1.2]
    )
    img[2 * m : h - 2 * m, m : w - m] = np.clip(screen, 0, 255).astype(np.uint8)
    return _sprite(img, alpha)


def _card(rng, s):
    w, h = _px(8.6, s), _px(5.4, s)
    colour = tuple(int(v) for v in rng.integers(30, 230, size=3))
    img, alpha = _rounded(w, h, int(0.3 * s), colour)
    img[int(0.55 * h) : int(0.7 * h)] = (img[int(0.55 * h) : int(0.7 * h)] * 0.4).astype(np.uint8)
    cv2.rectangle(
        img, (int(0.1 * w), int(0.25 * h)), (int(0.25 * w), int(0.42 * h)), (210, 180, 80), -1
    )
    return _sprite(img, alpha)


def _coin(rng, s):
    n = _px(rng.uniform(1.8, 2.6), s) | 1
    img = np.zeros((n, n, 3), np.uint8)
    alpha = np.zeros((n, n), np.uint8)
    gold = rng.random() < 0.4
    colour = (205, 170, 90) if gold else (185, 185, 180)
    c = (n // 2, n // 2)
    cv2.circle(img, c, n // 2, colour, -1, AA)
    cv2.circle(alpha, c, n // 2, 255, -1, AA)
    cv2.circle(img, c, max(1, int(n * 0.38)), tuple(int(0.8 * v) for v in colour), 1, AA)
    return _sprite(img, alpha)


def _pen(rng, s):
    w, h = _px(1.0, s), _px(14.0, s)
    colour = tuple(int(v) for v in rng.integers(20, 220, size=3))
    img, alpha = _rounded(w, h, w // 2, colour)
    img[: int(0.25 * h)] = (img[: int(0.25 * h)] * 0.6).astype(np.uint8)
    return _sprite(img, alpha)


_DRAW = {
    "receipt": _receipt,
    "keys": _keys,
    "phone": _phone,
    "card": _card,
    "coin": _coin,
    "pen": _pen,
}
# The kinds, in the order a scene's random draw indexes them.
CLUTTER_KINDS = tuple(_DRAW)


def draw_clutter(canvas, rng, px_per_cm: float, count: int):
    """
    Scatter ``count`` clutter items over ``canvas`` (S x S x 3 float32, in place), each at a
    random place and rotation, with a soft shadow; items may run off the image edge.
    """
    S = canvas.shape[0]
    for _ in range(count):
        kind = CLUTTER_KINDS[int(rng.integers(len(CLUTTER_KINDS)))]
        rgb, alpha = _DRAW[kind](rng, px_per_cm)
        rgb, alpha = rotate_sprite(rgb, alpha, float(rng.uniform(0, 360)))
        h, w = alpha.shape
        x0, y0 = int(rng.integers(-w // 3, S - 2 * w // 3)), int(
            rng.integers(-h // 3, S - 2 * h // 3)
        )
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + w, S), min(y0 + h, S)
        if cx1 - cx0 < 2 or cy1 - cy0 < 2:
            continue
        crop = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        cast_shadow(
            canvas,
            alpha[crop],
            cx0,
            cy0,
            offset=(0.15 * px_per_cm, 0.25 * px_per_cm),
            sigma=0.2 * px_per_cm,
            strength=0.3,
        )
        paste(canvas, rgb[crop], alpha[crop], cx0, cy0)
