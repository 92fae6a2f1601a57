"""The calibrated tau: labelled synthesized scenes, a fallback when no tau reaches the precision."""
import numpy as np

from dpsnet_d2 import DPSNetTrainer
from dpsnet_d2.augment.synthesis.heldout_scenes import heldout_scenes
from dpsnet_d2.engine.distill_calibration import ThresholdCalibrator


def _cfg(tiny_dpsnet_cfg, true_store):
    return tiny_dpsnet_cfg(
        "MODEL.ROI_HEADS.NUM_CLASSES", "10",
        "INPUT.SYNTHESIS.CUTOUT_STORE", true_store.folder,
        "INPUT.SYNTHESIS.REFERENCE_SIZE", "128", "INPUT.SYNTHESIS.CANVAS_SIZE", "128",
        "DISTILL.CALIBRATION.SCENES", "3",
    )


def test_heldout_streams_are_labelled_deterministic_and_disjoint(tiny_dpsnet_cfg, true_store):
    cfg = _cfg(tiny_dpsnet_cfg, true_store)
    a, b = heldout_scenes(cfg, "calibration", 2), heldout_scenes(cfg, "calibration", 2)
    assert all(np.array_equal(x["image"], y["image"]) for x, y in zip(a, b))
    assert all(len(s["boxes"]) == len(s["classes"]) > 0 for s in a)
    other = heldout_scenes(cfg, "heldout", 2)
    assert not np.array_equal(a[0]["image"], other[0]["image"])


def test_untrained_model_falls_back_to_the_schedule(tiny_dpsnet_cfg, true_store):
    cfg = _cfg(tiny_dpsnet_cfg, true_store)
    model = DPSNetTrainer.build_model(cfg)
    tau, info = ThresholdCalibrator(cfg, [0] * 10)(model, fallback=0.8)
    assert tau == 0.8 and info["calibrated"] is None and info["scenes"] == 3
