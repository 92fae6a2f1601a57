"""
Labelled synthesized scenes that training never sees: the source **calibration** set of
distillation's calibrated threshold mode, and the **held-out** set on which
tools/benchmark_views.py measures the detection view. Both are drawn like training scenes (same
cut-out store, counter photos and camera look) from their own seeds, so they are disjoint from
the training stream and from each other.

Shapes: H x W x 3 uint8 RGB images; N: products of a scene.
"""
from typing import Dict, List

import numpy as np

from .checkout_camera import build_checkout_camera
from .scene_synthesis import scene_rng
from .mapper import build_scene_synthesizer, synthesis_seed

__all__ = ["HELDOUT_SEED_OFFSETS", "heldout_scenes"]

# Added to the synthesis seed: the seeds of the held-out streams (training uses the seed itself).
HELDOUT_SEED_OFFSETS = {"calibration": 1_000_003, "heldout": 2_000_029}


def heldout_scenes(cfg, split: str, num: int) -> List[Dict]:
    """
    ``num`` labelled scenes of stream ``split`` ("calibration" or "heldout"), at the canvas size.

    Returns:
        one dict per scene: ``image`` H x W x 3 uint8 RGB (with the camera look when the config
        turns it on, drawn from the scene's own generator), ``height``, ``width``, ``level``,
        ``boxes`` N x 4 float32 XYXY, ``classes`` (N,) int64 contiguous ids.
    """
    if split not in HELDOUT_SEED_OFFSETS:
        raise ValueError(f"held-out stream {split!r}; choose one of {sorted(HELDOUT_SEED_OFFSETS)}")
    synthesizer, camera = build_scene_synthesizer(cfg), build_checkout_camera(cfg)
    seed = synthesis_seed(cfg) + HELDOUT_SEED_OFFSETS[split]
    scenes = []
    for k in range(int(num)):
        rng = scene_rng(seed, k)
        scene = synthesizer(rng)
        image = scene.image
        if camera is not None and rng.random() < camera.prob:
            image = camera.draw(image, rng).apply_image(image)
        scenes.append({"image": image, "height": image.shape[0], "width": image.shape[1],
                       "level": scene.level, "boxes": scene.boxes.astype(np.float32),
                       "classes": scene.classes.astype(np.int64)})
    return scenes
