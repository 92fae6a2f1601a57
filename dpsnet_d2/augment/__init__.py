"""
The paper's source side: from single products on a turntable to checkout-like training scenes,
one subpackage per stage (see docs/method.md):

* :mod:`.cutouts` - background removal (coarse masks) -> saliency refinement -> pose pruning ->
  the cut-out store;
* :mod:`.synthesis` - checkout scene synthesis, its dataset mapper and loader, offline export;
* :mod:`.render` - the CycleGAN that moves synthesized scenes toward the checkout look.

The names the tools and tests use most are re-exported here.
"""
from .cutouts import CutoutStore, build_true_mask_store, write_cutout_store
from .synthesis import (
    LEVELS,
    SYNTH_SCENES,
    SceneSynthesizer,
    SynthesisDatasetMapper,
    SynthesizedScene,
    build_scene_synthesizer,
    build_synthesis_train_loader,
    compose_scene,
    mixed_train_dicts,
    scene_rng,
    uses_synthesis,
)

__all__ = [
    "CutoutStore", "LEVELS", "SYNTH_SCENES", "SceneSynthesizer", "SynthesisDatasetMapper",
    "SynthesizedScene", "build_scene_synthesizer", "build_synthesis_train_loader",
    "build_true_mask_store", "compose_scene", "mixed_train_dicts", "scene_rng", "uses_synthesis",
    "write_cutout_store",
]  # fmt: skip
