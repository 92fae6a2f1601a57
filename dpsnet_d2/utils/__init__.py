"""Small helpers shared across the package."""
from .file_io import atomic_write_bytes
from .parallel import imap_tasks

__all__ = ["atomic_write_bytes", "imap_tasks"]
