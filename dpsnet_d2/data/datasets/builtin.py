"""
Registers the RPC-format datasets found under ``$DETECTRON2_DATASETS`` (default ``./datasets``,
as in Detectron2) when this module is imported (by ``import dpsnet_d2``):

* ``retail_product_checkout/`` -> ``rpc_2019_{train,val,test}``;
* ``synthetic_rpc/`` -> ``synth_rpc_{train,val,test}``.

Only folders that exist are registered; no annotation file is read here.
"""
import os

from .rpc import register_rpc
from .synthetic import register_synthetic_rpc

__all__ = ["register_all_rpc"]


def register_all_rpc(root):
    """
    Register the real and synthetic RPC sets whose folders exist under ``root``.

    Returns:
        list[str]: the registered dataset names.
    """
    names = []
    for folder, register in (
        ("retail_product_checkout", register_rpc),
        ("synthetic_rpc", register_synthetic_rpc),
    ):
        path = os.path.join(root, folder)
        if os.path.isdir(path):
            names += register(path)
    return names


register_all_rpc(os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets")))
