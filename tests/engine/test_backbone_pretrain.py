"""In-domain backbone pre-training: the classifier, its export, and loading it into DPSNet."""
import json
from pathlib import Path

import pytest
import torch
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg
from dpsnet_d2.engine import DPSNetCheckpointer
from dpsnet_d2.engine.backbone_pretrain import (
    BACKBONE_FILE,
    BACKBONE_PREFIX,
    BackboneClassifier,
    BackbonePretrainer,
    export_backbone,
    pretrain_run_cfg,
)

REPO = Path(__file__).resolve().parents[2]
SYNTH = str(REPO / "configs" / "Synthetic" / "dpsnet_R_18_synth_cpu.yaml")
NESTED = "backbone.fpn.bottom_up."  # DPSNet's name of the ResNet (the neck holds the FPN)


def _batch(n, size, num_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"image": torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g),
             "label": i % num_classes} for i in range(n)]


def test_classifier_names_the_resnet_as_a_model_zoo_checkpoint_and_trains():
    cfg = pretrain_run_cfg(get_dpsnet_cfg(SYNTH))
    torch.manual_seed(0)
    model = BackboneClassifier(cfg, num_classes=5)
    keys = list(model.state_dict())
    assert {k for k in keys if not k.startswith(BACKBONE_PREFIX)} == {
        "classifier.weight", "classifier.bias"}
    assert model.classifier.in_features == 512  # R-18's res5
    batch = _batch(4, 64, 5)
    with EventStorage() as storage:
        losses = model(batch)
        losses["loss_cls"].backward()
    assert set(losses) == {"loss_cls"} and torch.isfinite(losses["loss_cls"])
    assert abs(losses["loss_cls"].item() - torch.log(torch.tensor(5.0)).item()) < 0.5
    assert 0.0 <= storage.latest()["pretrain/cls_accuracy"][0] <= 1.0
    # every ResNet stage trains (FREEZE_AT 0), the stem included
    assert model.backbone["bottom_up"].stem.conv1.weight.grad is not None
    model.eval()
    with torch.no_grad():
        assert model(batch).shape == (4, 5)


@pytest.mark.parametrize("norm", ["GN", "BN"])
def test_exported_backbone_fills_every_bottom_up_tensor_of_dpsnet(tmp_path, norm):
    """The DPSNet model of configs/Synthetic/dpsnet_R_18_synth_cpu.yaml (GN; and with BN, whose
    running statistics travel too) takes every ResNet tensor and nothing else changes."""
    opts = ["MODEL.RESNETS.NORM", norm]
    cfg = pretrain_run_cfg(get_dpsnet_cfg(SYNTH, opts))
    classifier = BackboneClassifier(cfg, num_classes=20)
    with torch.no_grad():  # values no initialisation gives, so equality means "loaded"
        for value in classifier.state_dict().values():
            value.copy_(torch.randint_like(value, 1, 100) if not value.is_floating_point()
                        else torch.randn_like(value))
    path = str(tmp_path / BACKBONE_FILE)
    written = export_backbone(classifier, path)
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {"model"} and all(k.startswith(BACKBONE_PREFIX) for k in saved["model"])

    torch.manual_seed(1)
    dpsnet = build_model(get_dpsnet_cfg(SYNTH, opts))
    before = {k: v.clone() for k, v in dpsnet.state_dict().items()}
    resnet = [k for k in before if k.startswith(NESTED)]
    assert written == len(resnet) > 50
    checkpointer = DPSNetCheckpointer(dpsnet)
    checkpointer.load(path, checkpointables=[])
    report = checkpointer.last_load_report
    assert report.loaded == report.renamed == len(resnet)
    assert report.skipped == [] and report.unexpected == []
    assert sorted(report.missing) == sorted(k for k in before if k not in resnet)
    after = dpsnet.state_dict()
    source = classifier.state_dict()
    for key in resnet:
        assert torch.equal(after[key], source[BACKBONE_PREFIX + key[len(NESTED):]]), key
    for key in set(before) - set(resnet):
        assert torch.equal(after[key], before[key]), key


def test_a_classifier_checkpoint_loads_too(tmp_path):
    """model_*.pth of the pre-training (classifier + optimizer) also serves as MODEL.WEIGHTS:
    the ResNet loads, the two classifier tensors are reported unused."""
    cfg = pretrain_run_cfg(get_dpsnet_cfg(SYNTH))
    classifier = BackboneClassifier(cfg, num_classes=20)
    DPSNetCheckpointer(classifier, str(tmp_path)).save("model_0000009")
    dpsnet = build_model(get_dpsnet_cfg(SYNTH))
    checkpointer = DPSNetCheckpointer(dpsnet)
    checkpointer.load(str(tmp_path / "model_0000009.pth"), checkpointables=[])
    report = checkpointer.last_load_report
    assert report.loaded == len(dpsnet.backbone.fpn.bottom_up.state_dict())
    assert sorted(report.unexpected) == ["classifier.bias", "classifier.weight"]


def test_pretrainer_trains_then_the_detector_starts_from_it(tiny_dpsnet_cfg, true_store,
                                                            tiny_embedded_root, tmp_path):
    """Two pre-training steps through Detectron2's trainer, hooks and writers on the tiny
    store; then DPSNet trains one step from backbone_final.pth (MODEL.WEIGHTS)."""
    out = tmp_path / "pretrain"
    cfg = tiny_dpsnet_cfg(
        "INPUT.SYNTHESIS.CUTOUT_STORE", true_store.folder,
        "INPUT.SYNTHESIS.BACKGROUND_DIR", str(Path(tiny_embedded_root) / "counters"),
        "INPUT.SYNTHESIS.REFERENCE_SIZE", "128", "INPUT.SYNTHESIS.CANVAS_SIZE", "128",
        "PRETRAIN.CROP_SIZE", "48", "PRETRAIN.IMS_PER_BATCH", "4", "PRETRAIN.MAX_ITER", "2",
        "PRETRAIN.WARMUP_ITERS", "0", "PRETRAIN.CHECKPOINT_PERIOD", "1",
        "OUTPUT_DIR", str(out),
    )
    run = pretrain_run_cfg(cfg)
    solver = run.SOLVER
    assert (solver.MAX_ITER, solver.IMS_PER_BATCH, solver.CHECKPOINT_PERIOD) == (2, 4, 1)
    assert cfg.SOLVER.MAX_ITER == 2 and cfg.SOLVER.IMS_PER_BATCH == 2  # the detector's as it was
    torch.manual_seed(0)
    trainer = BackbonePretrainer(run)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.resume_or_load(resume=False)
    path = trainer.train()
    assert Path(path) == out / BACKBONE_FILE and (out / "model_0000000.pth").exists()
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    assert rows[-1]["iteration"] == 1 and rows[-1]["total_loss"] > 0  # = loss_cls
    assert "pretrain/cls_accuracy" in rows[-1]
    backbone = torch.load(path, weights_only=True)["model"]
    assert any(not torch.equal(v, start[k]) for k, v in backbone.items())  # it trained

    detector = tiny_dpsnet_cfg("MODEL.WEIGHTS", path, "SOLVER.MAX_ITER", "1",
                               "OUTPUT_DIR", str(tmp_path / "detector"))
    det = DPSNetTrainer(detector)
    det.resume_or_load(resume=False)
    report = json.loads((tmp_path / "detector" / "weights_load_report.json").read_text())
    assert report["loaded"] == len(backbone) and report["unexpected"] == []
    for key, value in backbone.items():
        assert torch.equal(det.model.state_dict()[NESTED + key[len(BACKBONE_PREFIX):]], value)
    det.train()
    assert (tmp_path / "detector" / "model_final.pth").exists()
