"""
The paper's source side: from single products on a turntable to checkout-like training scenes.

Background removal (coarse masks) -> saliency refinement -> pose pruning -> cut-out store ->
checkout scene synthesis (and its dataset mapper) -> render (CycleGAN). See docs/method.md.
"""
from .cutouts import CutoutStore, write_cutout_store
from .scene_synthesis import SceneSynthesizer, SynthesizedScene, compose_scene, scene_rng
from .synthesis_data import (
    SYNTH_SCENES,
    build_synthesis_train_loader,
    mixed_train_dicts,
    uses_synthesis,
)
from .synthesis_mapper import SynthesisDatasetMapper, build_scene_synthesizer

__all__ = [
    "CutoutStore",
    "SYNTH_SCENES",
    "SceneSynthesizer",
    "SynthesisDatasetMapper",
    "SynthesizedScene",
    "build_scene_synthesizer",
    "build_synthesis_train_loader",
    "compose_scene",
    "mixed_train_dicts",
    "scene_rng",
    "uses_synthesis",
    "write_cutout_store",
]
