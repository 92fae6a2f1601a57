"""
The checkout camera look, as a Detectron2 augmentation for synthesized scenes.

Checkout photos are taken by one overhead camera under the store's lights: the light falls off
across the counter and pools under the lamp, a soft shadow may cross it, the white balance is a
little off, the exposure curve bends, the lens blurs a little, the sensor adds noise and the
picture is JPEG-compressed. Cut-outs pasted onto a counter photo carry none of that, so a
detector trained on them sees a cleaner world than the one it must count in.
:class:`CheckoutCameraAugmentation` draws one such look per image and
:class:`CheckoutCameraTransform` applies it (photometric only: boxes, masks and density targets
are unchanged).

Shapes: H x W x 3 uint8 images (any channel order: the cast is drawn per channel).
"""
from typing import Sequence

import cv2
import numpy as np
from detectron2.data import transforms as T

__all__ = ["CheckoutCameraAugmentation", "CheckoutCameraTransform", "build_checkout_camera"]

# Cells of the coarse light field (the full field is its bilinear upsampling).
_FIELD_CELLS = 16


def light_field(rng: np.random.Generator, cells: int = _FIELD_CELLS) -> np.ndarray:
    """
    A coarse multiplicative light field: a linear fall-off in a random direction, a lamp's spot
    and, half of the time, the soft edge of a shadow. Returns cells x cells float32 in [0.35, 1.5].
    """
    y, x = np.mgrid[0:cells, 0:cells].astype(np.float32) / max(cells - 1, 1)
    angle = rng.uniform(0, 2 * np.pi)
    field = rng.uniform(0.85, 1.0) + rng.uniform(0.15, 0.5) * (
        (x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle))
    cx, cy, radius = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.35)
    field += rng.uniform(0.05, 0.3) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius ** 2))
    if rng.random() < 0.5:
        phi, reach, depth = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.4), rng.uniform(0.15, 0.4)
        dist = (x - 0.5) * np.cos(phi) + (y - 0.5) * np.sin(phi) - reach
        field *= 1.0 - depth / (1.0 + np.exp(-dist / 0.05))
    return np.clip(field, 0.35, 1.5).astype(np.float32)


# Fixed point of apply_image: the tone table keeps values up to 255 x TONE_HEADROOM (a cast up to
# 1.25), the light field (<= 1.5^gamma) is in 1/FIELD_ONE, the noise's std in 1/STD_ONE grey
# levels and the noise bank in 1/NOISE_ONE.
_TONE_HEADROOM, _FIELD_ONE, _STD_ONE, _NOISE_ONE = 1.25, 128, 16, 64
# Standard normal draws shared by every look of a process (grown to the largest image seen);
# a look reads a window of it at an offset drawn from its noise seed.
_NOISE_MARGIN = 256
_noise_cache = {"bank": np.zeros((0, 0, 3), np.int16)}


def _noise_bank(h: int, w: int) -> np.ndarray:
    """(>= h + margin) x (>= w + margin) x 3 int16 standard normal draws in 1/NOISE_ONE, the same
    in every process (fixed seed); drawing them per image cost more than the rest of the look."""
    bank = _noise_cache["bank"]
    if bank.shape[0] < h + _NOISE_MARGIN or bank.shape[1] < w + _NOISE_MARGIN:
        side = max(h, w, bank.shape[0] - _NOISE_MARGIN, 512) + _NOISE_MARGIN
        draws = np.random.default_rng(0x5E75).standard_normal((side, side, 3), np.float32)
        bank = np.rint(np.clip(draws, -6.0, 6.0) * _NOISE_ONE).astype(np.int16)
        _noise_cache["bank"] = bank
    return bank


def _noise_window(h: int, w: int, seed: int) -> np.ndarray:
    """An h x w x 3 window of :func:`_noise_bank` at an offset drawn from ``seed`` (a view: do
    not modify)."""
    bank = _noise_bank(h, w)
    y, x = (int(v) for v in np.random.default_rng(seed).integers(0, _NOISE_MARGIN + 1, size=2))
    return bank[y : y + h, x : x + w]


class CheckoutCameraTransform(T.Transform):
    """
    Apply one camera look to an image: light field, colour cast, gamma, blur, noise, JPEG.
    Coordinates and segmentations pass through unchanged.
    """

    def __init__(self, field: np.ndarray, cast: np.ndarray, gamma: float, blur_sigma: float,
                 noise_std: float, noise_seed: int, jpeg_quality: int):
        """
        Args:
            field: h x w float32 multiplicative light field (resized to the image).
            cast: (3,) per-channel gains.
            gamma: exponent of the tone curve on [0, 1] intensities.
            blur_sigma: Gaussian blur sigma in pixels (<= 0.3: none).
            noise_std: std of the sensor noise, in [0, 1] intensity units.
            noise_seed: seed of the noise (the offset of its window in the noise bank).
            jpeg_quality: 1-100; 0 skips the JPEG round trip.
        """
        super().__init__()
        self._set_attributes(locals())

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        """
        H x W x 3 uint8 -> H x W x 3 uint8, in 8/16-bit fixed point (OpenCV's vector code): the
        tone curve is applied before the gains (``(x g)^gamma = x^gamma g^gamma``; clipping to
        [0, 1] commutes with the power), so the power runs on a 256-entry table (cast included)
        and on the coarse light field; one saturating product clips to 255. The blur's kernel
        covers +-2 sigma. The sensor noise is a window of a per-process bank of normal draws
        (:func:`_noise_window`), rounded to grey levels and added with saturation. Within 2 grey
        levels of the same look in floating point (tests/augment/synthesis/
        test_checkout_camera.py).
        """
        h, w = img.shape[:2]
        # per channel: 255 (v / 255 x cast)^gamma / TONE_HEADROOM for v = 0..255 (1 x 256 x 3)
        tone = np.power(np.arange(256, dtype=np.float64)[:, None] / 255.0
                        * self.cast.astype(np.float64)[None, :], self.gamma)
        tone = np.clip(np.rint(tone * (255.0 / _TONE_HEADROOM)), 0, 255).astype(np.uint8)
        out = cv2.LUT(np.ascontiguousarray(img), tone[None])
        field = cv2.resize(np.power(self.field, self.gamma, dtype=np.float32), (w, h),
                           interpolation=cv2.INTER_LINEAR)
        field = np.clip(np.rint(field * _FIELD_ONE), 0, 255).astype(np.uint8)
        out = cv2.multiply(out, cv2.cvtColor(field, cv2.COLOR_GRAY2RGB),
                           scale=_TONE_HEADROOM / _FIELD_ONE)
        if self.blur_sigma > 0.3:
            k = 2 * int(np.ceil(2.0 * self.blur_sigma)) + 1
            out = cv2.GaussianBlur(out, (k, k), self.blur_sigma)
        if self.noise_std > 0:  # std grows with the signal: noise_std (0.4 + 0.6 x) on [0, 1]
            std = self.noise_std * (0.4 * 255.0 + 0.6 * np.arange(256, dtype=np.float64))
            std = cv2.LUT(out, np.rint(std * _STD_ONE).astype(np.int16))
            noise = cv2.multiply(std, _noise_window(h, w, self.noise_seed),
                                 scale=1.0 / (_STD_ONE * _NOISE_ONE), dtype=cv2.CV_16S)
            out = cv2.add(out, noise, dtype=cv2.CV_8U)  # saturated to 0..255
        if self.jpeg_quality > 0:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg_quality)])
            if ok:
                out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(out.shape)
        return out

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation

    def inverse(self) -> T.Transform:
        return T.NoOpTransform()


class CheckoutCameraAugmentation(T.Augmentation):
    """
    With probability ``prob``, a random checkout camera look (:class:`CheckoutCameraTransform`);
    otherwise no change. Draws from NumPy's global random state, as Detectron2's augmentations do
    (seeded per data-loader worker).
    """

    def __init__(self, prob: float = 0.7, *, cast_std: float = 0.05,
                 gamma_range: Sequence[float] = (0.85, 1.15),
                 blur_range: Sequence[float] = (0.0, 1.3),
                 noise_range: Sequence[float] = (0.005, 0.03),
                 jpeg_range: Sequence[int] = (60, 95)):
        """
        Args:
            prob: probability of applying a look to an image.
            cast_std: std of the per-channel gains around 1.
            gamma_range, blur_range (pixels at 512 px; scaled with the image's short side),
            noise_range, jpeg_range: uniform ranges of the look's parameters.
        """
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"CheckoutCameraAugmentation: prob {prob} is not in [0, 1]")
        self._init(locals())

    def get_transform(self, image: np.ndarray) -> T.Transform:
        if np.random.rand() >= self.prob:
            return T.NoOpTransform()
        return self.draw(image, np.random.default_rng(np.random.randint(2 ** 31)))

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> T.Transform:
        """A look for ``image`` (H x W x 3) drawn from ``rng``, always applied (no ``prob``)."""
        scale = min(image.shape[:2]) / 512.0
        return CheckoutCameraTransform(
            field=light_field(rng),
            cast=rng.normal(1.0, self.cast_std, size=3).astype(np.float32),
            gamma=float(rng.uniform(*self.gamma_range)),
            blur_sigma=float(rng.uniform(*self.blur_range) * scale),
            noise_std=float(rng.uniform(*self.noise_range)),
            noise_seed=int(rng.integers(2 ** 31)),
            jpeg_quality=int(rng.integers(self.jpeg_range[0], self.jpeg_range[1] + 1)),
        )


def build_checkout_camera(cfg):
    """The look of ``cfg.INPUT.SYNTHESIS.CAMERA``, or None when it is off."""
    camera = cfg.INPUT.SYNTHESIS.CAMERA
    if not camera.ENABLED or camera.PROB <= 0:
        return None
    return CheckoutCameraAugmentation(prob=camera.PROB)
