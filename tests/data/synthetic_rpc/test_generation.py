"""Determinism, independence of the worker count, atomic writing and refusing to overwrite."""

import filecmp
import json
import os

import numpy as np
import pytest

import dpsnet_d2.data.synthetic_rpc.generate as generate
from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc, render_train


def _files(root):
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(out)


def test_same_seed_identical_bytes_any_worker_count(tiny_synth, tmp_path):
    root, cfg = tiny_synth
    again = str(tmp_path / "again")
    generate_synthetic_rpc(again, cfg, workers=2, progress=False)
    names = _files(root)
    assert (
        names == _files(again)
        and len(names)
        == 3 + 2 * cfg.count("train") + cfg.num_val + cfg.num_test + cfg.num_counters
    )
    _, mismatch, errors = filecmp.cmpfiles(root, again, names, shallow=False)
    assert mismatch == [] and errors == []


def test_other_seed_differs(tiny_synth, tmp_path):
    root, cfg = tiny_synth
    other = str(tmp_path / "other")
    generate_synthetic_rpc(
        other, SynthConfig(**{**cfg.__dict__, "seed": 1}), workers=1, progress=False
    )
    names = _files(root)
    _, mismatch, _ = filecmp.cmpfiles(root, other, names, shallow=False)
    assert "instances_test2019.json" in mismatch
    assert sum(n.endswith(".jpg") for n in mismatch) >= 0.9 * sum(n.endswith(".jpg") for n in names)


def test_failure_leaves_nothing(tiny_cfg, tmp_path, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(generate, "render_checkout", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="renderer failed"):
        generate_synthetic_rpc(str(out), tiny_cfg, workers=1, progress=False)
    assert calls and not out.exists() and os.listdir(tmp_path) == []


def test_existing_out_refused_then_overwritten(tiny_cfg, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_synthetic_rpc(str(out), tiny_cfg, workers=1, progress=False)
    assert os.listdir(out) == ["keep.txt"]
    generate_synthetic_rpc(str(out), tiny_cfg, workers=1, overwrite=True, progress=False)
    assert not (out / "keep.txt").exists() and (out / "instances_train2019.json").is_file()
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_size_scales_everything():
    from dpsnet_d2.data.synthetic_rpc import make_catalogue

    catalogue = make_catalogue(4, 0)
    for index in range(4):
        _, _, small = render_train(catalogue, SynthConfig(num_skus=4, views=3, size=128), index)
        _, _, large = render_train(catalogue, SynthConfig(num_skus=4, views=3, size=256), index)
        assert np.abs(np.asarray(large["bbox"]) - 2 * np.asarray(small["bbox"])).max() <= 4


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="size"):
        SynthConfig(size=16)
    with pytest.raises(ValueError, match="num_skus"):
        SynthConfig(num_skus=0)


def test_empty_counter_photos_and_the_format_version(tiny_synth, tmp_path):
    root, cfg = tiny_synth
    counters = sorted(os.listdir(os.path.join(root, "counters")))
    assert counters == [f"counter_{i + 1:06d}.jpg" for i in range(cfg.num_counters)]
    assert generate.check_format_version(root) == generate.FORMAT_VERSION == 2
    # a set written before the counter photos (no format_version in its info) is refused
    old = tmp_path / "old"
    os.makedirs(old)
    with open(os.path.join(root, "instances_train2019.json")) as f:
        data = json.load(f)
    del data["info"]["format_version"]
    with open(old / "instances_train2019.json", "w") as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match="format 1.*needs 2.*--overwrite"):
        generate.check_format_version(str(old))


def test_turntable_images_at_their_own_size_as_rpc():
    """--train-size W H (RPC: 2592 x 1944): the square studio shot widened, box shifted."""
    import numpy as np

    from dpsnet_d2.data.synthetic_rpc.generate import SynthConfig, render_train
    from dpsnet_d2.data.synthetic_rpc.products import make_catalogue

    square = SynthConfig(num_skus=2, views=2, size=96, seed=3)
    wide = SynthConfig(num_skus=2, views=2, size=96, seed=3, train_width=128, train_height=96)
    assert wide.train_size == (128, 96) and square.train_size == (96, 96)
    catalogue = make_catalogue(2, 3)
    image, mask, record = render_train(catalogue, square, 1)
    wide_image, wide_mask, wide_record = render_train(catalogue, wide, 1)
    assert wide_image.shape == (96, 128, 3) and wide_mask.shape == (96, 128)
    assert (wide_record["width"], wide_record["height"]) == (128, 96)
    assert wide_record["bbox"] == [record["bbox"][0] + 16, *record["bbox"][1:]]
    assert np.array_equal(wide_mask[:, 16:112], mask) and not wide_mask[:, :16].any()
    assert np.array_equal(wide_image[:, 16:112], image)
    with pytest.raises(ValueError, match="train_size"):
        SynthConfig(train_width=96, train_height=128)
