"""
A product seen from a viewpoint: its faces (from :mod:`.artwork`) tipped, turned and rotated.

Shapes: H x W is a product image; images are float32 RGB in [0, 1], **premultiplied** by the
alpha (H x W, float32 in [0, 1], anti-aliased), so that resampling and compositing stay exact.

Geometry (orthographic camera looking down on the product), see :class:`Viewpoint`:

* tilt 0 shows the front face: the natural pose of a product lying on a checkout counter;
* axis ``"x"``: the product tips about its horizontal axis; the front face shortens to
  H cos(tilt) and its end shows with height depth sin(tilt) (box: the top face, width x depth;
  round products: the end disc - for bottles the base, "a bottle seen from below"; bags, pouches,
  tubes: a thin lens). At 90 degrees only the end is seen: a small visible area, the views
  pose pruning (docs/method.md §2, R(k, v) <= 0.45) must drop;
* axis ``"y"``: flat products turn about their vertical axis (front narrows to W cos(tilt), the
  side face depth sin(tilt) shows); round products roll about their axis instead (the label slides
  round, the outline stays);
* ``rotation``: in-plane rotation (degrees, counter-clockwise) applied last.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .artwork import draw_end_face, draw_front
from .compose import rotate_sprite
from .products import ProductSpec

__all__ = ["Viewpoint", "train_viewpoints", "natural_viewpoint", "render_view"]


@dataclass(frozen=True)
class Viewpoint:
    """A camera pose relative to the product: ``axis`` "x"/"y", ``tilt`` and ``rotation`` in
    degrees, ``roll`` (round products) the fraction of the circumference the label is turned."""

    axis: str = "x"
    tilt: float = 0.0
    roll: float = 0.0
    rotation: float = 0.0


def train_viewpoints(num_views: int):
    """
    The fixed viewpoints of the turntable images: the first ceil(V/2) are near-natural (tilt 0 to
    40 degrees, axes alternating), the rest unnatural (65 to 90 degrees; the last one end-on,
    tilted 90 degrees about "x", the one before end-on about "y").

    Returns:
        list[Viewpoint] of length ``num_views`` (rotation 0, roll 0; callers add jitter).
    """
    num_natural = (num_views + 1) // 2
    num_unnatural = num_views - num_natural
    tilts = list(np.linspace(0.0, 40.0, num_natural))
    unnatural = (
        list(np.linspace(65.0, 90.0, num_unnatural))
        if num_unnatural > 1
        else [90.0] * num_unnatural
    )
    if num_unnatural >= 2:
        unnatural[-2] = 90.0
    tilts += unnatural
    axes = ["x" if (v % 2 == 0) else "y" for v in range(num_natural)]
    axes += ["x" if (num_unnatural - 1 - i) % 2 == 0 else "y" for i in range(num_unnatural)]
    return [Viewpoint(axis=a, tilt=float(t)) for a, t in zip(axes, tilts)]


def natural_viewpoint(rng) -> Viewpoint:
    """A pose a product takes lying on a counter: small tilt, any roll, any in-plane rotation."""
    return Viewpoint(
        axis="x" if rng.random() < 0.5 else "y",
        tilt=float(min(abs(rng.normal(0.0, 12.0)), 30.0)),
        roll=float(rng.random()),
        rotation=float(rng.uniform(0.0, 360.0)),
    )


def _over(dst_rgb, dst_a, src_rgb, src_a, y0):
    """Composite premultiplied ``src`` over rows [y0, y0 + h) of ``dst``, in place."""
    h = src_a.shape[0]
    dst_rgb[y0 : y0 + h] = src_rgb + dst_rgb[y0 : y0 + h] * (1 - src_a[..., None])
    dst_a[y0 : y0 + h] = src_a + dst_a[y0 : y0 + h] * (1 - src_a)


def _tip(spec, rgb, alpha, tilt_deg, depth_px, end_kind):
    """
    Tip a face about its horizontal axis, end at the top: H x W -> (H cos t + depth sin t) x W.
    """
    H, W = alpha.shape
    t = math.radians(tilt_deg)
    hc = max(1, int(round(H * math.cos(t))))
    eh = int(round(depth_px * math.sin(t)))
    body_rgb = cv2.resize(rgb, (W, hc), interpolation=cv2.INTER_AREA).reshape(hc, W, 3)
    body_a = cv2.resize(alpha, (W, hc), interpolation=cv2.INTER_AREA).reshape(hc, W)
    if eh < 1:
        return body_rgb, body_a
    out_rgb = np.zeros((hc + eh, W, 3), np.float32)
    out_a = np.zeros((hc + eh, W), np.float32)
    y0 = eh if end_kind == "rect" else eh // 2
    _over(out_rgb, out_a, body_rgb, body_a, y0)
    if spec.is_round:
        ext = hc + eh - (y0 + hc)
        if ext > 0:
            yy = np.arange(ext, dtype=np.float32)[:, None] + 0.5
            xx = (np.arange(W, dtype=np.float32)[None, :] + 0.5 - W / 2) / (W / 2)
            inside = (xx**2 + (yy / max(eh / 2, 0.5)) ** 2 <= 1).astype(np.float32)
            ext_a = inside * body_a[-1:]
            ext_rgb = body_rgb[-1:] * inside[..., None]
            _over(out_rgb, out_a, ext_rgb * 0.9, ext_a, y0 + hc)
    end_rgb, end_a = draw_end_face(spec, eh, W, end_kind)
    _over(out_rgb, out_a, end_rgb, end_a, 0)
    return out_rgb, out_a


def render_view(spec: ProductSpec, view: Viewpoint, px_per_cm: float):
    """
    ``spec`` seen from ``view`` at ``px_per_cm`` pixels per centimetre.

    Returns:
        rgb (h x w x 3 float32, premultiplied), alpha (h x w float32), cropped to the product.
    """
    w_cm, h_cm, d_cm = spec.size_cm
    W, H = max(3, int(round(w_cm * px_per_cm))), max(3, int(round(h_cm * px_per_cm)))
    depth_px = d_cm * px_per_cm
    roll = view.roll + (view.tilt / 360.0 if view.axis == "y" else 0.0)
    rgb, alpha = draw_front(spec, H, W, roll=roll)
    end_kind = "rect" if spec.family == "box" else "ellipse"
    if view.axis == "x" and view.tilt > 0:
        flip = spec.family == "bottle"
        if flip:
            rgb, alpha = rgb[::-1], alpha[::-1]
        rgb, alpha = _tip(
            spec,
            np.ascontiguousarray(rgb),
            np.ascontiguousarray(alpha),
            view.tilt,
            depth_px,
            end_kind,
        )
        if flip:
            rgb, alpha = rgb[::-1], alpha[::-1]
    elif view.axis == "y" and view.tilt > 0 and not spec.is_round:
        rgb_t, alpha_t = _tip(
            spec,
            np.ascontiguousarray(rgb.transpose(1, 0, 2)[::-1]),
            np.ascontiguousarray(alpha.T[::-1]),
            view.tilt,
            depth_px,
            end_kind,
        )
        rgb, alpha = rgb_t[::-1].transpose(1, 0, 2), alpha_t[::-1].T
    return rotate_sprite(np.ascontiguousarray(rgb), np.ascontiguousarray(alpha), view.rotation)
