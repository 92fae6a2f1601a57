"""The preview grid, from a written dataset and from memory."""

import os

import cv2
import numpy as np
import pytest

import dpsnet_d2.data.synthetic_rpc.preview as preview
from dpsnet_d2.data.synthetic_rpc import SynthConfig, make_preview


def test_preview_from_disk(tiny_synth, tmp_path):
    root, _ = tiny_synth
    path = str(tmp_path / "p.png")
    grid = make_preview(path, root=root, cols=3, rows=1, thumb=64)
    assert cv2.imread(path).shape == grid.shape == (2 * (28 + 64), 3 * 64, 3)


def test_preview_in_memory(tmp_path):
    path = str(tmp_path / "p.jpg")
    cfg = SynthConfig(num_skus=3, views=2, size=96)
    grid = make_preview(path, root=str(tmp_path / "missing"), cfg=cfg, cols=2, rows=1, thumb=64)
    assert cv2.imread(path).shape == grid.shape and not (tmp_path / "missing").exists()


def test_thumb_boxes_follow_a_non_square_image():
    """100 x 200 image squashed to 64 x 64: x scales by 0.32, y by 0.64."""
    image = np.zeros((100, 200, 3), np.uint8)
    tile = preview._thumb(image, [[100, 50, 50, 40]], [0], 64)  # drawn at (32, 32)-(48, 58)
    ys, xs = np.nonzero(tile.any(axis=2))
    assert 31 <= ys.min() and ys.max() <= 59 and 31 <= xs.min() and xs.max() <= 49
    colour = preview._PALETTE[0] / preview._PALETTE[0].max()  # anti-aliased: a shade of it
    for x in (32, 48):  # the box's left and right sides, half-way down
        pixel = tile[45, x].astype(float)
        assert pixel.max() > 100 and np.allclose(pixel / pixel.max(), colour, atol=0.05)


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(preview.os, "replace", replace)
    cfg = SynthConfig(num_skus=3, views=2, size=96)
    with pytest.raises(OSError, match="disk full"):
        make_preview(str(tmp_path / "p.png"), cfg=cfg, cols=1, rows=1, thumb=32)
    assert os.listdir(tmp_path) == []


def test_unknown_format_is_refused(tmp_path):
    cfg = SynthConfig(num_skus=3, views=2, size=96)
    with pytest.raises(ValueError, match=r"cannot encode the preview as '\.xyz'"):
        make_preview(str(tmp_path / "p.xyz"), cfg=cfg, cols=1, rows=1, thumb=32)
    assert os.listdir(tmp_path) == []
