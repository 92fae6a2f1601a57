"""RPC-format datasets: registration round trip, metadata, and every kind of bad input."""
import copy
import json
import os
import pickle
import re
import subprocess
import sys

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from dpsnet_d2.data.datasets import (
    RPCFormatError,
    load_rpc_categories,
    load_rpc_json,
    register_all_rpc,
    register_rpc,
    register_rpc_instances,
    register_synthetic_rpc,
)

# Each test may register names: both catalogs are put back afterwards.
pytestmark = pytest.mark.usefixtures("restore_catalogs")

# The tiny set's categories (see conftest.TINY_RPC_CATEGORIES) as metadata.
EXPECTED_CATEGORY_META = {
    "thing_classes": ["1_puffed_food", "2_candy", "3_drink", "7_candy"],
    "thing_dataset_id_to_contiguous_id": {1: 0, 2: 1, 3: 2, 7: 3},
    "supercategories": ["candy", "drink", "puffed_food"],
    "thing_class_to_supercategory": [2, 0, 1, 0],
}


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f)
    return str(path)


def test_register_rpc_round_trip(tiny_rpc_root, tiny_rpc_split):
    names = register_rpc(tiny_rpc_root)
    assert names == ["rpc_2019_train", "rpc_2019_val", "rpc_2019_test"]
    assert set(names) <= set(DatasetCatalog.list())
    for split, name in zip(("train", "val", "test"), names):
        meta = MetadataCatalog.get(name)
        # category metadata is there before the dataset is loaded
        for key, value in EXPECTED_CATEGORY_META.items():
            assert getattr(meta, key) == value, key
        assert meta.evaluator_type == "rpc"
        assert meta.json_file == os.path.join(tiny_rpc_root, f"instances_{split}2019.json")
        assert meta.image_root == os.path.join(tiny_rpc_root, f"{split}2019")

        data, _ = tiny_rpc_split(split)
        dicts = DatasetCatalog.get(name)
        assert [d["image_id"] for d in dicts] == [im["id"] for im in data["images"]]
        assert [d.get("level") for d in dicts] == [im.get("level") for im in data["images"]]
        id_map = EXPECTED_CATEGORY_META["thing_dataset_id_to_contiguous_id"]
        for d, im in zip(dicts, data["images"]):
            assert os.path.isabs(d["file_name"]) and os.path.isfile(d["file_name"])
            assert (d["height"], d["width"]) == (im["height"], im["width"])
            expected = [a for a in data["annotations"] if a["image_id"] == im["id"]]
            assert [a["bbox"] for a in d["annotations"]] == [a["bbox"] for a in expected]
            assert [a["category_id"] for a in d["annotations"]] == [
                id_map[a["category_id"]] for a in expected
            ]
            assert [a["point_xy"] for a in d["annotations"]] == [a["point_xy"] for a in expected]
            assert all(a["bbox_mode"] == BoxMode.XYWH_ABS for a in d["annotations"])
            assert all("iscrowd" not in a for a in d["annotations"])
    train = DatasetCatalog.get("rpc_2019_train")
    assert all("level" not in d and len(d["annotations"]) == 1 for d in train)
    assert [d["level"] for d in DatasetCatalog.get("rpc_2019_test")] == ["easy", "medium", "hard"]


def test_registration_reads_no_file(tmp_path, tiny_rpc_split):
    """Registration works before the files exist; metadata and dicts are read on demand."""
    root = tmp_path / "rpc"
    register_rpc(str(root))
    with pytest.raises(RPCFormatError, match=r"instances_val2019\.json: file: cannot be read"):
        DatasetCatalog.get("rpc_2019_val")
    with pytest.raises(RPCFormatError, match=r"instances_val2019\.json: file: cannot be read"):
        MetadataCatalog.get("rpc_2019_val").thing_classes
    root.mkdir()
    write_json(root / "instances_val2019.json", tiny_rpc_split("val")[0])
    meta = MetadataCatalog.get("rpc_2019_val")
    assert meta.thing_classes == EXPECTED_CATEGORY_META["thing_classes"]
    assert meta.as_dict()["supercategories"] == EXPECTED_CATEGORY_META["supercategories"]
    assert "_categories_pending" not in meta.as_dict()
    assert len(DatasetCatalog.get("rpc_2019_val")) == 3


def test_metadata_copies_and_pickles(tiny_rpc_root):
    register_rpc(tiny_rpc_root)
    meta = MetadataCatalog.get("rpc_2019_val")
    for other in (copy.deepcopy(meta), pickle.loads(pickle.dumps(meta))):
        assert other.thing_classes == EXPECTED_CATEGORY_META["thing_classes"]
        assert other.evaluator_type == "rpc"
    with pytest.raises(AttributeError, match="thing_colors"):
        meta.thing_colors


def test_reregistration(tiny_rpc_root, tmp_path, tiny_rpc_split):
    register_rpc(tiny_rpc_root)
    meta = MetadataCatalog.get("rpc_2019_val")
    loader = DatasetCatalog["rpc_2019_val"]
    register_rpc(tiny_rpc_root)  # same paths: kept as is
    assert MetadataCatalog.get("rpc_2019_val") is meta and DatasetCatalog["rpc_2019_val"] is loader

    categories = [dict(c, name=c["name"] + "_v2") for c in tiny_rpc_split("val")[0]["categories"]]
    data = dict(tiny_rpc_split("val")[0], categories=categories)
    other = write_json(tmp_path / "other.json", data)
    register_rpc_instances("rpc_2019_val", other, tiny_rpc_root)  # other paths: replaced
    assert MetadataCatalog.get("rpc_2019_val").json_file == other
    assert MetadataCatalog.get("rpc_2019_val").thing_classes[0] == "1_puffed_food_v2"


def test_metadata_set_before_registration_is_kept(tiny_rpc_root):
    MetadataCatalog.get("rpc_2019_val").thing_colors = [(1, 2, 3)] * 4
    register_rpc(tiny_rpc_root)
    meta = MetadataCatalog.get("rpc_2019_val")
    assert meta.thing_colors == [(1, 2, 3)] * 4
    assert meta.thing_classes == EXPECTED_CATEGORY_META["thing_classes"]


def test_extra_metadata(tiny_rpc_root):
    json_file = os.path.join(tiny_rpc_root, "instances_val2019.json")
    register_rpc_instances("tiny_rpc_extra", json_file, tiny_rpc_root, metadata={"note": "x"})
    assert MetadataCatalog.get("tiny_rpc_extra").note == "x"


def test_supercategory_order(tmp_path, tiny_rpc_split):
    """RPC names in RPC order first, then unknown names sorted."""
    data = tiny_rpc_split("val")[0]
    supers = ["zz_custom", "drink", "aa_custom", "alcohol"]
    data["categories"] = [dict(c, supercategory=s) for c, s in zip(data["categories"], supers)]
    meta = load_rpc_categories(write_json(tmp_path / "a.json", data))
    assert meta["supercategories"] == ["alcohol", "drink", "aa_custom", "zz_custom"]
    # classes in id order: 1 (drink), 2 (alcohol), 3 (zz_custom), 7 (aa_custom)
    assert meta["thing_class_to_supercategory"] == [1, 0, 3, 2]


@pytest.mark.parametrize("layout", ["categories_first", "categories_last", "decoy_key", "indent"])
def test_load_rpc_categories_matches_full_load(tmp_path, tiny_rpc_split, layout):
    data = tiny_rpc_split("val")[0]
    if layout == "categories_first":
        data = {"categories": data["categories"], **data}
    elif layout == "decoy_key":
        # the key text inside a string value, and as a nested key holding no list
        data["images"][0]["file_name"] = '"categories": [1, 2].jpg'
        data = {"info": {"categories": "none"}, **data}
    path = tmp_path / "a.json"
    with open(path, "w") as f:
        json.dump(data, f, indent=2 if layout == "indent" else None)
    assert load_rpc_categories(str(path)) == EXPECTED_CATEGORY_META
    dicts = load_rpc_json(str(path), tmp_path, dataset_name="tiny_rpc_layout")
    assert len(dicts) == 3
    classes = MetadataCatalog.get("tiny_rpc_layout").thing_classes
    assert classes == EXPECTED_CATEGORY_META["thing_classes"]


def test_box_tolerance(tmp_path, tiny_rpc_split):
    """Boxes may reach up to BOX_TOLERANCE (1 px) past the border; further is an error."""
    data = tiny_rpc_split("val")[0]
    data["annotations"][0]["bbox"] = [-0.5, 10, 65.0, 20]
    assert load_rpc_json(write_json(tmp_path / "a.json", data), tmp_path)[0]["annotations"]


def test_iscrowd_kept_when_set(tmp_path, tiny_rpc_split):
    data = tiny_rpc_split("val")[0]
    data["annotations"][1]["iscrowd"] = 1
    dicts = load_rpc_json(write_json(tmp_path / "a.json", data), tmp_path)
    annotations = [a for d in dicts for a in d["annotations"]]
    assert [a.get("iscrowd", 0) for a in annotations] == [0, 1] + [0] * (len(annotations) - 2)


def _set(section, index, key, value):
    def mutate(data):
        data[section][index][key] = value

    return mutate


def _delete(section, index, key):
    def mutate(data):
        del data[section][index][key]

    return mutate


def _replace(section, index, value):
    def mutate(data):
        data[section][index] = value

    return mutate


def _copy_id(section, index, source):
    def mutate(data):
        data[section][index]["id"] = data[section][source]["id"]

    return mutate


def _top(key, value):
    def mutate(data):
        if value is None:
            del data[key]
        else:
            data[key] = value

    return mutate


# (case, mutation of the tiny val split, the record, the reason) -- val: images 5, 15, 25;
# annotations 100 (image 5), 101-102 (image 15), 103-105 (image 25); images are 64 x 64.
BAD_CASES = [
    ("no images", _top("images", None), "top level", "missing key 'images'"),
    ("no annotations", _top("annotations", None), "top level", "missing key 'annotations'"),
    ("images not list", _top("images", {}), "top level", "'images' must be a list, got dict"),
    ("no categories", _top("categories", []), "top level", "'categories' is empty"),
    ("record not object", _replace("annotations", 1, "x"), r"annotations\[1\]",
     "record must be an object, got str 'x'"),
    ("missing bbox", _delete("annotations", 2, "bbox"), r"annotations\[2\] \(id=102\)",
     "missing key 'bbox'"),
    ("missing image_id", _delete("annotations", 0, "image_id"), r"annotations\[0\] \(id=100\)",
     "missing key 'image_id'"),
    ("missing width", _delete("images", 1, "width"), r"images\[1\] \(id=15\)",
     "missing key 'width'"),
    ("missing file_name", _delete("images", 0, "file_name"), r"images\[0\] \(id=5\)",
     "missing key 'file_name'"),
    ("missing supercategory", _delete("categories", 2, "supercategory"),
     r"categories\[2\] \(id=7\)", "missing key 'supercategory'"),
    ("width str", _set("images", 0, "width", "64"), r"images\[0\] \(id=5\)",
     "'width' must be an integer, got str '64'"),
    ("height zero", _set("images", 2, "height", 0), r"images\[2\] \(id=25\)",
     "'height' must be positive, got 0"),
    ("empty file_name", _set("images", 1, "file_name", ""), r"images\[1\] \(id=15\)",
     "empty 'file_name'"),
    ("id float", _set("annotations", 3, "id", 3.0), r"annotations\[3\]",
     "'id' must be an integer, got float 3.0"),
    ("category_id bool", _set("annotations", 3, "category_id", True),
     r"annotations\[3\] \(id=103\)",
     "'category_id' must be an integer, got bool True"),
    ("unknown category", _set("annotations", 4, "category_id", 99), r"annotations\[4\] \(id=104\)",
     "category_id 99 is not a category of this file"),
    ("unknown image", _set("annotations", 5, "image_id", 999), r"annotations\[5\] \(id=105\)",
     "image_id 999 is not an image of this file"),
    ("duplicate annotation id", _copy_id("annotations", 3, 1), r"annotations\[3\] \(id=101\)",
     r"duplicate id 101 \(also annotations\[1\]\)"),
    ("duplicate image id", _copy_id("images", 2, 0), r"images\[2\] \(id=5\)",
     r"duplicate id 5 \(also images\[0\]\)"),
    ("duplicate category id", _copy_id("categories", 3, 0), r"categories\[3\] \(id=3\)",
     "duplicate id 3"),
    ("duplicate category name", _set("categories", 1, "name", "3_drink"),
     r"categories\[1\] \(id=1\)", "duplicate name '3_drink'"),
    ("bbox zero width", _set("annotations", 1, "bbox", [10, 10, 0, 5]),
     r"annotations\[1\] \(id=101\)", r"bbox \[10.0, 10.0, 0.0, 5.0\] has non-positive width"),
    ("bbox negative height", _set("annotations", 2, "bbox", [10, 10, 5, -3]),
     r"annotations\[2\] \(id=102\)", r"bbox \[.*\] has non-positive height"),
    ("bbox past right edge", _set("annotations", 0, "bbox", [40, 10, 30, 5]),
     r"annotations\[0\] \(id=100\)",
     r"bbox \[40.0, 10.0, 30.0, 5.0\] lies outside its image \(width 64, height 64\)"),
    ("bbox above top", _set("annotations", 0, "bbox", [4, -2, 3, 5]),
     r"annotations\[0\] \(id=100\)", r"bbox \[4.0, -2.0, 3.0, 5.0\] lies outside its image"),
    ("bbox three numbers", _set("annotations", 0, "bbox", [1, 2, 3]),
     r"annotations\[0\] \(id=100\)", "'bbox' must have 4 numbers"),
    ("bbox string number", _set("annotations", 0, "bbox", [1, "2", 3, 4]),
     r"annotations\[0\] \(id=100\)", "'bbox' must hold numbers"),
    ("bbox not list", _set("annotations", 0, "bbox", {"x": 1}), r"annotations\[0\] \(id=100\)",
     "'bbox' must be a list of 4 numbers, got dict"),
    ("bbox NaN", _set("annotations", 0, "bbox", [1, float("nan"), 3, 4]),
     r"annotations\[0\] \(id=100\)", "'bbox' must hold finite numbers"),
    ("bbox huge int", _set("annotations", 0, "bbox", [1, 2, 3, 10**400]),
     r"annotations\[0\] \(id=100\)", "'bbox' must hold finite numbers"),
    ("point_xy one number", _set("annotations", 2, "point_xy", [3]),
     r"annotations\[2\] \(id=102\)", "'point_xy' must have 2 numbers"),
    ("iscrowd 2", _set("annotations", 2, "iscrowd", 2), r"annotations\[2\] \(id=102\)",
     "'iscrowd' must be 0 or 1, got 2"),
    ("bad level", _set("images", 1, "level", "extreme"), r"images\[1\] \(id=15\)",
     "'level' must be one of easy, medium, hard, got 'extreme'"),
    ("level not str", _set("images", 1, "level", 2), r"images\[1\] \(id=15\)",
     "'level' must be a string"),
    ("level missing on one", _delete("images", 1, "level"), r"images\[1\] \(id=15\)",
     r"missing key 'level' \(other images have one\)"),
]


@pytest.mark.parametrize("case, mutate, record, reason", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input(tmp_path, tiny_rpc_split, case, mutate, record, reason):
    data = tiny_rpc_split("val")[0]
    mutate(data)
    path = write_json(tmp_path / "instances_val2019.json", data)
    with pytest.raises(RPCFormatError, match=rf"^{re.escape(path)}: {record}: {reason}") as info:
        load_rpc_json(path, tmp_path)
    assert info.value.json_file == path and re.fullmatch(record, info.value.record)


@pytest.mark.parametrize(
    "content, record, reason",
    [
        (b"", "line 1 column 1", r"invalid JSON \(Expecting value\)"),
        (b'{"images": [', "line 1 column 13", "invalid JSON"),
        (b'{"images": "\xff"}', "byte 12", r"invalid JSON \(not UTF-8 text\)"),
        (b"[" * 100000 + b"]" * 100000, "file", "invalid JSON"),
        (b"[1, 2]", "top level", "must be a JSON object, got list"),
    ],
    ids=["empty", "truncated", "not utf-8", "too deep", "list"],
)
def test_unreadable_json(tmp_path, content, record, reason):
    path = tmp_path / "instances_test2019.json"
    path.write_bytes(content)
    with pytest.raises(RPCFormatError, match=rf"^{re.escape(str(path))}: {record}: {reason}"):
        load_rpc_json(str(path), tmp_path)
    with pytest.raises(RPCFormatError, match=re.escape(str(path))):
        load_rpc_categories(str(path))


def test_missing_file(tmp_path):
    path = str(tmp_path / "instances_train2019.json")
    with pytest.raises(RPCFormatError, match=rf"{re.escape(path)}: file: cannot be read \(No such"):
        load_rpc_json(path, tmp_path)


def test_check_files(tiny_rpc_root, tmp_path, tiny_rpc_split):
    json_file = os.path.join(tiny_rpc_root, "instances_val2019.json")
    assert len(load_rpc_json(json_file, os.path.join(tiny_rpc_root, "val2019"), check_files=True))
    # no image files: loads without check_files, fails with it
    assert len(load_rpc_json(json_file, tmp_path)) == 3
    missing = re.escape(os.path.join(str(tmp_path), "val_00.jpg"))
    with pytest.raises(
        RPCFormatError, match=rf"images\[0\] \(id=5\): image file {missing} does not exist \(3 miss"
    ):
        load_rpc_json(json_file, tmp_path, check_files=True)


def test_error_pickles():
    err = pickle.loads(pickle.dumps(RPCFormatError("a.json", "images[0] (id=1)", "bad")))
    assert str(err) == "a.json: images[0] (id=1): bad" and isinstance(err, ValueError)


def test_register_all_rpc(tmp_path, tiny_rpc_root):
    assert register_all_rpc(str(tmp_path)) == []
    os.symlink(tiny_rpc_root, tmp_path / "synthetic_rpc")
    assert register_all_rpc(str(tmp_path)) == ["synth_rpc_train", "synth_rpc_val", "synth_rpc_test"]
    os.symlink(tiny_rpc_root, tmp_path / "retail_product_checkout")
    names = register_all_rpc(str(tmp_path))
    assert names[:3] == ["rpc_2019_train", "rpc_2019_val", "rpc_2019_test"]
    classes = MetadataCatalog.get("synth_rpc_test").thing_classes
    assert classes == EXPECTED_CATEGORY_META["thing_classes"]
    assert [d["level"] for d in DatasetCatalog.get("synth_rpc_val")] == ["easy", "medium", "hard"]
    assert register_synthetic_rpc(str(tmp_path / "synthetic_rpc"))[0] == "synth_rpc_train"


def test_import_registers_from_environment(tmp_path):
    """``import dpsnet_d2`` registers the folders under $DETECTRON2_DATASETS (and reads no JSON)."""
    (tmp_path / "retail_product_checkout").mkdir()
    code = (
        "import dpsnet_d2\n"
        "from detectron2.data import DatasetCatalog, MetadataCatalog\n"
        "print(sorted(n for n in DatasetCatalog.list() if 'rpc' in n))\n"
        "print(MetadataCatalog.get('rpc_2019_val').evaluator_type)\n"
    )
    env = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "['rpc_2019_test', 'rpc_2019_train', 'rpc_2019_val']",
        "rpc",
    ]
