"""The domain-gap measures: colour distance and the domain classifier."""
import numpy as np

from dpsnet_d2.augment.render import classifier_accuracy, colour_w2


def test_colour_w2():
    w2 = colour_w2
    a = [np.full((4, 4, 3), 100, np.uint8)]
    assert np.allclose(w2(a, a), 0)
    b = [np.full((4, 4, 3), (110, 100, 70), np.uint8)]
    assert np.allclose(w2(a, b), [10, 0, 30])


def test_classifier_sees_an_obvious_gap():
    rng = np.random.default_rng(0)
    dark = [rng.integers(0, 90, (32, 32, 3), dtype=np.uint8) for _ in range(10)]
    bright = [rng.integers(160, 255, (32, 32, 3), dtype=np.uint8) for _ in range(10)]
    assert classifier_accuracy(dark, bright, seed=0, epochs=6) >= 0.8
