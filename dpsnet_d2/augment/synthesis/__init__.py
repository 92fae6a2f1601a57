"""
Checkout scene synthesis, the paper's second stage: cut-outs pasted onto empty counters as
checkout-like training scenes (docs/method.md §2).

* :mod:`.scene_synthesis` - :class:`SceneSynthesizer` (level, items, background) and
  :mod:`.compose` - :func:`compose_scene` (placement, visibility, annotations);
* :mod:`.mapper` - the dataset mapper that composes a fresh scene per sample;
* :mod:`.loader` - the ``synth_scenes`` pseudo-dataset and the mixed training loader;
* :mod:`.checkout_camera` - the checkout camera look (light, cast, blur, noise, JPEG) on scenes;
* :mod:`.heldout_scenes` - labelled scenes training never sees (tau calibration, benchmarks);
* :mod:`.export` - an offline set in RPC format; :mod:`.preview` - a picture of the stage.
"""
from .checkout_camera import CheckoutCameraAugmentation, build_checkout_camera
from .compose import SynthesizedScene, compose_scene
from .loader import SYNTH_SCENES, build_synthesis_train_loader, mixed_train_dicts, uses_synthesis
from .mapper import SynthesisDatasetMapper, build_scene_synthesizer
from .heldout_scenes import heldout_scenes
from .scene_synthesis import LEVELS, SceneSynthesizer, scene_rng

__all__ = [
    "CheckoutCameraAugmentation", "LEVELS", "SYNTH_SCENES", "SceneSynthesizer", "SynthesisDatasetMapper", "SynthesizedScene",
    "build_checkout_camera", "build_scene_synthesizer", "build_synthesis_train_loader",
    "compose_scene", "heldout_scenes",
    "mixed_train_dicts", "scene_rng", "uses_synthesis",
]  # fmt: skip
