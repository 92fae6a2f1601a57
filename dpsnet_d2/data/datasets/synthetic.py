"""
Registration of the synthetic RPC set: the same official layout and format as the real RPC
dataset (see rpc.py), written by ``tools/make_synthetic_rpc.py`` to
``$DETECTRON2_DATASETS/synthetic_rpc/``.
"""
from .rpc import register_rpc_splits

__all__ = ["COUNTER_DIR", "MASK_DIR", "register_synthetic_rpc"]

# The embedded set's sidecar folder of true train masks (``<stem>.png``, uint8 0/255), beside
# ``train2019/``; real RPC has none.
MASK_DIR = "train2019_masks"
# Photos of the empty counter (no products, no labels): the backgrounds of scene synthesis.
COUNTER_DIR = "counters"


def register_synthetic_rpc(root):
    """
    Register the synthetic RPC set at ``root`` (normally ``$DETECTRON2_DATASETS/synthetic_rpc``)
    as ``synth_rpc_train`` (single products), ``synth_rpc_val`` and ``synth_rpc_test`` (checkout
    scenes with levels), with the RPC loader and metadata.

    Returns:
        list[str]: the registered names.
    """
    return register_rpc_splits(root, "synth_rpc_{split}")
