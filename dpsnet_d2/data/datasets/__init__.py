"""RPC-format datasets: loading, checking and registration (``builtin`` registers on import)."""
from . import builtin
from .builtin import register_all_rpc
from .rpc import (
    RPC_LEVELS,
    RPC_SPLITS,
    RPC_SUPERCATEGORIES,
    RPCFormatError,
    load_rpc_categories,
    load_rpc_json,
    register_rpc,
    register_rpc_instances,
    register_rpc_splits,
)
from .synthetic import register_synthetic_rpc
