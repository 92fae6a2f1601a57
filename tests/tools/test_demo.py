"""tools/demo.py: the demo's data match its config; a mismatched dataset folder is refused."""
import json
import os

import pytest

from dpsnet_d2.data.synthetic_rpc import SynthConfig
from dpsnet_d2.utils.cli import UserError


def test_demo_data_are_the_defaults_and_match_the_demo_config(load_tool):
    demo = load_tool("demo")
    assert demo.DEMO_DATA == SynthConfig()
    assert demo.config_num_classes(demo.CONFIG, []) == demo.DEMO_DATA.num_skus == 20
    overridden = demo.config_num_classes(demo.CONFIG, ["MODEL.ROI_HEADS.NUM_CLASSES", "7"])
    assert overridden == 7


def test_existing_folder_is_reused_only_with_the_config_classes(load_tool, tiny_embedded_root,
                                                                tmp_path):
    demo = load_tool("demo")
    os.symlink(tiny_embedded_root, tmp_path / "synthetic_rpc")  # 10 categories
    assert demo.ensure_data(str(tmp_path), 10) == str(tmp_path / "synthetic_rpc")
    with pytest.raises(UserError, match="has 10 classes.*NUM_CLASSES is 20"):
        demo.ensure_data(str(tmp_path), 20)


def test_a_set_generated_before_the_counter_photos_is_refused(load_tool, tiny_rpc_root, tmp_path):
    demo = load_tool("demo")
    os.symlink(tiny_rpc_root, tmp_path / "synthetic_rpc")  # no format_version: format 1
    with pytest.raises(UserError, match="format 1.*needs 2.*--overwrite.*or delete it"):
        demo.ensure_data(str(tmp_path), 4)


def test_incomplete_folder_is_refused(load_tool, tmp_path):
    demo = load_tool("demo")
    (tmp_path / "synthetic_rpc").mkdir()
    with pytest.raises(UserError, match="no instances_train2019.json"):
        demo.ensure_data(str(tmp_path), 20)


def test_no_generation_for_a_config_with_other_classes(load_tool, tmp_path):
    demo = load_tool("demo")
    with pytest.raises(UserError, match="20 classes.*NUM_CLASSES is 7"):
        demo.ensure_data(str(tmp_path), 7)
    assert not (tmp_path / "synthetic_rpc").exists()


def test_verdict_names_the_rounds_and_says_when_nothing_was_selected(load_tool, tmp_path):
    tool = load_tool("demo")
    for k, consistent in enumerate((0, 0)):
        (tmp_path / f"round_{k}").mkdir()
        (tmp_path / f"round_{k}" / "round_summary.json").write_text(json.dumps(
            {"stage": f"round_{k}", "consistent_images": consistent, "target_images": 300,
             "threshold": 0.8, "consistency_rate": consistent / 300}))

    def report(miou):
        return {"rows": [{"method": "sweep", "level": "averaged", "mCIoU": miou}]}

    text = tool.verdict(report(20.0), report(21.0), str(tmp_path))
    assert "0/300 at tau 0.80; 0/300 at tau 0.80" in text and "not distillation" in text
    (tmp_path / "round_1" / "round_summary.json").write_text(json.dumps(
        {"stage": "round_1", "consistent_images": 21, "target_images": 300, "threshold": 0.65,
         "consistency_rate": 0.07}))
    text = tool.verdict(report(20.0), report(19.5), str(tmp_path))
    assert text.startswith("Distillation did not gain") and "21/300 at tau 0.65" in text
