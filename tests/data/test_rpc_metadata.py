"""RPC category metadata: one parse gives dicts and metadata; categories are checked against the
metadata already set for a dataset name."""
import json
import os
import re

import pytest
from detectron2.data import MetadataCatalog

from dpsnet_d2.data.datasets import (
    RPCFormatError,
    load_rpc_categories,
    load_rpc_json,
)
from dpsnet_d2.data.datasets.rpc_format import load_rpc_json_with_metadata

pytestmark = pytest.mark.usefixtures("restore_catalogs")

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
