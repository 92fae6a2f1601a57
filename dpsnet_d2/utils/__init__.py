"""Small helpers shared across the package: atomic file writes, the tools' error handling."""
from .cli import UserError, run_cli
from .file_io import atomic_open, atomic_write_bytes

__all__ = ["UserError", "atomic_open", "atomic_write_bytes", "run_cli"]
