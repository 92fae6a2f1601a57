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
