"""tools/prepare_rpc.py masks / prune: outputs, resuming after a kill, bad input."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from dpsnet_d2.augment.cutouts import prepare_masks
from dpsnet_d2.augment.cutouts import CutoutStore
from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc

from .conftest import assert_clear_error

FAST = ["--workers", "1", "--steps", "2", "--max-train", "4"]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """A tiny synthetic RPC (2 SKUs x 4 views, 128 px, train split only)."""
    out = str(tmp_path_factory.mktemp("cutouts") / "synth")
    cfg = SynthConfig(num_skus=2, views=4, num_val=0, num_test=0, num_counters=1, size=128, seed=0)
    generate_synthetic_rpc(out, cfg, workers=1, progress=False)
    return out


@pytest.fixture
def dataset(tiny_set, tmp_path):
    """A fresh copy of the tiny set, to modify."""
    path = str(tmp_path / "ds")
    shutil.copytree(tiny_set, path)
    return path


def _masks(run_tool, dataset, out, *extra):
    """(exit status, stdout, stderr) of ``prepare_rpc.py masks``."""
    return run_tool("prepare_rpc", ["masks", dataset, "--out", out, *FAST, *extra])


def _prune(run_tool, dataset, out, *extra):
    return run_tool("prepare_rpc", ["prune", dataset, "--out", out, "--workers", "1", *extra])


def _summary(stdout):
    """The JSON summary a sub-command prints."""
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def test_masks_then_prune(run_tool, dataset, tmp_path):
    from detectron2.data.datasets import load_coco_json

    out = str(tmp_path / "out")
    # coarse masks: a network trained for 2 steps finds little
    code, stdout, _ = _masks(run_tool, dataset, out, "--method", "coarse")
    assert code == 0
    summary = _summary(stdout)
    assert summary["annotations"] == 8 and summary["written"] + summary["skipped"] == 8
    assert summary["written"] >= 6
    masks = os.path.join(out, "instances_train2019_masks.json")
    dicts = load_coco_json(masks, os.path.join(dataset, "train2019"))
    assert len(dicts) == summary["written"]
    assert all(isinstance(d["annotations"][0]["segmentation"], dict) for d in dicts)

    preview = str(tmp_path / "preview.jpg")
    code, stdout, _ = _prune(run_tool, dataset, out, "--preview", preview)
    assert code == 0 and f"preview: {preview}" in stdout
    summary = _summary(stdout)
    picture = cv2.imread(preview)
    assert picture is not None and picture.shape[1] > 8 * 100
    store = CutoutStore(os.path.join(out, "cutouts"))
    assert len(store) == summary["cutouts"] == len(dicts)
    assert 1 <= len(store.kept()) == summary["kept"] <= len(store)
    assert {r["view"] for r in store.records} <= set(range(4))
    for i in range(len(store)):
        assert store.has_pixels(i) == store.records[i]["kept"]  # pruned views: no pixels
        if store.records[i]["kept"]:
            rgba = store.get(i)
            assert rgba.shape[2] == 4 and rgba[..., 3].any()
            assert rgba.shape[:2] == tuple(store.records[i]["source_shape"])  # --max-scale 1
            # cropped to the mask: every border row and column holds product pixels
            alpha = rgba[..., 3] > 0
            assert alpha[0].any() and alpha[-1].any() and alpha[:, 0].any() and alpha[:, -1].any()
    with open(os.path.join(out, "cutouts_report.json")) as f:
        report = json.load(f)
    assert report["theta"] == 0.45 and sum(r["images"] for r in report["skus"]) == len(store)
    # a second run skips both steps
    code, stdout, _ = _prune(run_tool, dataset, out)
    assert code == 0 and _summary(stdout)["skipped"] is True
    # another encoding is another store: refused without --overwrite, then the same pixels raw
    webp = {int(i): store.get(int(i)) for i in store.kept()}
    code, _, stderr = _prune(run_tool, dataset, out, "--encoding", "raw")
    assert code != 0 and "other inputs or settings" in stderr
    code, stdout, _ = _prune(run_tool, dataset, out, "--encoding", "raw", "--overwrite")
    assert code == 0 and _summary(stdout)["skipped"] is False
    raw = CutoutStore(os.path.join(out, "cutouts"))
    assert raw.encoding == "raw" and raw.kept().tolist() == sorted(webp)
    for i, rgba in webp.items():
        np.testing.assert_array_equal(raw.get(i), rgba)


def test_resumes_after_a_kill_between_steps(run_tool, dataset, tmp_path, monkeypatch):
    out = str(tmp_path / "out")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_masks, "train_saliency", killed)
    code, _, err = _masks(run_tool, dataset, out)
    assert code == 130 and "interrupted" in err
    work = os.path.join(out, "cutouts_work")
    assert os.listdir(work) == ["coarse.json"]  # step 1 complete, nothing of step 2
    assert not os.path.exists(os.path.join(out, "instances_train2019_masks.json"))
    monkeypatch.undo()

    def no_recompute(*args, **kwargs):
        raise AssertionError("the finished coarse step ran again")

    monkeypatch.setattr(prepare_masks, "coarse_mask", no_recompute)
    code, stdout, _ = _masks(run_tool, dataset, out)
    assert code == 0
    summary = _summary(stdout)
    assert summary["annotations"] == 8 and 1 <= summary["confident"] <= 8
    assert summary["trained_on"] == min(4, summary["confident"])
    assert sorted(os.listdir(work)) == ["coarse.json", "saliency.pth"]
    assert os.path.isfile(os.path.join(out, "instances_train2019_masks.json"))
    # changed settings replace the finished masks only when told; they redo the network but
    # still not the coarse step
    code, _, err = _masks(run_tool, dataset, out, "--min-confidence", "0.5")
    assert_clear_error(code, err, "instances_train2019_masks.json", "--overwrite")
    assert _masks(run_tool, dataset, out, "--min-confidence", "0.5", "--overwrite")[0] == 0


def _edit(dataset, fn):
    path = os.path.join(dataset, "instances_train2019.json")
    with open(path) as f:
        data = json.load(f)
    fn(data)
    with open(path, "w") as f:
        json.dump(data, f)
    return data


def test_missing_image_stops_before_any_work(run_tool, dataset, tmp_path):
    os.remove(os.path.join(dataset, "train2019", "sku002_view01_00.jpg"))
    out = str(tmp_path / "out")
    code, _, err = run_tool("prepare_rpc", ["masks", dataset, "--out", out, *FAST])
    assert_clear_error(code, err, "sku002_view01_00.jpg", "id=6", "does not exist")
    assert not os.path.exists(out)


def test_box_outside_image_stops(run_tool, dataset, tmp_path):
    _edit(dataset, lambda d: d["annotations"][2].update(bbox=[100, 10, 60, 20]))
    out = str(tmp_path / "out")
    code, _, err = run_tool("prepare_rpc", ["masks", dataset, "--out", out, *FAST])
    assert_clear_error(code, err, "instances_train2019.json", "annotations[2] (id=3)", "outside")
    assert not os.path.exists(out)


def test_unreadable_image_and_empty_crop_are_skipped_with_a_warning(
    run_tool, dataset, tmp_path
):
    with open(os.path.join(dataset, "train2019", "sku001_view02_00.jpg"), "wb") as f:
        f.write(b"not a jpeg")
    _edit(dataset, lambda d: d["annotations"][4].update(bbox=[10, 10, 1, 30]))
    out = str(tmp_path / "out")
    code, stdout, _ = _masks(run_tool, dataset, out, "--method", "coarse")
    assert code == 0
    warnings = stdout.splitlines()
    unreadable = [w for w in warnings if "sku001_view02_00.jpg" in w]
    empty = [w for w in warnings if "annotation id 5" in w]
    assert len(unreadable) == 1 and "cannot read" in unreadable[0]
    assert "annotation id 3" in unreadable[0]
    assert len(empty) == 1 and "empty crop" in empty[0]
    with open(os.path.join(out, "instances_train2019_masks.json")) as f:
        masks = json.load(f)
    assert {a["id"] for a in masks["annotations"]}.isdisjoint({3, 5})
    assert {s["id"] for s in masks["info"]["cutouts_skipped"]} >= {3, 5}


def test_sku_without_kept_view_warns(run_tool, dataset, tmp_path):
    for v in range(4):  # every image of SKU 2 unreadable: no mask, no cut-out
        with open(os.path.join(dataset, "train2019", f"sku002_view{v:02d}_00.jpg"), "wb") as f:
            f.write(b"")
    out = str(tmp_path / "out")
    assert _masks(run_tool, dataset, out, "--method", "coarse")[0] == 0
    code, stdout, _ = _prune(run_tool, dataset, out)
    assert code == 0
    lines = [line for line in stdout.splitlines() if not line.startswith("{")]  # log, not summary
    warnings = [line for line in lines if "no kept view" in line]
    assert len(warnings) == 1 and "sku 1" in warnings[0]
    store = CutoutStore(os.path.join(out, "cutouts"))
    assert {r["sku"] for r in store.records} == {0}


def test_prune_before_masks_and_unknown_dataset_are_errors(run_tool, dataset, tmp_path):
    code, _, err = run_tool("prepare_rpc", ["prune", dataset, "--out", str(tmp_path / "o")])
    assert_clear_error(code, err, "instances_train2019_masks.json", "run `prepare_rpc.py masks`")
    code, _, err = run_tool("prepare_rpc", ["masks", "no_such_dataset_train"])
    assert_clear_error(code, err, "no_such_dataset_train")
