"""Writing files so that a reader never sees a half-written one."""
import contextlib
import json
import os
import shutil
import tempfile

__all__ = ["AtomicPathManager", "atomic_open", "atomic_output_dir", "atomic_write_bytes",
           "write_json_atomic"]


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """
    ``with atomic_open(path, "wb") as f: ...`` writes ``path`` whole or not at all: ``f`` is a
    temporary file in the same folder (created if needed), renamed onto ``path`` when the block
    ends normally and removed when it raises. ``mode`` is a write mode ("w", "wb"). The file gets
    the usual permissions (0666 less the umask), not mkstemp's 0600.
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open writes only; got mode {mode!r}")
    folder, base = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_json_atomic(path, obj, **dumps_kwargs) -> None:
    """
    Write ``obj`` as JSON to ``path`` whole or not at all (:func:`atomic_open`); ``dumps_kwargs``
    go to ``json.dumps`` (e.g. ``indent``). ``json.dumps`` with the default separators uses the C
    encoder, ``json.dump`` streams through the pure-Python one (much slower on large files).
    """
    atomic_write_bytes(path, json.dumps(obj, **dumps_kwargs).encode())


@contextlib.contextmanager
def atomic_output_dir(out: str, *, overwrite: bool = False):
    """
    Yield a fresh temporary folder beside ``out``; on success it replaces ``out``, on error it is
    removed (``out`` is untouched either way until the final rename). If that rename fails, an
    existing ``out`` is moved back into place before the error is raised.

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is False.
    """
    out = os.path.abspath(out)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(
            f"{out} already exists; pass --overwrite (overwrite=True) to replace it"
        )
    parent, base = os.path.split(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if os.path.lexists(out):
            trash = tempfile.mkdtemp(prefix=f".{base}.old-", dir=parent)
            old = os.path.join(trash, base)
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)  # put the old set back before re-raising
                os.rmdir(trash)
                raise
            shutil.rmtree(trash)
        else:
            os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)


class AtomicPathManager:
    """
    A view of an iopath ``PathManager`` whose ``open`` for writing goes through
    :func:`atomic_open` (local paths); every other call is the wrapped manager's. Give it to a
    Detectron2/fvcore ``Checkpointer`` (``checkpointer.path_manager``) so that checkpoints and
    the ``last_checkpoint`` tag appear whole or not at all.
    """

    def __init__(self, path_manager):
        self._path_manager = path_manager

    def open(self, path, mode="r", **kwargs):
        if "w" in mode and "://" not in str(path):
            return atomic_open(path, mode)
        return self._path_manager.open(path, mode, **kwargs)

    def __getattr__(self, name):
        return getattr(self._path_manager, name)
