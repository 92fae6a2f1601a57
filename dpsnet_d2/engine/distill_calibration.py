"""
The calibrated tau of a distillation round (DISTILL.THRESHOLD_MODE "calibrated"): predict the
labelled synthesized calibration scenes with the current model and take the tau at which the
consistency check's pseudo boxes reach DISTILL.CALIBRATION.PRECISION there
(:func:`dpsnet_d2.distill.calibration.calibrate_threshold`). Source data only: the target's
labels are never read.
"""
import logging
import time
from typing import Dict, Optional, Tuple

from ..augment.synthesis.heldout_scenes import heldout_scenes
from ..distill.calibration import calibrate_threshold
from .distill_predict import ArrayImageMapper, predict_images

__all__ = ["THRESHOLD_MODES", "ThresholdCalibrator"]

logger = logging.getLogger(__name__)

# The values of DISTILL.THRESHOLD_MODE.
THRESHOLD_MODES = ("schedule", "calibrated")


class ThresholdCalibrator:
    """
    Calibrates tau on ``DISTILL.CALIBRATION.SCENES`` synthesized scenes (drawn once, on first
    use, from the calibration seed of :mod:`dpsnet_d2.augment.synthesis.heldout_scenes`).
    """

    def __init__(self, cfg, class_to_channel):
        self.cfg = cfg
        self.class_to_channel = list(class_to_channel)
        self._scenes = None

    @property
    def scenes(self):
        if self._scenes is None:
            n = self.cfg.DISTILL.CALIBRATION.SCENES
            start = time.perf_counter()
            self._scenes = heldout_scenes(self.cfg, "calibration", n)
            logger.info(f"{n} calibration scenes synthesized in "
                        f"{time.perf_counter() - start:.1f} s")
        return self._scenes

    def __call__(self, model, fallback: float, *, desc: str = "calibration"
                 ) -> Tuple[float, Dict]:
        """
        Returns:
            (tau, info): the calibrated tau, or ``fallback`` when no tau reaches the precision;
            ``info`` holds ``mode``, ``calibrated`` (tau or None), ``fallback``, ``precision``,
            ``selected`` and ``scenes`` (the calibration set's row at the chosen tau).
        """
        d = self.cfg.DISTILL
        predictions = predict_images(model, self.scenes, ArrayImageMapper(self.cfg),
                                     batch_size=d.PREDICT_BATCH_SIZE, desc=desc)
        if predictions is None:  # not the main process
            return fallback, {}
        tau, rows = calibrate_threshold(
            predictions, self.scenes, target_precision=d.CALIBRATION.PRECISION,
            class_to_channel=self.class_to_channel, min_boxes=d.MIN_BOXES,
            nms_iou=d.AGNOSTIC_NMS_IOU)
        row: Optional[Dict] = next((r for r in rows if r["threshold"] == tau), None)
        info = {"mode": "calibrated", "calibrated": tau, "fallback": fallback,
                "target_precision": d.CALIBRATION.PRECISION, "scenes": len(self.scenes),
                "precision": row["precision"] if row else None,
                "selected": row["selected"] if row else 0}
        if tau is None:
            logger.warning(f"{desc}: no tau gives pseudo-box precision >= "
                           f"{d.CALIBRATION.PRECISION} on {len(self.scenes)} calibration scenes; "
                           f"the schedule's tau {fallback} is used")
            return fallback, info
        logger.info(f"{desc}: tau {tau:.2f} gives pseudo-box precision "
                    f"{100 * row['precision']:.1f} % on {row['selected']} / {len(self.scenes)} "
                    "consistent calibration scenes")
        return tau, info
