"""
tools/distill_net.py on bad input, one test per kind: every case stops before the model is built
(``launch`` is never called) with one clear line and a non-zero status, and leaves OUTPUT_DIR as
it was; good input reaches ``launch``.
"""
import shutil
from pathlib import Path

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

from .conftest import assert_clear_error, poisoned_weights, write_bad_images

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "configs" / "Base-DPSNet.yaml"


@pytest.fixture
def launched(load_tool, monkeypatch):
    calls = []
    monkeypatch.setattr(load_tool("distill_net"), "launch", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def target(tiny_rpc_root, tmp_path):
    """A writable copy of the tiny test split registered as the target 'bad_target'; the
    catalogs are restored afterwards. Returns its image folder."""
    from dpsnet_d2.data.datasets import register_rpc_instances

    datasets, metadata = dict(DatasetCatalog), dict(MetadataCatalog)
    root = tmp_path / "target"
    shutil.copytree(Path(tiny_rpc_root) / "test2019", root / "test2019")
    shutil.copy(Path(tiny_rpc_root) / "instances_test2019.json", root)
    register_rpc_instances("bad_target", str(root / "instances_test2019.json"),
                           str(root / "test2019"))
    yield root / "test2019"
    DatasetCatalog.clear()
    DatasetCatalog.update(datasets)
    MetadataCatalog.clear()
    MetadataCatalog.update(metadata)


@pytest.fixture
def distill(run_tool, distill_opts, tmp_path, target):
    """A function (*argv, **overrides) -> (status, err) of distill_net.py's command line on the
    tiny 2-round config into tmp/out with the target 'bad_target'."""

    def run(*argv, **overrides):
        opts = distill_opts(tmp_path / "out", "bad_target")
        for key, value in overrides.items():
            key = key.replace("__", ".")
            if key in opts:
                opts[opts.index(key) + 1] = value
            else:
                opts += [key, value]
        code, _, err = run_tool("distill_net", ["--config-file", BASE, *argv, *opts], "cli")
        return code, err

    return run


def _snapshot(folder):
    return {p: p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


def test_good_input_reaches_launch(distill, launched, tmp_path):
    code, err = distill()
    assert code == 0 and len(launched) == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rounds", ["-1", "0", "two"])
def test_rounds_out_of_range(rounds, distill, launched):
    code, err = distill("--rounds", rounds)
    assert_clear_error(code, err, "--rounds")
    assert launched == []


@pytest.fixture
def earlier_run(tmp_path, tiny_distill_weights):
    """tmp/out holding a finished round 0 (labels, summary, model, last_checkpoint)."""
    out = tmp_path / "out"
    (out / "round_0").mkdir(parents=True)
    (out / "round_0" / "pseudo_labels.json").write_text('{"images": []}')
    shutil.copy(tiny_distill_weights, out / "round_0" / "model_final.pth")
    (out / "last_checkpoint").write_text("round_0/model_final.pth")
    return out


def test_finished_run_is_not_overwritten_without_resume(distill, launched, earlier_run):
    before = _snapshot(earlier_run)
    code, err = distill()
    assert_clear_error(code, err, "OUTPUT_DIR", str(earlier_run), "already holds a run",
                       "--resume", "--overwrite")
    assert launched == [] and _snapshot(earlier_run) == before
    for flag in ("--resume", "--overwrite"):
        code, err = distill(flag)
        assert code == 0, err
    assert len(launched) == 2 and _snapshot(earlier_run) == before


@pytest.mark.parametrize("case", ["missing file", "NaN weights", "another class count"])
def test_bad_last_checkpoint_stops_a_resume(case, distill, launched, earlier_run,
                                            tiny_distill_weights):
    model = earlier_run / "round_0" / "model_final.pth"
    if case == "missing file":
        model.unlink()
        fragments = ["last_checkpoint", "round_0/model_final.pth", "does not exist"]
    elif case == "NaN weights":
        poisoned_weights(tiny_distill_weights, model)
        fragments = ["last checkpoint", "NaN or infinite"]
    else:
        poisoned_weights(tiny_distill_weights, model, classes=2)
        fragments = ["last checkpoint", "a model of 2 classes", "NUM_CLASSES is 4"]
    code, err = distill("--resume")
    assert_clear_error(code, err, *fragments)
    assert launched == []


@pytest.mark.parametrize("case", ["NaN weights", "another class count", "truncated"])
def test_bad_model_weights_stop_before_the_model_is_built(case, distill, launched, tmp_path,
                                                          tiny_distill_weights):
    path = tmp_path / "w.pth"
    if case == "NaN weights":
        poisoned_weights(tiny_distill_weights, path)
        fragments = ["MODEL.WEIGHTS", "w.pth", "NaN or infinite"]
    elif case == "another class count":
        poisoned_weights(tiny_distill_weights, path, classes=2)
        fragments = ["MODEL.WEIGHTS", "w.pth", "a model of 2 classes"]
    else:
        path.write_bytes(Path(tiny_distill_weights).read_bytes()[:3000])
        fragments = ["MODEL.WEIGHTS", "w.pth", "damaged checkpoint"]
    code, err = distill(MODEL__WEIGHTS=str(path))
    assert_clear_error(code, err, *fragments)
    assert launched == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "mis-sized"])
def test_bad_target_images_are_found_before_the_model_is_built(kind, distill, launched, target,
                                                               tmp_path):
    import cv2
    import numpy as np

    victim = target / "test_01.jpg"
    if kind == "missing":
        victim.unlink()
        reason = "does not exist"
    elif kind == "mis-sized":
        cv2.imwrite(str(victim), np.zeros((32, 48, 3), np.uint8))
        reason = "is 48x32, the dataset says 64x64"
    else:
        bad = write_bad_images(tmp_path / "bad", target / "test_00.jpg")[kind]
        shutil.copy(bad, victim)
        reason = {"empty": "is empty", "text": "is not an image",
                  "truncated": "is truncated"}[kind]
    code, err = distill()
    assert_clear_error(code, err, "DISTILL.TARGET_DATASETS", "bad_target", "test_01.jpg", reason)
    assert launched == [] and not (tmp_path / "out").exists()


def test_a_truncated_cutout_store_stops_before_the_model_is_built(distill, launched, true_store,
                                                                  tmp_path):
    store = tmp_path / "store"
    shutil.copytree(true_store.folder, store)
    data = (store / "pixels.bin").read_bytes()
    (store / "pixels.bin").write_bytes(data[: len(data) // 2])
    code, err = distill(DATASETS__TRAIN="('synth_scenes',)",
                        INPUT__DATASET_MAPPER_NAME="synthesis",
                        INPUT__SYNTHESIS__CUTOUT_STORE=str(store))
    assert_clear_error(code, err, "INPUT.SYNTHESIS.CUTOUT_STORE", "pixels.bin", "items[",
                       "the store is truncated")
    assert launched == [] and not (tmp_path / "out").exists()
