"""Data: RPC-format datasets (registered on import)."""
from . import datasets
