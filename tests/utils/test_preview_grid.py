"""Preview grids: thumbnails with boxes."""
import numpy as np

import dpsnet_d2.utils.preview_grid as preview_grid


def test_thumb_boxes_follow_a_non_square_image():
    """100 x 200 image squashed to 64 x 64: x scales by 0.32, y by 0.64."""
    image = np.zeros((100, 200, 3), np.uint8)
    tile = preview_grid.thumbnail(image, [[100, 50, 50, 40]], [0], 64)  # drawn at (32, 32)-(48, 58)
    ys, xs = np.nonzero(tile.any(axis=2))
    assert 31 <= ys.min() and ys.max() <= 59 and 31 <= xs.min() and xs.max() <= 49
    colour = preview_grid._PALETTE[0] / preview_grid._PALETTE[0].max()  # anti-aliased: a shade of it
    for x in (32, 48):  # the box's left and right sides, half-way down
        pixel = tile[45, x].astype(float)
        assert pixel.max() > 100 and np.allclose(pixel / pixel.max(), colour, atol=0.05)
