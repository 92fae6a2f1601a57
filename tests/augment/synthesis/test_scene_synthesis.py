"""Scene composition over many seeds: levels, visibility, tight boxes, determinism, bad input."""
import logging

import numpy as np
import pytest

from dpsnet_d2.augment import SceneSynthesizer, compose_scene, scene_rng
from dpsnet_d2.augment.cutouts import CutoutStore, write_cutout_store
from dpsnet_d2.augment.synthesis.scene_synthesis import LEVEL_SPECS, LEVELS, plain_counter

SIZE = 128  # the tiny set's image side: scale ranges are given for it


def _synth(store, **kwargs):
    return SceneSynthesizer(store, reference_size=SIZE, canvas_size=SIZE, **kwargs)


def _mask_box(mask):
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@pytest.mark.parametrize("level", LEVELS)
def test_level_counts_visibility_and_tight_boxes_over_many_seeds(true_store, level):
    synth = _synth(true_store)
    spec = LEVEL_SPECS[level]
    for seed in range(12):
        scene = synth(scene_rng(seed, 7), level=level, with_masks=True)
        n = len(scene.boxes)
        assert scene.level == level
        assert min(spec.items) <= n <= max(spec.items), (seed, n)
        assert min(spec.categories) <= len(set(scene.classes.tolist())) <= max(spec.categories)
        assert scene.masks.shape == (n, SIZE, SIZE) and scene.image.shape == (SIZE, SIZE, 3)
        assert (scene.visible >= 0.5).all()
        # masks are disjoint (one label map) and boxes are tight to them (+-1 px)
        assert scene.masks.sum(0).max() <= 1
        for box, mask in zip(scene.boxes, scene.masks):
            assert np.abs(box - _mask_box(mask)).max() <= 1.0
        # classes are the SKUs of the pasted cut-outs
        skus = [true_store.records[int(i)]["sku"] for i in scene.cutouts]
        assert scene.classes.tolist() == skus
    assert synth.skipped == 0


def test_visible_fraction_is_measured_on_each_items_own_mask(true_store):
    rng = scene_rng(3, 0)
    cutouts = [true_store.get(i) for i in range(18)]
    out = compose_scene(plain_counter(rng, SIZE, SIZE), cutouts, rng, scale_range=(0.6, 0.9),
                        with_masks=True)
    assert len(out.boxes) >= 10
    fraction = out.masks.sum(axis=(1, 2)) / out.full
    np.testing.assert_allclose(fraction, out.visible, rtol=1e-6)
    assert (fraction >= 0.5).all()


def test_box_iou_rule_keeps_pasted_boxes_apart(true_store):
    synth = _synth(true_store, rule="box_iou", max_iou=0.5)
    for seed in range(10):
        rng = scene_rng(seed, 1)
        cutouts = [true_store.get(int(i)) for i in rng.integers(0, len(true_store), 16)]
        out = compose_scene(synth.background(rng), cutouts, rng, rule="box_iou", with_masks=True)
        whole = out.whole_boxes
        assert len(whole) >= 8
        for j in range(1, len(whole)):
            x0 = np.maximum(whole[j, :2], whole[:j, :2])
            x1 = np.minimum(whole[j, 2:], whole[:j, 2:])
            inter = np.prod(np.clip(x1 - x0, 0, None), axis=1)
            area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
            assert (inter / (area(whole[j]) + area(whole[:j]) - inter) <= 0.5 + 1e-6).all()
        assert (out.visible >= 0.5).all()  # the too hidden are not annotated


def test_same_seed_same_scene_other_index_other_scene(true_store):
    synth = _synth(true_store)
    a, b = synth(scene_rng(5, 11)), _synth(true_store)(scene_rng(5, 11))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
    assert a.level == b.level and np.array_equal(a.classes, b.classes)
    c = synth(scene_rng(5, 12))
    assert not np.array_equal(a.image, c.image)


def test_level_weights_and_scene_size(true_store):
    synth = _synth(true_store, level_weights=(0, 0, 1))
    assert {synth(scene_rng(0, i)).level for i in range(5)} == {"hard"}
    scene = synth(scene_rng(0, 0), size=96)
    assert scene.image.shape == (96, 96, 3) and (scene.boxes[:, 2:] <= 96).all()


def test_background_photos_from_a_folder(true_store, tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "counter.png"), np.full((60, 90, 3), (10, 200, 30), np.uint8))
    synth = _synth(true_store, background_dir=str(tmp_path), level_weights=(1, 0, 0))
    scene = synth(scene_rng(0, 0))
    assert scene.image.shape == (SIZE, SIZE * 3 // 2, 3)  # short side resized to canvas_size
    corner = scene.image[0, 0]
    assert tuple(corner) == (30, 200, 10) or len(scene.boxes)  # RGB of the photo


def test_background_photos_are_cached_resized_within_the_budget(true_store, tmp_path):
    import cv2

    for k in range(3):
        photo = np.random.default_rng(k).integers(0, 255, (70, 90, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / f"counter_{k}.png"), photo)
    synth = _synth(true_store, background_dir=str(tmp_path), background_cache_mb=0.15)
    first = [synth.background(scene_rng(0, i)).copy() for i in range(12)]
    # resized to 128 x 165 (63 kB each): 0.15 MiB holds two of the three
    assert len(synth._backgrounds) == 2 and synth._background_bytes == 2 * 128 * 165 * 3
    fresh = _synth(true_store, background_dir=str(tmp_path))  # a cache that never drops
    for i, img in enumerate(first):  # the same pixels whether cached or read again
        again = fresh.background(scene_rng(0, i))
        np.testing.assert_array_equal(img, again)
        assert not again.flags.writeable  # shared: compose_scene copies it
    assert len(fresh._backgrounds) == 3


def test_empty_store_is_a_clear_error(tmp_path):
    write_cutout_store(str(tmp_path / "empty"), [], ["a"])
    with pytest.raises(ValueError, match="no kept cut-outs"):
        SceneSynthesizer(CutoutStore(str(tmp_path / "empty")))


def test_impossible_level_settings_are_a_clear_error(true_store):
    with pytest.raises(ValueError, match="level 'hard' cannot fit"):
        _synth(true_store, scale_range=(2.0, 2.2), level_weights=(1, 0, 1))
    _synth(true_store, scale_range=(2.0, 2.2), level_weights=(1, 0, 0))  # easy still fits
    with pytest.raises(ValueError, match="level weights"):
        _synth(true_store, level_weights=(0, 0, 0))
    with pytest.raises(ValueError, match="scale range"):
        _synth(true_store, scale_range=(0.7, 0.4))
    with pytest.raises(ValueError, match="visibility rule"):
        _synth(true_store, rule="nope")
    with pytest.raises(ValueError, match="background folder"):
        _synth(true_store, background_dir="/nonexistent")


def test_cutout_larger_than_the_scene_is_shrunk_and_logged(true_store, caplog):
    big = np.zeros((300, 200, 4), np.uint8)
    big[20:280, 30:170] = (200, 30, 30, 255)
    rng = np.random.default_rng(0)
    out = compose_scene(plain_counter(rng, 64, 64), [big], rng, scale_range=(1.0, 1.0))
    assert out.shrunk >= 1 and len(out.boxes) == 1
    assert (out.boxes[0, 2:] <= 64).all()
    synth = _synth(true_store, scale_range=(1.9, 2.0), level_weights=(1, 0, 0))
    with caplog.at_level(logging.WARNING):
        for i in range(4):
            synth(scene_rng(0, i), size=48)
    assert synth.skipped > 0 and "shrunk to fit" in caplog.text


def _first_format_copy(store, folder):
    """``store`` (full scale) rewritten in the first store format: raw RGBA, version 1."""
    import json
    import os

    os.makedirs(folder)
    records, offset = [], 0
    with open(os.path.join(folder, "pixels.bin"), "wb") as f:
        for i, r in enumerate(store.records):
            rgba = store.get(i)
            f.write(rgba.tobytes())
            keep = {k: v for k, v in r.items() if k not in ("nbytes", "scale", "source_shape")}
            records.append({**keep, "offset": offset, "shape": list(rgba.shape[:2])})
            offset += rgba.nbytes
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump({"version": 1, "thing_classes": store.thing_classes, "items": records}, f)
    return CutoutStore(folder)


def test_scenes_from_a_first_format_store_and_from_a_capped_one(true_store, tiny_embedded_root,
                                                                 tmp_path, caplog):
    from dpsnet_d2.augment import build_true_mask_store

    old = _first_format_copy(true_store, str(tmp_path / "old"))
    # the cap of these scenes: scale range 0.45-0.75 at reference size = scene size
    build_true_mask_store(tiny_embedded_root, str(tmp_path / "capped"), max_scale=0.75)
    half = CutoutStore(str(tmp_path / "capped"))
    same = 0
    for seed in range(6):
        a = _synth(true_store)(scene_rng(seed, 0), with_masks=True)
        b = _synth(old)(scene_rng(seed, 0), with_masks=True)
        # the first format gives the very same scenes (lossless store, same geometry)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        c = _synth(half)(scene_rng(seed, 0), with_masks=True)
        assert c.image.shape == a.image.shape and (c.visible >= 0.5).all()
        if c.classes.tolist() == a.classes.tolist():  # same plan and items
            same += 1
            # geometry kept (scale / stored scale) until a +-1 px size changes a drawn position
            assert np.abs(c.boxes[0] - a.boxes[0]).max() <= 3
    assert same >= 4
    assert "magnified" not in caplog.text
    with caplog.at_level(logging.WARNING):
        _synth(half)(scene_rng(0, 0), size=2 * SIZE)  # needs more than the store keeps
    assert "magnified" in caplog.text
