"""The checkout camera look: photometric only, seeded, off when the config says so."""
import cv2
import numpy as np
from detectron2.data import transforms as T

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.augment.synthesis.checkout_camera import (
    CheckoutCameraAugmentation,
    CheckoutCameraTransform,
    build_checkout_camera,
)


def test_look_changes_pixels_not_geometry():
    image = np.full((64, 80, 3), 180, np.uint8)
    t = CheckoutCameraAugmentation(prob=1.0).draw(image, np.random.default_rng(0))
    assert isinstance(t, CheckoutCameraTransform)
    out = t.apply_image(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - 180).mean() > 1.0  # light field / cast / noise
    coords = np.array([[3.0, 4.0], [70.0, 60.0]])
    assert np.array_equal(t.apply_coords(coords.copy()), coords)
    again = CheckoutCameraAugmentation(prob=1.0).draw(image, np.random.default_rng(0))
    assert np.array_equal(again.apply_image(image), out)  # the same generator, the same look


def test_probability_zero_is_a_no_op_and_the_config_switch():
    aug = CheckoutCameraAugmentation(prob=0.0)
    assert isinstance(aug.get_transform(np.zeros((8, 8, 3), np.uint8)), T.NoOpTransform)
    cfg = get_dpsnet_cfg(None, [])
    assert isinstance(build_checkout_camera(cfg), CheckoutCameraAugmentation)
    cfg.merge_from_list(["INPUT.SYNTHESIS.CAMERA.ENABLED", "False"])
    assert build_checkout_camera(cfg) is None


def test_tone_curve_before_the_gains_gives_the_published_order():
    """(x field cast)^gamma clipped, computed as x^gamma (field cast)^gamma in fixed point: the
    same pixels within 2 grey levels (noise and JPEG off)."""
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    t = CheckoutCameraAugmentation(prob=1.0).draw(image, np.random.default_rng(2))
    t.noise_std, t.jpeg_quality, t.blur_sigma = 0.0, 0, 0.0
    field = cv2.resize(t.field, (64, 48), interpolation=cv2.INTER_LINEAR)
    light = image / 255.0 * field[..., None] * t.cast.reshape(1, 1, 3)
    expected = np.clip(light, 0.0, 1.0) ** t.gamma * 255.0
    out = t.apply_image(image)
    assert np.abs(out - expected).max() <= 2.0
    assert np.abs(out - expected).mean() < 0.5


def test_sensor_noise_grows_with_the_signal():
    """noise_std (0.4 + 0.6 x) on [0, 1] intensities: darker pixels get less noise."""
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, 100:] = 230
    t = CheckoutCameraAugmentation(prob=1.0).draw(image, np.random.default_rng(3))
    t.field[:] = 1.0
    t.cast[:] = 1.0
    t.gamma, t.blur_sigma, t.jpeg_quality, t.noise_std = 1.0, 0.0, 0, 0.02
    out = t.apply_image(image).astype(np.float64)
    dark, bright = out[:, :100], out[:, 100:]
    assert abs(bright.std() - 0.02 * 255 * (0.4 + 0.6 * 230 / 255)) < 0.5
    assert abs(bright.mean() - 230) < 0.3 and dark.std() < bright.std()
