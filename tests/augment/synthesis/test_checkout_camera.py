"""The checkout camera look: photometric only, seeded, off when the config says so."""
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
