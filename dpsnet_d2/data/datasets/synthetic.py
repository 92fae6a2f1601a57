"""
Registration of the synthetic RPC set: the same official layout and format as the real RPC
dataset (see rpc.py), written by ``tools/make_synthetic_rpc.py`` to
``$DETECTRON2_DATASETS/synthetic_rpc/``.
"""
from .rpc import register_rpc_splits

__all__ = ["register_synthetic_rpc"]


def register_synthetic_rpc(root):
    """
    Register the synthetic RPC set at ``root`` (normally ``$DETECTRON2_DATASETS/synthetic_rpc``)
    as ``synth_rpc_train`` (single products), ``synth_rpc_val`` and ``synth_rpc_test`` (checkout
    scenes with levels), with the RPC loader and metadata.

    Returns:
        list[str]: the registered names.
    """
    return register_rpc_splits(root, "synth_rpc_{split}")
