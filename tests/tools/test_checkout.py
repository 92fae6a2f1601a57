"""tools/checkout.py names SKUs from the checkpoint; the receipt shows the whole flag and why."""
import json

import cv2
import numpy as np
import torch

from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances

from dpsnet_d2.engine import DPSNetCheckpointer
from dpsnet_d2.receipt import _wrap, draw_receipt, make_receipt, receipt_text

SKUS = ["1_puffed_food", "2_dried_fruit", "3_instant_drink"]


def _till(folder, cfg, seed):
    """An untrained tiny DPSNet saved with SKUS as ``till.pth``, its config ``till.yaml`` and a
    random photo ``counter.jpg`` in ``folder``; returns the config's path."""
    torch.manual_seed(0)
    DPSNetCheckpointer(build_model(cfg), str(folder), thing_classes=SKUS).save("till")
    config = folder / "till.yaml"
    config.write_text(cfg.dump())
    image = np.random.default_rng(seed).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / "counter.jpg"), image)
    return config


def test_checkout_names_skus_from_the_checkpoint(tiny_dpsnet_cfg, run_tool, tmp_path,
                                                 monkeypatch):
    config = _till(tmp_path, tiny_dpsnet_cfg("MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
                                             "DATASETS.TRAIN", "('not_registered',)",
                                             "DATASETS.TEST", "('not_registered',)"), seed=0)
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)

    status, out, err = run_tool("checkout", [
        "--config-file", str(config), "--weights", str(tmp_path / "till.pth"),
        "--input", str(tmp_path / "counter.jpg"), "--output", str(tmp_path / "receipts"),
        "--threshold", "0.0"])
    assert status == 0, err
    receipt = json.loads((tmp_path / "receipts" / "counter.jpg.json").read_text())
    assert receipt["total"] > 0 and set(receipt["items"]) <= set(SKUS)
    assert len(receipt["detection_counts"]) == len(receipt["density_counts"]) == 1
    text = (tmp_path / "receipts" / "counter.jpg.txt").read_text()
    assert any(sku in text for sku in receipt["items"])


def test_the_layouts_give_the_same_receipt_and_bf16_runs(tiny_dpsnet_cfg, run_tool, tmp_path):
    config = _till(tmp_path, tiny_dpsnet_cfg("MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"), seed=1)
    receipts = {}
    for name, extra in {"nchw": ["--layout", "contiguous"], "nhwc": [],
                        "bf16": ["--bf16"]}.items():
        status, _, err = run_tool("checkout", [
            "--config-file", str(config), "--weights", str(tmp_path / "till.pth"),
            "--input", str(tmp_path / "counter.jpg"), "--output", str(tmp_path / name),
            "--threshold", "0.0", *extra])
        assert status == 0, err
        receipts[name] = json.loads((tmp_path / name / "counter.jpg.json").read_text())
    nchw, nhwc = receipts["nchw"], receipts["nhwc"]
    assert nhwc["items"] == nchw["items"] and nhwc["total"] == nchw["total"] > 0
    np.testing.assert_allclose(nhwc["density_counts"], nchw["density_counts"], rtol=1e-4)
    assert receipts["bf16"]["total"] > 0


def test_the_receipt_says_why_it_needs_a_look():
    instances = Instances((200, 300), pred_boxes=Boxes(torch.tensor([[10.0, 10, 50, 60]] * 3)),
                          scores=torch.tensor([0.9, 0.8, 0.3]),
                          pred_classes=torch.tensor([0, 1, 1]))
    outputs = {"instances": instances, "counts": torch.tensor([4.2, 0.4]),
               "density": torch.zeros(2, 25, 38)}
    receipt = make_receipt(outputs, SKUS, threshold=0.5, class_to_channel=[0, 1, 1],
                           channel_names=["food", "drinks"])
    assert receipt["needs_look"]
    assert receipt["detection_counts"] == [1, 1] and receipt["density_counts"] == [4, 0]
    assert receipt["look_reasons"] == ["food: 1 detected vs 4 counted",
                                       "drinks: 1 detected vs 0 counted"]
    assert "  drinks: 1 detected vs 0 counted" in receipt_text("x", receipt)
    picture = draw_receipt(np.zeros((200, 300, 3), np.uint8), outputs, None, receipt,
                           stride=8, input_size=(200, 300))
    assert picture.shape[0] == 200 and picture.shape[1] > 600

    flag = "NEEDS A LOOK: the detection and counting views disagree"
    parts = _wrap(flag, 260 - 16, 0.4)
    assert len(parts) > 1 and " ".join(p.strip() for p in parts) == flag
    assert all(cv2.getTextSize(p, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0] <= 244 for p in parts)
