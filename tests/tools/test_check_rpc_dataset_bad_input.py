"""
tools/check_rpc_dataset.py --check-files on bad image files and file names: each is an ERROR line
naming the file and the record, exit status 1, no traceback; the good splits still pass.
"""
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from .conftest import assert_clear_error


@pytest.fixture
def root(tiny_rpc_root, tmp_path):
    copy = tmp_path / "rpc"
    shutil.copytree(tiny_rpc_root, copy)
    return copy


def _edit(root, split, change):
    path = root / f"instances_{split}2019.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _image(size):
    return cv2.imencode(".png", np.zeros((size[1], size[0], 3), np.uint8))[1].tobytes()


# case -> (what to do to val image 1 (val_01.jpg, id 15) or the val json, expected fragments)
CASES = {
    "zero-byte file": (lambda root: (root / "val2019" / "val_01.jpg").write_bytes(b""),
                       ["images[1] (id=15)", "val_01.jpg cannot be read as an image (empty file)"]),
    "not an image": (lambda root: (root / "val2019" / "val_01.jpg").write_text("hello"),
                     ["images[1] (id=15)", "val_01.jpg cannot be read as an image"]),
    "truncated header": (lambda root: (root / "val2019" / "val_01.jpg").write_bytes(
        (root / "val2019" / "val_00.jpg").read_bytes()[:12]),
        ["images[1] (id=15)", "cannot be read as an image"]),
    "other size": (lambda root: (root / "val2019" / "val_01.jpg").write_bytes(_image((64, 48))),
                   ["images[1] (id=15)", "is 64x48 pixels, the record says width 64, height 64"]),
    "folder instead of a file": (lambda root: (os.remove(root / "val2019" / "val_01.jpg"),
                                               os.mkdir(root / "val2019" / "val_01.jpg")),
                                 ["images[1] (id=15)", "does not exist"]),
    "absolute file name": (lambda root: _edit(root, "val", lambda d: d["images"][1].update(
        file_name="/etc/hostname")), ["images[1] (id=15)", "'/etc/hostname' must be a path inside"]),
    "file name leaving the folder": (lambda root: _edit(root, "val", lambda d: d["images"][1].update(
        file_name="../train2019/train_00.jpg")), ["images[1] (id=15)", "must be a path inside"]),
    "empty annotations": (lambda root: _edit(root, "val", lambda d: d.update(annotations=[])),
                          ["top level", "'annotations' is empty"]),
    "empty images": (lambda root: _edit(root, "val", lambda d: d.update(images=[], annotations=[])),
                     ["top level", "'images' is empty"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_val_files_are_one_error_line(run_tool, root, case):
    change, fragments = CASES[case]
    change(root)
    code, out, err = run_tool("check_rpc_dataset", [root, "--check-files"])
    assert code == 1 and "Traceback" not in out + err
    lines = out.splitlines()
    val = next(line for line in lines if line.startswith("val  :"))
    assert val.startswith(f"val  : ERROR {root}/instances_val2019.json: "), val
    for fragment in fragments:
        assert fragment in val, (fragment, val)
    assert any(line.startswith("train: 4 images") for line in lines)
    assert any(line.startswith("test : 3 images") for line in lines)


def test_unreadable_image(run_tool, root):
    if os.geteuid() == 0:
        pytest.skip("root reads files without read permission")
    os.chmod(root / "val2019" / "val_01.jpg", 0)
    code, out, _ = run_tool("check_rpc_dataset", [root, "--check-files", "--splits", "val"])
    assert code == 1 and "val_01.jpg cannot be read as an image (Permission denied)" in out


@pytest.mark.parametrize("where", ["missing", "file"])
def test_bad_root(run_tool, tmp_path, where):
    path = tmp_path / "x"
    if where == "file":
        path.write_text("x")
    code, _, err = run_tool("check_rpc_dataset", [path])
    assert_clear_error(code, err, "dataset folder", str(path))
