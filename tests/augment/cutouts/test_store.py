"""The cut-out store: round trip, index, atomic replacement, bad items."""
import os
import pickle

import numpy as np
import pytest

from dpsnet_d2.augment.cutouts import CutoutStore, write_cutout_store


def _items(n=5, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = int(rng.integers(3, 20)), int(rng.integers(3, 20))
        rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        rgba[..., 3] = np.where(rgba[..., 3] > 127, 255, 0)
        record = {"sku": i % 2, "category_id": i % 2 + 1, "image_id": i + 1,
                  "file_name": f"sku{i % 2 + 1:03d}_view{i:02d}_00.jpg", "view": i,
                  "area": 0.01 * (i + 1), "ratio": 0.2 * (i + 1), "kept": i != 0}  # fmt: skip
        yield record, rgba


def test_round_trip(tmp_path):
    items = list(_items())
    n = write_cutout_store(str(tmp_path / "store"), iter(items), ["a", "b"], info={"theta": 0.45})
    assert n == 5
    store = CutoutStore(str(tmp_path / "store"))
    assert len(store) == 5 and store.thing_classes == ["a", "b"] and store.info == {"theta": 0.45}
    for i, (record, rgba) in enumerate(items):
        np.testing.assert_array_equal(store.get(i), rgba)
        for key, value in record.items():
            assert store.records[i][key] == value
        assert store.records[i]["shape"] == list(rgba.shape[:2])
    assert store.kept().tolist() == [1, 2, 3, 4]
    assert {k: v.tolist() for k, v in store.by_sku().items()} == {0: [2, 4], 1: [1, 3]}
    assert store.by_sku(kept_only=False)[0].tolist() == [0, 2, 4]
    clone = pickle.loads(pickle.dumps(store))  # as sent to data-loader workers
    np.testing.assert_array_equal(clone.get(3), items[3][1])


def test_failed_write_keeps_the_old_store(tmp_path):
    folder = str(tmp_path / "store")
    write_cutout_store(folder, _items(2), ["a", "b"])

    def broken():
        yield from _items(2, seed=1)
        yield {"sku": 0}, np.zeros((2, 2, 4), np.uint8)  # lacks keys

    with pytest.raises(ValueError, match="lacks"):
        write_cutout_store(folder, broken(), ["a", "b"])
    store = CutoutStore(folder)
    np.testing.assert_array_equal(store.get(1), list(_items(2))[1][1])
    assert sorted(os.listdir(tmp_path)) == ["store"]  # no temporary folder left


def test_bad_shapes_and_missing_store(tmp_path):
    record = next(_items(1))[0]
    with pytest.raises(ValueError, match="shape"):
        write_cutout_store(str(tmp_path / "s"), [(record, np.zeros((4, 4, 3), np.uint8))], ["a"])
    assert not (tmp_path / "s").exists()
    with pytest.raises(FileNotFoundError):
        CutoutStore(str(tmp_path / "nothing"))
