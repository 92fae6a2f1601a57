"""DPSNetCheckpointer: Detectron2 model-zoo / C2 ImageNet / own checkpoints, load report, names."""
import pickle
import re
from pathlib import Path

import pytest
import torch

from detectron2.modeling import build_model

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine import DPSNetCheckpointer
from dpsnet_d2.engine.checkpointer import map_detectron2_keys

BASE = str(Path(__file__).resolve().parents[2] / "configs" / "Base-DPSNet.yaml")


@pytest.fixture
def dpsnet(small_r50_fpn_opts):
    """A function ``(num_classes=200) -> DPSNet`` narrowed as the stock model (seed 2)."""

    def build(num_classes=200):
        cfg = get_dpsnet_cfg(BASE, [*small_r50_fpn_opts, "MODEL.ROI_HEADS.NUM_CLASSES",
                                    str(num_classes)])
        torch.manual_seed(2)
        return build_model(cfg)

    return build


@pytest.mark.parametrize("fmt", ["pkl", "pth"])
def test_model_zoo_checkpoint_loads_every_matching_tensor(
    stock_r50_fpn, model_zoo_pkl, dpsnet, tmp_path, fmt
):
    stock = stock_r50_fpn
    path = tmp_path / f"model_final.{fmt}"
    if fmt == "pkl":
        model_zoo_pkl(stock, path)
    else:
        torch.save({"model": stock.state_dict(), "iteration": 89999}, path)
    model = dpsnet()
    checkpointer = DPSNetCheckpointer(model)
    checkpointer.load(str(path))
    report = checkpointer.last_load_report

    theirs, ours = stock.state_dict(), model.state_dict()
    mapped = map_detectron2_keys(theirs, ours)
    assert any(k.startswith("backbone.bottom_up.res5") for k in mapped)
    assert "backbone.fpn_lateral2.weight" in mapped
    equal = 0
    for key, value in theirs.items():
        target = mapped.get(key, key)
        assert target in ours, key
        if ours[target].shape == value.shape:
            assert torch.equal(ours[target], value), key
            equal += 1
    # the 80-class predictor (cls_score, bbox_pred: weight and bias) is skipped and listed
    skipped = {key for key, _, _ in report.skipped}
    assert skipped == {f"roi_heads.box_predictor.{n}.{p}" for n in ("cls_score", "bbox_pred")
                       for p in ("weight", "bias")}
    assert equal == len(theirs) - 4 == report.loaded
    assert report.total == len(ours) and report.unexpected == []
    assert all("fusion" in k or k.startswith("density_head.") for k in report.missing)
    assert "loaded %d / %d" % (report.loaded, report.total) in report.summary()


def test_own_checkpoint_loads_under_its_names(dpsnet, tmp_path):
    names = [f"sku_{k}" for k in range(3)]
    source = dpsnet(3)
    DPSNetCheckpointer(source, str(tmp_path), thing_classes=names).save("own")
    model = dpsnet(3)
    checkpointer = DPSNetCheckpointer(model)
    extra = checkpointer.load(str(tmp_path / "own.pth"))
    report = checkpointer.last_load_report
    assert report.loaded == report.total and report.renamed == 0 and not report.skipped
    assert extra["thing_classes"] == names
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def c2_name(key):
    """Detectron2 ResNet key -> its Caffe2 (Detectron1 ImageNet .pkl) name."""
    key = key.replace("stem.conv1.norm.", "res_conv1.norm.").replace("stem.conv1.", "conv1.")
    key = key.replace(".shortcut.", ".branch1.")
    for d2, c2 in (("conv1", "branch2a"), ("conv2", "branch2b"), ("conv3", "branch2c")):
        key = re.sub(rf"^(res\d\.\d+)\.{d2}\.", rf"\1.{c2}.", key)
    key = key.replace(".norm.weight", "_bn_s").replace(".norm.bias", "_bn_b")
    key = key.replace(".weight", "_w").replace(".bias", "_b")
    return key.replace(".", "_")


def test_c2_imagenet_pkl_loads_the_resnet(dpsnet, tmp_path):
    model = dpsnet()
    prefix = "backbone.fpn.bottom_up."
    resnet = {k[len(prefix):]: v for k, v in model.state_dict().items()
              if k.startswith(prefix) and not k.endswith(("running_mean", "running_var"))}
    generator = torch.Generator().manual_seed(3)
    blobs = {c2_name(k): torch.randn(v.shape, generator=generator).numpy()
             for k, v in resnet.items()}
    assert "res2_0_branch2a_w" in blobs and "res_conv1_bn_s" in blobs
    blobs["fc1000_w"] = torch.zeros(1000, 2048).numpy()  # the classifier: nothing takes it
    path = tmp_path / "R-50.pkl"
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs}, f)
    checkpointer = DPSNetCheckpointer(model)
    checkpointer.load(str(path))
    report = checkpointer.last_load_report
    state = model.state_dict()
    for key in resnet:
        assert torch.equal(state[prefix + key], torch.from_numpy(blobs[c2_name(key)])), key
    assert report.loaded == len(resnet) and not report.skipped
