"""Small helpers shared across the package."""
from .file_io import atomic_write_bytes

__all__ = ["atomic_write_bytes"]
