"""Small helpers shared across the package."""
from .benchmark import median_time
from .file_io import atomic_write_bytes

__all__ = ["atomic_write_bytes", "median_time"]
