"""Writing result files so that a reader never sees a half-written one."""
import os
import tempfile

__all__ = ["atomic_write_bytes"]


def atomic_write_bytes(path, data: bytes) -> None:
    """
    Write ``data`` to ``path`` through a temporary file in the same folder (created if needed),
    renamed into place at the end and removed on any error. The file gets the usual permissions
    (0666 less the umask), not mkstemp's 0600.
    """
    folder, base = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
