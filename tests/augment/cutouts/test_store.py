"""The cut-out store: round trip, crop, cap, compression, pruned views, the first format, integrity
checks, atomic replacement, bad items."""
import json
import os
import pickle

import cv2
import numpy as np
import pytest

from dpsnet_d2.augment.cutouts import CutoutStore, cutout_scale_cap, write_cutout_store
from dpsnet_d2.augment.cutouts.store import compact_cutout
from dpsnet_d2.config import get_dpsnet_cfg
from dpsnet_d2.engine.checks import check_store_integrity
from dpsnet_d2.utils.cli import UserError

RPC_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "..", "configs", "RPC",
                          "dpsnet_R_50_FPN.yaml")


def _product(h, w, rng, border=3):
    """An h x w cut-out (smooth colour, elliptic mask) inside a ``border`` of empty pixels whose
    RGB is not 0 (the counter around a product)."""
    yy, xx = np.mgrid[:h, :w]
    rgb = np.stack([40 + 150 * yy / h, 60 + 120 * xx / w, np.full((h, w), 90 + rng.integers(60))], -1)
    alpha = ((yy - h / 2 + 0.5) / (h / 2)) ** 2 + ((xx - w / 2 + 0.5) / (w / 2)) ** 2 <= 1
    rgba = np.full((h + 2 * border, w + 2 * border, 4), 200, np.uint8)  # the counter
    rgba[border:-border, border:-border, :3] = rgb.astype(np.uint8)
    rgba[..., 3] = 0
    rgba[border:-border, border:-border, 3] = np.where(alpha, 255, 0)
    return rgba


def _items(n=5, seed=0, size=(20, 40)):
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(*size, 2))
        record = {"sku": i % 2, "category_id": i % 2 + 1, "image_id": i + 1,
                  "file_name": f"sku{i % 2 + 1:03d}_view{i:02d}_00.jpg", "view": i,
                  "area": 0.01 * (i + 1), "ratio": 0.2 * (i + 1), "kept": i != 0}  # fmt: skip
        yield record, _product(h, w, rng)


def _stored_form(rgba):
    """What a full-resolution store gives back: cropped to the mask, RGB 0 under alpha 0."""
    ys, xs = np.nonzero(rgba[..., 3])
    out = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()
    out[out[..., 3] == 0, :3] = 0
    return out


def _write_first_format(folder, items, classes):
    """A store as the first format (version 1) wrote it: raw RGBA of every view."""
    os.makedirs(folder)
    records, offset = [], 0
    with open(os.path.join(folder, "pixels.bin"), "wb") as f:
        for record, rgba in items:
            f.write(rgba.tobytes())
            records.append({**record, "offset": offset, "shape": list(rgba.shape[:2])})
            offset += rgba.nbytes
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump({"version": 1, "thing_classes": classes, "items": records, "info": {}}, f)


@pytest.mark.parametrize("encoding", ["webp", "png", "raw"])
def test_round_trip_crops_and_keeps_only_kept_views(tmp_path, encoding):
    items = list(_items())
    folder = str(tmp_path / "store")
    n = write_cutout_store(folder, iter(items), ["a", "b"], info={"theta": 0.45},
                           encoding=encoding)
    assert n == 5
    store = check_store_integrity(folder)
    assert len(store) == 5 and store.thing_classes == ["a", "b"] and store.info == {"theta": 0.45}
    assert store.version == 2 and store.encoding == encoding
    for i, (record, rgba) in enumerate(items):
        for key, value in record.items():
            assert store.records[i][key] == value
        assert store.records[i]["source_shape"] == [rgba.shape[0] - 6, rgba.shape[1] - 6]
        if record["kept"]:
            np.testing.assert_array_equal(store.get(i), _stored_form(rgba))  # lossless, cropped
            assert store.records[i]["shape"] == store.records[i]["source_shape"]
            if encoding == "raw":  # the RGBA bytes, nothing else
                assert store.records[i]["nbytes"] == np.prod(store.records[i]["shape"]) * 4
    # the pruned view is indexed, without pixels
    assert store.records[0]["nbytes"] == 0 and not store.has_pixels(0)
    with pytest.raises(ValueError, match=r"items\[0\].*pose pruning dropped"):
        store.get(0)
    assert os.path.getsize(os.path.join(folder, "pixels.bin")) == sum(
        r["nbytes"] for r in store.records)
    assert store.kept().tolist() == [1, 2, 3, 4]
    assert {k: v.tolist() for k, v in store.by_sku().items()} == {0: [2, 4], 1: [1, 3]}
    assert store.by_sku(kept_only=False)[0].tolist() == [0, 2, 4]
    clone = pickle.loads(pickle.dumps(store))  # as sent to data-loader workers
    np.testing.assert_array_equal(clone.get(3), store.get(3))


def test_capped_store_is_smaller_and_keeps_colours_and_masks(tmp_path):
    rng = np.random.default_rng(1)
    items = []
    for record, rgba in _items(4, size=(150, 200)):  # textured, as photos: noise compresses badly
        noise = rng.integers(0, 40, rgba.shape[:2] + (3,), dtype=np.uint8)
        items.append((record, np.dstack([rgba[..., :3] + noise, rgba[..., 3]])))
    full, half = str(tmp_path / "full"), str(tmp_path / "half")
    write_cutout_store(full, iter(items), ["a", "b"])
    write_cutout_store(half, iter(items), ["a", "b"], max_scale=0.5)
    a, b = CutoutStore(full), CutoutStore(half)
    assert b.max_scale == 0.5
    raw = sum((r["source_shape"][0] * r["source_shape"][1] * 4) for r in a.records[1:])
    size_full = os.path.getsize(os.path.join(full, "pixels.bin"))
    size_half = os.path.getsize(os.path.join(half, "pixels.bin"))
    assert size_full < raw / 1.5 and size_half < size_full / 2.5  # compressed, then capped
    for i in range(1, 4):
        big, small = a.get(i), b.get(i)
        assert b.scale(i) == 0.5 and b.source_shape(i) == a.source_shape(i)
        assert np.abs(np.array(small.shape[:2]) - np.array(big.shape[:2]) / 2).max() <= 1
        assert set(np.unique(small[..., 3])) <= {0, 255}
        down = cv2.resize(big[..., 3], small.shape[1::-1], interpolation=cv2.INTER_AREA) >= 128
        assert (down != (small[..., 3] > 0)).mean() < 0.02  # the same mask, downscaled
        # premultiplied resize: no edge pixel darkened by the (0) hidden colour
        inside = small[..., 3] > 0
        assert small[inside, 2].min() >= big[big[..., 3] > 0, 2].min() - 2
    with pytest.raises(ValueError, match="max_scale"):
        write_cutout_store(str(tmp_path / "x"), iter(items), ["a", "b"], max_scale=0)


def test_an_opaque_cutout_keeps_its_alpha(tmp_path):
    record = {**next(_items(1))[0], "kept": True}
    rgba = np.full((8, 6, 4), 255, np.uint8)  # no transparent pixel: WebP stores no alpha plane
    write_cutout_store(str(tmp_path / "s"), [(record, rgba)], ["a"])
    np.testing.assert_array_equal(CutoutStore(str(tmp_path / "s")).get(0), rgba)


def test_compact_cutout_caps_at_one():
    rgba = _product(30, 20, np.random.default_rng(0))
    out, scale = compact_cutout(rgba, 3.0)
    assert scale == 1.0 and out.shape == (30, 20, 4)
    out, scale = compact_cutout(rgba, 0.01)  # a sliver: one pixel, still a product
    assert scale == 0.01 and out.shape == (1, 1, 4) and out[0, 0, 3] == 255


def test_the_cap_follows_the_synthesis_config():
    cfg = get_dpsnet_cfg(RPC_CONFIG)
    syn = cfg.INPUT.SYNTHESIS
    expected = syn.SCALE_RANGE[1] * max(syn.CANVAS_SIZE, *cfg.INPUT.MIN_SIZE_TRAIN) / syn.REFERENCE_SIZE
    assert cutout_scale_cap(cfg) == pytest.approx(expected)
    assert cutout_scale_cap(cfg) == pytest.approx(0.7 * 800 / 1815)
    cfg.INPUT.MIN_SIZE_TRAIN = (640, 1024)  # multi-scale training: the largest scene counts
    assert cutout_scale_cap(cfg) == pytest.approx(0.7 * 1024 / 1815)


def test_first_format_store_still_loads_and_unknown_versions_are_refused(tmp_path):
    items = list(_items())
    old = str(tmp_path / "old")
    _write_first_format(old, items, ["a", "b"])
    store = check_store_integrity(old)
    assert store.version == 1 and store.encoding == "raw" and store.has_pixels(0)
    for i, (_, rgba) in enumerate(items):
        expected = rgba.copy()
        expected[expected[..., 3] == 0, :3] = 0  # RGB 0 under alpha 0, as the new format
        np.testing.assert_array_equal(store.get(i), expected)
        assert store.scale(i) == 1.0 and store.source_shape(i) == rgba.shape[:2]
    index = os.path.join(old, "index.json")
    with open(index) as f:
        data = json.load(f)
    data["version"] = 3
    with open(index, "w") as f:
        json.dump(data, f)
    with pytest.raises(UserError) as e:
        check_store_integrity(old, "--store")
    assert "index.json" in str(e.value) and "store version 3" in str(e.value)
    assert "\n" not in str(e.value)


def test_integrity_check_of_the_new_format(tmp_path):
    folder = tmp_path / "store"
    write_cutout_store(str(folder), _items(), ["a", "b"])
    pixels = folder / "pixels.bin"
    data = pixels.read_bytes()
    pixels.write_bytes(data[:-10])
    with pytest.raises(UserError, match=r"pixels.bin: items\[4\].*the store is truncated"):
        check_store_integrity(str(folder))
    pixels.write_bytes(data)
    index = json.loads((folder / "index.json").read_text())
    index["items"][2]["nbytes"] = 0
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(UserError, match=r"items\[2\].*kept cut-out without pixels"):
        check_store_integrity(str(folder))


def test_integrity_check_of_a_raw_store(tmp_path):
    folder = tmp_path / "store"
    write_cutout_store(str(folder), _items(), ["a", "b"], encoding="raw")
    check_store_integrity(str(folder))
    index = json.loads((folder / "index.json").read_text())
    index["items"][3]["nbytes"] -= 4  # one pixel short: the next cut-out would shift
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(UserError, match=r"items\[3\].*raw bytes for a \d+ x \d+ RGBA cut-out"):
        check_store_integrity(str(folder))


def test_failed_write_keeps_the_old_store(tmp_path):
    folder = str(tmp_path / "store")
    write_cutout_store(folder, _items(2), ["a", "b"])

    def broken():
        yield from _items(2, seed=1)
        yield {"sku": 0}, np.zeros((2, 2, 4), np.uint8)  # lacks keys

    with pytest.raises(ValueError, match="lacks"):
        write_cutout_store(folder, broken(), ["a", "b"])
    store = CutoutStore(folder)
    np.testing.assert_array_equal(store.get(1), _stored_form(list(_items(2))[1][1]))
    assert sorted(os.listdir(tmp_path)) == ["store"]  # no temporary folder left


def test_bad_shapes_and_missing_store(tmp_path):
    record = next(_items(1))[0]
    with pytest.raises(ValueError, match="shape"):
        write_cutout_store(str(tmp_path / "s"), [(record, np.zeros((4, 4, 3), np.uint8))], ["a"])
    with pytest.raises(ValueError, match="empty mask"):
        write_cutout_store(str(tmp_path / "s"), [({**record, "kept": True},
                                                  np.zeros((4, 4, 4), np.uint8))], ["a"])
    assert not (tmp_path / "s").exists()
    with pytest.raises(FileNotFoundError):
        CutoutStore(str(tmp_path / "nothing"))
