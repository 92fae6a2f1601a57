"""
Cut-outs, the paper's first stage: from single-product training images to a store of product
cut-outs (docs/method.md §2).

* :mod:`.background_removal` - coarse masks by classical image processing;
* :mod:`.saliency` - the saliency network that refines them;
* :mod:`.pose_pruning` - dropping views that show too little of the product;
* :mod:`.store` - the cut-out store (compressed RGBA crops of the kept views, at most at the
  scale synthesis uses, with one index);
* :mod:`.prepare_masks`, :mod:`.prepare_cutouts` - the ``masks`` and ``prune`` steps of
  ``tools/prepare_rpc.py``; :mod:`.settings` - their settings from the ``CUTOUTS`` config node;
  :mod:`.preview` - a picture of the pipeline;
* :mod:`.true_mask_store` - a store from the embedded set's true masks (embedded set only).
"""
from .pose_pruning import DEFAULT_THETA, prune_poses, pruning_report
from .store import CutoutStore, cutout_scale_cap, write_cutout_store
from .true_mask_store import build_true_mask_store

__all__ = ["CutoutStore", "DEFAULT_THETA", "build_true_mask_store", "cutout_scale_cap",
           "prune_poses", "pruning_report", "write_cutout_store"]
