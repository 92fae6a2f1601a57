"""tools/prepare_rpc.py synthesize: an RPC-format set, deterministic, multi-process, resumable."""
import json
import os

import numpy as np
import pycocotools.mask as mask_util
import pytest

from dpsnet_d2.augment.synthesis import export as synthesis_export
from dpsnet_d2.data.datasets.rpc_format import load_rpc_json

SCENE_ARGS = ["--size", "128", "--reference-size", "128", "--num", "6", "--seed", "3"]


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("prepare_rpc")


def _files(out):
    images = sorted(os.listdir(os.path.join(out, "train2019")))
    data = {n: open(os.path.join(out, "train2019", n), "rb").read() for n in images}
    with open(os.path.join(out, "instances_train2019.json")) as f:
        return data, json.load(f)


@pytest.fixture(scope="module")
def one_process_set(tool, tiny_embedded_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("offline")
    store, out = str(root / "store"), str(root / "set")
    args = ["synthesize", "--store", store, "--true-masks", tiny_embedded_root, "--out", out]
    assert tool.main(args + SCENE_ARGS) == 0
    return store, out


def test_set_is_rpc_format_with_visible_boxes_rle_masks_and_levels(one_process_set):
    _, out = one_process_set
    dicts = load_rpc_json(os.path.join(out, "instances_train2019.json"),
                          os.path.join(out, "train2019"), check_files=True)
    assert len(dicts) == 6 and {d["level"] for d in dicts} <= {"easy", "medium", "hard"}
    _, data = _files(out)
    assert not os.path.exists(os.path.join(out, "parts"))
    for ann in data["annotations"]:
        mask = mask_util.decode(ann["segmentation"])
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann["bbox"]
        assert [x, y, x + w, y + h] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert ann["area"] == int(mask.sum())


def test_processes_do_not_change_the_bytes(tool, one_process_set, tmp_path):
    store, out = one_process_set
    other = str(tmp_path / "set2")
    args = ["synthesize", "--store", store, "--out", other, "--workers", "2", "--categories",
            _categories_json(one_process_set)]
    assert tool.main(args + SCENE_ARGS) == 0
    assert _files(other) == _files(out)


def _categories_json(one_process_set):
    _, out = one_process_set
    return os.path.join(out, "instances_train2019.json")  # holds the store's categories


def test_resume_after_an_interruption(tool, one_process_set, tmp_path, monkeypatch):
    store, out = one_process_set
    other = str(tmp_path / "set3")
    real = synthesis_export._write_scene

    def dies_at_3(index):
        if index == 3:
            raise KeyboardInterrupt
        return real(index)

    monkeypatch.setattr(synthesis_export, "_write_scene", dies_at_3)
    kwargs = dict(categories_json=_categories_json(one_process_set), seed=3, progress=False,
                  synthesizer_kwargs={"canvas_size": 128, "reference_size": 128})
    with pytest.raises(KeyboardInterrupt):
        synthesis_export.export_synthesized_set(store, other, 6, **kwargs)
    assert not os.path.exists(os.path.join(other, "instances_train2019.json"))
    monkeypatch.setattr(synthesis_export, "_write_scene", real)
    result = synthesis_export.export_synthesized_set(store, other, 6, **kwargs)
    assert result["composed"] == 3
    assert _files(other)[0] == _files(out)[0]
    with pytest.raises(FileExistsError, match="complete"):
        synthesis_export.export_synthesized_set(store, other, 6, **kwargs)


def test_bad_input_is_one_line_and_exit_2(tool, one_process_set, tmp_path, capsys):
    store, _ = one_process_set
    args = ["synthesize", "--store", str(tmp_path / "missing"), "--out", str(tmp_path / "o"),
            "--categories", _categories_json(one_process_set), "--num", "2"]
    assert tool.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0]
    args = ["synthesize", "--store", store, "--out", str(tmp_path / "o"), "--num", "2",
            "--categories", _categories_json(one_process_set), "--scale-range", "5", "6",
            "--size", "128", "--reference-size", "128"]
    assert tool.main(args) == 2
    assert "cannot fit" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o")


def test_num_0_with_true_masks_only_builds_the_store(tool, tiny_embedded_root, tmp_path):
    store = tmp_path / "store"
    args = ["synthesize", "--store", str(store), "--true-masks", tiny_embedded_root, "--num", "0"]
    assert tool.main(args) == 0
    assert (store / "index.json").is_file() and (store / "pixels.bin").is_file()
