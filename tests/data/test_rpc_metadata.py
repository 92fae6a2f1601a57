"""RPC metadata and the one-parse loader: lazy category metadata that keeps Detectron2's Metadata
contract when the file is missing or broken, and categories checked against metadata already set."""
import json
import logging
import os
import re

import pytest
from detectron2.data import MetadataCatalog

from dpsnet_d2.data.datasets import (
    RPCFormatError,
    load_rpc_categories,
    load_rpc_json,
    register_rpc,
)
from dpsnet_d2.data.datasets.rpc import logger as rpc_logger
from dpsnet_d2.data.datasets.rpc_format import load_rpc_json_with_metadata

pytestmark = pytest.mark.usefixtures("restore_catalogs")

CATEGORY_KEYS = (
    "thing_classes", "thing_dataset_id_to_contiguous_id", "supercategories",
    "thing_class_to_supercategory",
)  # fmt: skip


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def rpc_warnings():
    """The warnings of rpc.py's logger, seen by a handler on that logger itself."""
    handler = _Messages()
    rpc_logger.addHandler(handler)
    yield handler.messages
    rpc_logger.removeHandler(handler)


@pytest.mark.parametrize("content", [None, b'{"images": [', b'{"categories": []}'])
def test_unreadable_categories_are_missing_metadata(
    tmp_path, tiny_rpc_split, rpc_warnings, content
):
    root = tmp_path / "rpc"
    register_rpc(str(root))
    json_file = str(root / "instances_val2019.json")
    if content is not None:  # None: the file does not exist
        root.mkdir()
        (root / "instances_val2019.json").write_bytes(content)
    meta = MetadataCatalog.get("rpc_2019_val")
    for key in CATEGORY_KEYS:
        assert meta.get(key, "default") == "default"
        assert not hasattr(meta, key)
    fields = meta.as_dict()
    assert fields["json_file"] == json_file and fields["evaluator_type"] == "rpc"
    assert not set(fields) & set(CATEGORY_KEYS) and not any(k.startswith("_") for k in fields)
    with pytest.raises(RPCFormatError, match=rf"^{re.escape(json_file)}: "):
        meta.thing_classes
    (warning,) = rpc_warnings  # once, however often asked
    assert json_file in warning and "rpc_2019_val" in warning

    # the file is read again when asked for again: once it is good, the metadata is there
    root.mkdir(exist_ok=True)
    with open(json_file, "w") as f:
        json.dump(tiny_rpc_split("val")[0], f)
    assert meta.get("thing_classes") == load_rpc_categories(json_file)["thing_classes"]
    assert hasattr(meta, "supercategories") and len(rpc_warnings) == 1


def test_other_categories_for_a_dataset_name(tmp_path, tiny_rpc_split):
    data = tiny_rpc_split("val")[0]
    first = tmp_path / "instances_val2019.json"
    first.write_text(json.dumps(data))
    load_rpc_json(str(first), tmp_path, dataset_name="tiny_rpc_other")
    classes = MetadataCatalog.get("tiny_rpc_other").thing_classes

    data["categories"][0]["name"] = "renamed"
    second = tmp_path / "other.json"
    second.write_text(json.dumps(data))
    pattern = rf"^{re.escape(str(second))}: categories: thing_classes .* 'tiny_rpc_other'"
    with pytest.raises(RPCFormatError, match=pattern):
        load_rpc_json(str(second), tmp_path, dataset_name="tiny_rpc_other")
    assert MetadataCatalog.get("tiny_rpc_other").thing_classes == classes
    # the same categories again: accepted
    assert len(load_rpc_json(str(first), tmp_path, dataset_name="tiny_rpc_other")) == 3


def test_load_with_metadata_is_one_parse_of_both(tiny_rpc_root):
    json_file = os.path.join(tiny_rpc_root, "instances_test2019.json")
    image_root = os.path.join(tiny_rpc_root, "test2019")
    dicts, meta = load_rpc_json_with_metadata(json_file, image_root, check_files=True)
    assert dicts == load_rpc_json(json_file, image_root)
    assert meta == load_rpc_categories(json_file)
