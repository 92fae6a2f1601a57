"""Coarse masks: edges, morphology, components, on drawn shapes over textured backgrounds."""
import cv2
import numpy as np

from dpsnet_d2.augment.cutouts.background_removal import (
    coarse_confidence,
    coarse_mask,
    crop_window,
    grabcut_mask,
)


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def _textured_scene(seed=0, size=160):
    """A striped, noisy background with thin ring lines, and a filled product shape on it.
    Returns image (BGR uint8), true mask, box."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    bg = 110 + 12 * np.sin(x / 5.0) + rng.normal(0, 4, (size, size))
    img = np.repeat(bg[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
    for r in range(10, 90, 14):  # turntable-like rings through the box
        cv2.ellipse(img, (size // 2, size // 2 + 20), (r * 2, r), 0, 0, 360, (180, 180, 175), 1)
    mask = np.zeros((size, size), np.uint8)
    pts = np.array([[50, 40], [115, 50], [120, 120], [60, 125], [40, 80]], np.int32)
    cv2.fillPoly(mask, [pts], 1)
    texture = rng.integers(0, 40, (size, size, 1))
    product = np.array([40, 60, 200]) + texture  # a red product with its own texture
    img[mask > 0] = product[mask > 0].clip(0, 255).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    box = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    return img, mask.astype(bool), box


def test_coarse_mask_of_drawn_shape_on_textured_background():
    for seed in range(3):
        img, truth, box = _textured_scene(seed)
        m = coarse_mask(img, box)
        assert m.shape == truth.shape and m.dtype == bool
        assert _iou(m, truth) > 0.9, (seed, _iou(m, truth))
        x, y, w, h = box
        assert not m[:, : x].any() and not m[:, x + w :].any()  # cut to the box
        assert coarse_confidence(m, box) > 0.9


def test_coarse_mask_scales_with_image_size():
    img, truth, box = _textured_scene(1)
    big = cv2.resize(img, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    m = coarse_mask(big, [4 * v for v in box])
    small = cv2.resize(m.astype(np.uint8), truth.shape[::-1], interpolation=cv2.INTER_AREA) > 0
    assert _iou(small, truth) > 0.85


def test_empty_crop_and_flat_image_give_empty_masks():
    img = np.full((50, 50, 3), 120, np.uint8)
    assert not coarse_mask(img, [49.5, 10, 0.4, 5]).any()  # under 2 pixels wide
    assert not coarse_mask(img, [10, 10, 20, 20]).any()  # no edge at all
    x0, y0, x1, y1 = crop_window([60, 60, 10, 10], 0.1, 50, 50)  # beyond the image: empty
    assert x1 - x0 == 0 and y1 - y0 == 0 and x1 <= 50


def test_confidence_scores_leaks_and_losses_low():
    box = [10, 10, 40, 30]
    good = np.zeros((60, 60), bool)
    good[10:40, 12:50] = True
    good[10:20, 10:12] = True
    leak = np.zeros((60, 60), bool)
    leak[10:40, 10:50] = True  # fills its box
    lost = np.zeros((60, 60), bool)
    lost[10:20, 10:25] = True  # a part of the product
    assert coarse_confidence(good, box) > 0.95
    assert coarse_confidence(leak, box) == 0.0
    assert coarse_confidence(lost, box) < 0.3
    assert coarse_confidence(np.zeros((60, 60), bool), box) == 0.0


def test_grabcut_baseline_runs_on_the_box():
    img, truth, box = _textured_scene(2)
    m = grabcut_mask(img, box, iterations=2)
    assert m.shape == truth.shape and _iou(m, truth) > 0.5
