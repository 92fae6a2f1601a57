"""Atomic writes (a file, a folder): the whole thing or nothing, with the usual permissions."""
import os

import pytest

import dpsnet_d2.utils.file_io as file_io
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


def test_atomic_open_text_and_failure_inside_the_block(tmp_path):
    from dpsnet_d2.utils import atomic_open

    path = tmp_path / "tag"
    with atomic_open(str(path), "w") as f:
        f.write("model_final.pth")
    assert path.read_text() == "model_final.pth"
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_open(str(path), "w") as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "model_final.pth" and os.listdir(tmp_path) == ["tag"]
    with pytest.raises(ValueError, match="writes only"):
        with atomic_open(str(path), "r"):
            pass


def test_trainer_checkpoints_appear_whole_or_not_at_all(tiny_dpsnet_cfg, tmp_path, monkeypatch):
    import torch

    from dpsnet_d2 import DPSNetTrainer

    trainer = DPSNetTrainer(tiny_dpsnet_cfg())
    trainer.checkpointer.save("model_final")
    good = (tmp_path / "model_final.pth").read_bytes()
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"

    def save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(OSError, match="disk full"):
        trainer.checkpointer.save("model_final")
    with pytest.raises(OSError, match="disk full"):
        trainer.checkpointer.save("model_0000099")
    assert (tmp_path / "model_final.pth").read_bytes() == good
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".") or "0000099" in n]
    # reading and the other path operations are the wrapped manager's
    assert trainer.checkpointer.has_checkpoint()
    assert trainer.checkpointer.get_checkpoint_file().endswith("model_final.pth")


def test_failed_final_rename_restores_the_old_set(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(src).startswith(".out.tmp-"):  # the new set moving into place
            raise OSError("disk gone")
        real_replace(src, dst)

    monkeypatch.setattr(file_io.os, "replace", replace)
    with pytest.raises(OSError, match="disk gone"):
        with file_io.atomic_output_dir(str(out), overwrite=True) as tmp:
            with open(os.path.join(tmp, "new.txt"), "w") as f:
                f.write("new")
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "old"
    assert os.listdir(tmp_path) == ["out"]  # no .out.old-* or .out.tmp-* left behind
