"""Small helpers shared across the package: atomic file writes, the tools' error handling, timing,
worker processes."""
from .benchmark import median_time
from .cli import UserError, run_cli
from .file_io import atomic_open, atomic_write_bytes
from .parallel import imap_tasks

__all__ = ["UserError", "atomic_open", "atomic_write_bytes", "imap_tasks", "median_time", "run_cli"]
