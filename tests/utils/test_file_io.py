"""atomic_write_bytes: the whole file or nothing, with the usual permissions."""
import os

import pytest

from dpsnet_d2.utils import atomic_write_bytes


def test_writes_with_umask_permissions(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write_bytes(str(path), b"{}")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_bytes() == b"{}" and path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(path.parent) == ["a.json"]


def test_failed_rename_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    path.write_bytes(b"old")

    def replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(str(path), b"new")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.json"]
