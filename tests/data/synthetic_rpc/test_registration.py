"""The generator's output round-trips through the RPC loader and registration."""
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from dpsnet_d2.data.datasets import register_rpc_splits


def test_generated_set_registers_and_loads(tiny_synth):
    root, cfg = tiny_synth
    names = register_rpc_splits(root, "roundtrip_synth_{split}")
    assert names == ["roundtrip_synth_train", "roundtrip_synth_val", "roundtrip_synth_test"]

    meta = MetadataCatalog.get("roundtrip_synth_val")
    assert len(meta.thing_classes) == cfg.num_skus
    assert meta.evaluator_type == "rpc"
    assert sorted(meta.thing_dataset_id_to_contiguous_id.values()) == list(range(cfg.num_skus))
    assert len(meta.thing_class_to_supercategory) == cfg.num_skus
    assert max(meta.thing_class_to_supercategory) < len(meta.supercategories)

    train = DatasetCatalog.get("roundtrip_synth_train")
    assert len(train) == cfg.num_skus * cfg.views * cfg.train_per_view
    assert all("level" not in d and len(d["annotations"]) == 1 for d in train)

    for split, count in (("val", cfg.num_val), ("test", cfg.num_test)):
        dicts = DatasetCatalog.get(f"roundtrip_synth_{split}")
        assert len(dicts) == count
        assert {d["level"] for d in dicts} == {"easy", "medium", "hard"}
        for d in dicts:
            assert os.path.isfile(d["file_name"])
            assert (d["height"], d["width"]) == (cfg.size, cfg.size)
            for a in d["annotations"]:
                assert a["bbox_mode"] == BoxMode.XYWH_ABS
                assert 0 <= a["category_id"] < cfg.num_skus
