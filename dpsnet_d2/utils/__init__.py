"""Small helpers shared across the package: atomic file writes, JSON reading, the tools' error
handling, image helpers, timing, worker processes."""
from .benchmark import median_time
from .cli import UserError, read_json, run_cli
from .file_io import atomic_open, atomic_output_dir, atomic_write_bytes, write_json_atomic
from .parallel import imap_tasks

__all__ = [
    "UserError", "atomic_open", "atomic_output_dir", "atomic_write_bytes", "imap_tasks",
    "median_time", "read_json", "run_cli", "write_json_atomic",
]  # fmt: skip
