"""Data: RPC-format datasets (registered on import) and the synthetic RPC generator."""
from . import datasets
