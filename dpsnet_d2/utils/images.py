"""
Image helpers shared by the embedded set's generator and the method: a mask's tight box and
deterministic image encoding.

Shapes: H x W masks (bool) and images (H x W x 3 RGB, float in [0, 1] or uint8).
"""
import cv2
import numpy as np

__all__ = ["encode", "mask_box"]


def mask_box(mask):
    """
    Tight box of a boolean mask (H x W).

    Returns:
        [x, y, w, h] in integer pixels (pixel-edge convention), or None if the mask is empty.
    """
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    y0, y1 = np.flatnonzero(rows)[[0, -1]]
    x0, x1 = np.flatnonzero(cols)[[0, -1]]
    return [int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)]


def encode(image_rgb, ext: str, quality: int = 90) -> bytes:
    """Encode an H x W x 3 RGB float [0, 1] or uint8 image (or H x W uint8 mask) as ``ext``
    (".jpg" / ".png") bytes; deterministic for the same input."""
    img = image_rgb
    if img.dtype != np.uint8:
        img = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    if img.ndim == 3:
        img = np.ascontiguousarray(img[..., ::-1])
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if ext == ".jpg"
        else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    )
    ok, buf = cv2.imencode(ext, img, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {img.shape} image as {ext}")
    return buf.tobytes()
