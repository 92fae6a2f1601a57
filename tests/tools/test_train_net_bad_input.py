"""
tools/train_net.py on bad input: every case stops before the model is built (``launch`` is never
called) with one clear line, a non-zero status and no traceback; good input reaches ``launch``.
"""
import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

from dpsnet_d2.data.datasets.rpc import register_rpc_splits

from .conftest import assert_clear_error

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "configs" / "Base-DPSNet.yaml"


@pytest.fixture
def launched(load_tool, monkeypatch):
    """The calls train_net.py makes to launch (recorded, nothing is trained)."""
    calls = []
    monkeypatch.setattr(load_tool("train_net"), "launch", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def rpc_copy(tiny_rpc_root, tmp_path):
    """A writable copy of the tiny RPC set (4 categories) registered as bad_rpc_{split}; the
    catalogs are restored afterwards."""
    datasets, metadata = dict(DatasetCatalog), dict(MetadataCatalog)
    root = tmp_path / "rpc"
    shutil.copytree(tiny_rpc_root, root)
    register_rpc_splits(str(root), "bad_rpc_{split}")
    yield root
    DatasetCatalog.clear()
    DatasetCatalog.update(datasets)
    MetadataCatalog.clear()
    MetadataCatalog.update(metadata)


def _rpc_opts(tiny_rcnn_opts, root, tmp_path, num_classes=4):
    opts = tiny_rcnn_opts("bad_rpc_train", tmp_path / "out", num_classes=num_classes)
    opts[opts.index("DATASETS.TEST") + 1] = "('bad_rpc_val',)"
    return opts


def test_good_input_reaches_launch(run_tool, launched, rpc_copy, tiny_rcnn_opts, tmp_path):
    code, _, err = run_tool("train_net", ["--config-file", BASE,
                                          *_rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path)], "cli")
    assert code == 0 and len(launched) == 1, err
    assert not (tmp_path / "out").exists()  # checks write nothing


def _write(path, text):
    Path(path).write_text(text)
    return path


CASES = {
    # name: (extra argv before the opts, opts replacements {KEY: VALUE}, setup(root, tmp), fragments)
    "missing config": (["--config-file", "{tmp}/nope.yaml"], {}, None,
                       ["config file", "nope.yaml", "cannot be read"]),
    "unknown key in the config": (
        ["--config-file", "{tmp}/bad.yaml"], {},
        lambda root, tmp: _write(tmp / "bad.yaml", f'_BASE_: "{BASE}"\nMODEL:\n  NOPE: 1\n'),
        ["bad.yaml", "Non-existent config key: MODEL.NOPE"]),
    "unknown key override": ([], {"MODEL.NOPE": "1"}, None, ["MODEL.NOPE"]),
    "missing weights": ([], {"MODEL.WEIGHTS": "{tmp}/nope.pth"}, None,
                        ["MODEL.WEIGHTS", "nope.pth", "cannot be read"]),
    "text file as weights": ([], {"MODEL.WEIGHTS": "{tmp}/w.pth"},
                             lambda root, tmp: _write(tmp / "w.pth", "not weights"),
                             ["w.pth", "not a PyTorch checkpoint"]),
    "truncated checkpoint": ([], {"MODEL.WEIGHTS": "{tmp}/t.pth"},
                             lambda root, tmp: (tmp / "t.pth").write_bytes(b"PK\x03\x04" + b"\0" * 64),
                             ["t.pth", "damaged checkpoint"]),
    "negative --num-gpus": (["--num-gpus", "-1"], {}, None, ["--num-gpus must be >= 1"]),
    "several GPUs on CPU": (["--num-gpus", "2"], {}, None, ["--num-gpus 2"]),
    "NUM_CLASSES 20 on 4 categories": ([], {"MODEL.ROI_HEADS.NUM_CLASSES": "20"}, None,
                                       ["NUM_CLASSES is 20", "bad_rpc_train", "4 categories"]),
    "broken val json": ([], {}, lambda root, tmp: _write(
        root / "instances_val2019.json", (root / "instances_val2019.json").read_text()[:-40]),
        ["instances_val2019.json", "invalid JSON"]),
    "bad level in val json": ([], {}, lambda root, tmp: _edit_val(root, "level", "extreme"),
                              ["instances_val2019.json", "images[0]", "'level' must be one of"]),
    "missing val image": ([], {}, lambda root, tmp: os.remove(root / "val2019" / "val_01.jpg"),
                          ["DATASETS.TEST", "bad_rpc_val", "val_01.jpg", "does not exist"]),
    "unregistered test set": ([], {"DATASETS.TEST": "('nope_val',)"}, None,
                              ["DATASETS.TEST", "'nope_val' is not registered"]),
    "output under a file": ([], {"OUTPUT_DIR": "{tmp}/f.txt/out"},
                            lambda root, tmp: _write(tmp / "f.txt", "x"),
                            ["OUTPUT_DIR", "is under a file"]),
    "eval-only without weights": (["--eval-only"], {}, None, ["--eval-only needs"]),
    "CUDA without a GPU": ([], {"MODEL.DEVICE": "cuda"}, None, ["no CUDA GPU"]),
    "odd overrides": ([], {"SOLVER.MAX_ITER": None}, None, ["KEY VALUE pairs"]),
    "wrong value type": ([], {"SOLVER.MAX_ITER": "many"}, None, ["SOLVER.MAX_ITER", "mismatch"]),
}


def _edit_val(root, key, value):
    path = root / "instances_val2019.json"
    data = json.loads(path.read_text())
    data["images"][0][key] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_stops_before_training(case, run_tool, launched, rpc_copy, tiny_rcnn_opts,
                                         tmp_path):
    if case == "CUDA without a GPU":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is available")
    argv, replace, setup, fragments = CASES[case]
    if setup is not None:
        setup(rpc_copy, tmp_path)
    opts = _rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path)
    for key, value in replace.items():
        if key in opts:
            i = opts.index(key)
            opts[i: i + 2] = [] if value is None else [key, value]
            if value is None:
                opts.append(key)
        else:
            opts += [key, value]
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--config-file" not in argv:
        argv = ["--config-file", str(BASE)] + argv
    opts = [o.format(tmp=tmp_path) for o in opts]
    code, _, err = run_tool("train_net", argv + opts, "cli")
    assert_clear_error(code, err, *fragments)
    assert launched == []
    assert not (tmp_path / "out").exists()


def test_dataset_flag_registers_a_set_of_ones_own(run_tool, launched, rpc_copy, tiny_rcnn_opts,
                                                   tmp_path):
    opts = _rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path)
    opts[opts.index("DATASETS.TRAIN") + 1] = "('my_offline_set',)"
    flag = ["--dataset", "my_offline_set", str(rpc_copy / "instances_train2019.json"),
            str(rpc_copy / "train2019")]
    code, _, err = run_tool("train_net", ["--config-file", BASE, *flag, *opts], "cli")
    assert code == 0 and len(launched) == 1, err
    assert MetadataCatalog.get("my_offline_set").json_file == str(
        rpc_copy / "instances_train2019.json")
    flag[2] = str(rpc_copy / "missing.json")
    code, _, err = run_tool("train_net", ["--config-file", BASE, *flag, *opts], "cli")
    assert_clear_error(code, err, "missing.json")
    assert len(launched) == 1


# --------------------------------------------------------------------------------------------- #
# second pass: the images of a --dataset set, checkpoints' content, the cut-out store
# --------------------------------------------------------------------------------------------- #
@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "mis-sized"])
def test_bad_images_of_a_dataset_flag_set_stop_before_training(kind, run_tool, launched,
                                                               rpc_copy, tiny_rcnn_opts, tmp_path):
    import cv2
    import numpy as np

    from .conftest import write_bad_images

    victim = rpc_copy / "train2019" / "train_02.jpg"
    if kind == "mis-sized":
        cv2.imwrite(str(victim), np.zeros((40, 64, 3), np.uint8))
        reason = "is 64x40, the dataset says 64x64"
    else:
        bad = write_bad_images(tmp_path / "bad", rpc_copy / "train2019" / "train_00.jpg")
        shutil.copy(bad[kind], victim)
        reason = {"empty": "is empty (0 bytes)", "text": "is not an image",
                  "truncated": "is truncated"}[kind]
    opts = _rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path)
    opts[opts.index("DATASETS.TRAIN") + 1] = "('my_set',)"
    flag = ["--dataset", "my_set", rpc_copy / "instances_train2019.json", rpc_copy / "train2019"]
    code, _, err = run_tool("train_net", ["--config-file", BASE, *flag, *opts], "cli")
    assert_clear_error(code, err, "DATASETS.TRAIN", "my_set", "train_02.jpg", "image_id", reason)
    assert launched == [] and not (tmp_path / "out").exists()


def test_an_image_that_fails_to_decode_in_training_is_skipped(tmp_path, caplog):
    """What only a full decode finds is reported and skipped (MapDataset draws another)."""
    from detectron2.data.detection_utils import read_image

    from dpsnet_d2.data.unreadable import SkipUnreadableImages

    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")
    mapper = SkipUnreadableImages(lambda d: read_image(d["file_name"]))
    assert mapper({"file_name": str(bad), "image_id": 7}) is None
    assert mapper({"file_name": str(bad), "image_id": 7}) is None
    warnings = [r.getMessage() for r in caplog.records if "cannot be decoded" in r.getMessage()]
    assert len(warnings) == 1 and "x.jpg (image_id 7)" in warnings[0]


@pytest.fixture
def warnings_of():
    """A function (logger name) -> list filled with that logger's messages during the test (a
    handler on the logger itself: what other tests did to propagation cannot hide them)."""
    attached = []

    class _Keep(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    def attach(name):
        log, handler = logging.getLogger(name), _Keep()
        attached.append((log, handler, log.disabled))
        log.disabled = False
        log.addHandler(handler)
        return handler.messages

    yield attach
    for log, handler, disabled in attached:
        log.removeHandler(handler)
        log.disabled = disabled


def test_weights_of_another_class_count_initialise_with_the_tensors_listed(
        run_tool, launched, rpc_copy, tiny_rcnn_opts, tiny_distill_weights, tmp_path,
        warnings_of):
    from .conftest import poisoned_weights

    weights = poisoned_weights(tiny_distill_weights, tmp_path / "k2.pth", classes=2)
    opts = _rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path) + ["MODEL.WEIGHTS", weights]
    messages = warnings_of("dpsnet_d2.engine.checkpoint_checks")
    code, _, err = run_tool("train_net", ["--config-file", BASE, *opts], "cli")
    assert code == 0 and len(launched) == 1, err
    listed = [m for m in messages if "class-dependent tensors" in m]
    assert len(listed) == 1 and "a model of 2 classes" in listed[0]
    assert "roi_heads.box_predictor.cls_score.weight" in listed[0]
    # evaluating such a model, or resuming from it, is an error
    code, _, err = run_tool("train_net", ["--config-file", BASE, "--eval-only", *opts], "cli")
    assert_clear_error(code, err, "MODEL.WEIGHTS", "k2.pth", "a model of 2 classes")
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(weights, out / "model_0000001.pth")
    (out / "last_checkpoint").write_text("model_0000001.pth")
    code, _, err = run_tool("train_net", ["--config-file", BASE, "--resume", *opts], "cli")
    assert_clear_error(code, err, "last checkpoint", "a model of 2 classes")
    assert len(launched) == 1


@pytest.mark.parametrize("where", ["MODEL.WEIGHTS", "last_checkpoint"])
def test_nan_weights_stop_before_training(where, run_tool, launched, rpc_copy, tiny_rcnn_opts,
                                          tiny_distill_weights, tmp_path):
    from .conftest import poisoned_weights

    opts = _rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path)
    argv = ["--config-file", BASE]
    if where == "MODEL.WEIGHTS":
        opts += ["MODEL.WEIGHTS", poisoned_weights(tiny_distill_weights, tmp_path / "nan.pth")]
    else:
        (tmp_path / "out").mkdir()
        poisoned_weights(tiny_distill_weights, tmp_path / "out" / "model_0000001.pth")
        (tmp_path / "out" / "last_checkpoint").write_text("model_0000001.pth")
        argv.append("--resume")
    code, _, err = run_tool("train_net", argv + opts, "cli")
    assert_clear_error(code, err, "NaN or infinite")
    assert launched == []


def test_a_new_run_into_a_finished_output_dir_warns(run_tool, launched, rpc_copy, tiny_rcnn_opts,
                                                    tmp_path, warnings_of):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model_final.pth").write_bytes(b"")
    messages = warnings_of("dpsnet_d2.engine.checks")
    code, _, err = run_tool("train_net", ["--config-file", BASE,
                                          *_rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path)], "cli")
    assert code == 0 and len(launched) == 1, err  # Detectron2's behaviour, with a warning
    assert any("already holds a run (model_final.pth)" in m for m in messages)


@pytest.mark.parametrize("damage", ["truncated pixels", "broken index", "record past the end",
                                    "not a store"])
def test_a_damaged_cutout_store_stops_before_training(damage, run_tool, launched, true_store,
                                                      tiny_rcnn_opts, rpc_copy, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(true_store.folder, store)
    index = store / "index.json"
    if damage == "truncated pixels":
        data = (store / "pixels.bin").read_bytes()
        (store / "pixels.bin").write_bytes(data[: len(data) - 100])
        fragments = ["pixels.bin", "items[19]", "the store is truncated"]
    elif damage == "broken index":
        index.write_text(index.read_text()[:-30])
        fragments = ["index.json", "line 1", "invalid JSON"]
    elif damage == "record past the end":
        data = json.loads(index.read_text())
        data["items"][3]["offset"] = 10 ** 9
        index.write_text(json.dumps(data))
        fragments = ["pixels.bin", "items[3]", "past the file's end"]
    else:
        (store / "pixels.bin").unlink()
        fragments = ["INPUT.SYNTHESIS.CUTOUT_STORE", "not a cut-out store"]
    opts = _rpc_opts(tiny_rcnn_opts, rpc_copy, tmp_path, num_classes=10) + [
        "DATASETS.TRAIN", "('synth_scenes',)", "INPUT.DATASET_MAPPER_NAME", "synthesis",
        "INPUT.SYNTHESIS.CUTOUT_STORE", str(store), "DATASETS.TEST", "()"]
    code, _, err = run_tool("train_net", ["--config-file", BASE, *opts], "cli")
    assert_clear_error(code, err, *fragments)
    assert launched == []
