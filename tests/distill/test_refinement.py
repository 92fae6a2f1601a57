"""Instance-level refinement: which boxes become labels, which are painted, exactly where."""
import numpy as np

from dpsnet_d2.distill.refinement import PAINT_RGB, paint_boxes, split_detections


def test_split_detections():
    label, paint = split_detections([0.97, 0.95, 0.5, 0.01], label_threshold=0.95,
                                    paint_min_score=0.05)
    assert label.tolist() == [True, False, False, False]
    assert paint.tolist() == [False, True, True, False]
    assert split_detections([0.95, 0.6], label_threshold=0.95, paint_min_score=0.05) is None


def test_paint_exactly_the_low_score_boxes():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    boxes = np.array([[2, 3, 10, 8], [20.5, 10.2, 30.1, 20], [45, 35, 60, 60], [5, 5, 12, 30]])
    scores = np.array([0.97, 0.4, 0.3, 0.99])
    label, paint = split_detections(scores, label_threshold=0.95, paint_min_score=0.05)
    out = paint_boxes(image, boxes[paint])
    expected = np.zeros((40, 50), bool)
    expected[10:20, 20:31] = True  # rows floor(10.2)..ceil(20)-1, cols floor(20.5)..ceil(30.1)-1
    expected[35:40, 45:50] = True  # clipped to the image
    grey = (out == PAINT_RGB).all(axis=2)
    assert (grey == expected | (image == PAINT_RGB).all(axis=2)).all()
    assert np.array_equal(out[~expected], image[~expected])  # everything else untouched
    assert not np.shares_memory(out, image)
