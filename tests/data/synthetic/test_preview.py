"""The preview grid, from a written dataset and from memory."""

import cv2

from dpsnet_d2.data.synthetic import SynthConfig, make_preview


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
