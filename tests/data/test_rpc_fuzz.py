"""
Property test of the RPC loader on corrupted files: random mutations of a valid tiny file (keys
deleted, values of other types, broken boxes and levels, duplicate ids, random bytes, truncation)
either load into valid dataset dicts or raise RPCFormatError naming the file -- nothing else.
"""
import json
import math
import os

import pytest
from detectron2.structures import BoxMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpsnet_d2.data.datasets.rpc import (
    BOX_TOLERANCE,
    RPC_LEVELS,
    RPCFormatError,
    load_rpc_categories,
    load_rpc_json,
)

SECTIONS = ("images", "annotations", "categories")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(RPC_LEVELS),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
numbers = st.integers(-20, 80) | st.floats(-20, 80) | st.sampled_from([0, -1, 64, 65, 1e400])


# mutation kind -> the section it applies to (None: any)
MUTATIONS = {
    "delete": None,
    "replace": None,
    "duplicate_id": None,
    "bbox": "annotations",
    "point": "annotations",
    "level": "images",
    "size": "images",
    "top": None,
}


@st.composite
def mutated_files(draw, valid):
    """Bytes of ``valid`` (an RPC annotation dict) after 1-2 random mutations."""
    data = json.loads(json.dumps(valid))
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(sorted(MUTATIONS)))
        if kind == "top":
            key = draw(st.sampled_from(SECTIONS + ("extra",)))
            if draw(st.booleans()):
                data.pop(key, None)
            else:
                data[key] = draw(json_values)
            continue
        section = MUTATIONS[kind] or draw(st.sampled_from(SECTIONS))
        records = data.get(section)
        if not isinstance(records, list) or not records:
            continue
        index = draw(st.integers(0, len(records) - 1))
        record = records[index]
        if not isinstance(record, dict):
            records[index] = draw(json_values)
        elif kind == "delete" and record:
            del record[draw(st.sampled_from(sorted(record)))]
        elif kind == "replace":
            key = draw(st.sampled_from(sorted(record) + ["point_xy", "iscrowd", "level"]))
            record[key] = draw(json_values)
        elif kind in ("bbox", "point"):
            size = 4 if kind == "bbox" else 2
            length = draw(st.sampled_from([size, size, size, size - 1, size + 1]))
            record["bbox" if kind == "bbox" else "point_xy"] = draw(
                st.lists(numbers, min_size=length, max_size=length)
            )
        elif kind == "level":
            record["level"] = draw(st.sampled_from(RPC_LEVELS) | st.text(max_size=6))
        elif kind == "size":
            record[draw(st.sampled_from(["width", "height"]))] = draw(st.integers(-5, 100))
        elif kind == "duplicate_id":
            other = records[draw(st.integers(0, len(records) - 1))]
            if isinstance(other, dict) and "id" in other:
                record["id"] = other["id"]
    text = json.dumps(data).encode()
    byte_edit = draw(st.sampled_from(["none"] * 9 + ["truncate", "flip", "insert"]))
    if byte_edit == "none" or not text:
        return text
    at = draw(st.integers(0, len(text) - 1))
    if byte_edit == "truncate":
        return text[:at]
    junk = draw(st.binary(min_size=1, max_size=4))
    return text[:at] + junk + text[at + (len(junk) if byte_edit == "flip" else 0) :]


def assert_valid(dicts, num_classes):
    """The contract-1 invariants a successful load must satisfy."""
    assert isinstance(dicts, list)
    assert len({d["image_id"] for d in dicts}) == len(dicts)
    for d in dicts:
        assert os.path.isabs(d["file_name"])
        assert type(d["height"]) is int and type(d["width"]) is int
        assert d["height"] > 0 and d["width"] > 0
        assert d.get("level", "easy") in RPC_LEVELS
        for a in d["annotations"]:
            x, y, w, h = a["bbox"]
            assert all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0
            assert x >= -BOX_TOLERANCE and x + w <= d["width"] + BOX_TOLERANCE
            assert y >= -BOX_TOLERANCE and y + h <= d["height"] + BOX_TOLERANCE
            assert a["bbox_mode"] == BoxMode.XYWH_ABS
            assert 0 <= a["category_id"] < num_classes
            assert len(a.get("point_xy", (0, 0))) == 2


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rpc_fuzz")


def test_corrupted_json_loads_or_raises_rpc_format_error(fuzz_dir, tiny_rpc_split):
    valid = tiny_rpc_split("val")[0]
    path = str(fuzz_dir / "instances_val2019.json")
    outcomes = {"loaded": 0, "rejected": 0}

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(content=mutated_files(valid))
    def check(content):
        with open(path, "wb") as f:
            f.write(content)
        try:
            dicts = load_rpc_json(path, fuzz_dir)
        except RPCFormatError as e:
            assert str(e).startswith(f"{path}: ") and e.reason
            outcomes["rejected"] += 1
            return
        assert_valid(dicts, len(load_rpc_categories(path)["thing_classes"]))
        outcomes["loaded"] += 1

    check()
    # the mutations exercise both outcomes
    assert outcomes["loaded"] > 20 and outcomes["rejected"] > 150, outcomes


def test_corrupted_categories_load_or_raise(fuzz_dir, tiny_rpc_split):
    """``load_rpc_categories`` (used by the metadata) obeys the same rule."""
    valid = tiny_rpc_split("val")[0]
    path = str(fuzz_dir / "instances_test2019.json")

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(content=mutated_files(valid))
    def check(content):
        with open(path, "wb") as f:
            f.write(content)
        try:
            meta = load_rpc_categories(path)
        except RPCFormatError as e:
            assert str(e).startswith(f"{path}: ")
            return
        num_classes = len(meta["thing_classes"])
        contiguous = sorted(meta["thing_dataset_id_to_contiguous_id"].values())
        assert contiguous == list(range(num_classes))
        supers = meta["thing_class_to_supercategory"]
        assert len(supers) == num_classes
        assert all(0 <= s < len(meta["supercategories"]) for s in supers)

    check()
