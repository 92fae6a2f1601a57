"""
tools/prepare_rpc.py on bad input, one test per kind and sub-command (masks, prune, synthesize,
train-render, render): one clear line and a non-zero status, before any long work; nothing
written outside --out, no finished output replaced without --overwrite / --resume.
"""
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dpsnet_d2.utils.cli import error_line

from .conftest import assert_clear_error, write_bad_images
from .test_prepare_rpc_cutouts import FAST
from .test_prepare_rpc_render import TINY


def _digest(folder):
    return {p: p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def cutout_set(tmp_path_factory):
    """A tiny synthetic RPC (2 SKUs x 4 views, 128 px, train split only) with its coarse masks
    and store in out/ (read-only: copy it to change it)."""
    from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc

    root = tmp_path_factory.mktemp("bad_cutouts")
    generate_synthetic_rpc(str(root / "ds"), SynthConfig(num_skus=2, views=4, num_val=0,
                                                         num_test=0, size=128, seed=0),
                           workers=1, progress=False)
    return root


@pytest.fixture
def cutouts(cutout_set, tmp_path, run_tool):
    """A fresh copy of the tiny set in tmp/ds; a function (sub-command, *argv) runs
    ``prepare_rpc.py <sub-command> tmp/ds --out tmp/out --workers 1 *argv``."""
    shutil.copytree(cutout_set / "ds", tmp_path / "ds")

    def run(command, *argv):
        return run_tool("prepare_rpc", [command, tmp_path / "ds", "--out", tmp_path / "out",
                                        "--workers", "1", *argv])

    return run


# ------------------------------------------------------------------------------------ masks
@pytest.mark.parametrize("argv,fragment", [
    (["--workers", "0"], "--workers"), (["--steps", "0"], "--steps"),
    (["--min-confidence", "2"], "--min-confidence"), (["--max-train", "-3"], "--max-train"),
])
def test_masks_numeric_options_out_of_range(argv, fragment, cutouts, tmp_path):
    code, _, err = cutouts("masks", *argv)
    assert_clear_error(code, err, fragment)
    assert not (tmp_path / "out").exists()


def test_masks_that_find_nothing_fail_instead_of_writing_an_empty_file(cutouts, tmp_path):
    for image in (tmp_path / "ds" / "train2019").iterdir():
        image.write_text("not an image")
    code, _, err = cutouts("masks", "--method", "coarse")
    assert_clear_error(code, err, "instances_train2019_masks.json", "no annotation of 8 got a mask",
                       "cannot read image")
    assert not (tmp_path / "out" / "instances_train2019_masks.json").exists()


def test_masks_of_other_settings_are_not_replaced_without_overwrite(cutouts, tmp_path):
    assert cutouts("masks", "--method", "coarse")[0] == 0
    before = _digest(tmp_path / "out")
    code, _, err = cutouts("masks", *FAST)  # the saliency method: other final masks
    assert_clear_error(code, err, "instances_train2019_masks.json", "other inputs or settings",
                       "--overwrite")
    assert _digest(tmp_path / "out") == before


@pytest.mark.parametrize("argv,fragments", [
    (["CUTOUTS.NO_SUCH_KEY", "1"], ["config overrides", "CUTOUTS.NO_SUCH_KEY"]),
    (["CUTOUTS.SALIENCY.STEPS", "0"], ["config override", "CUTOUTS.SALIENCY.STEPS 0",
                                       "must be >= 1", "--steps"]),
    (["CUTOUTS.SALIENCY.STEPS", "many"], ["config overrides", "CUTOUTS.SALIENCY.STEPS"]),
    (["CUTOUTS.METHOD", "magic"], ["CUTOUTS.METHOD 'magic'", "choose one of saliency"]),
    (["CUTOUTS.METHOD"], ["config overrides", "odd number"]),
])
def test_masks_bad_config_overrides_stop_before_any_work(argv, fragments, cutouts, tmp_path):
    code, _, err = cutouts("masks", *argv)
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "out").exists()


def test_masks_bad_value_in_a_config_file_names_the_file(cutouts, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("CUTOUTS:\n  SALIENCY:\n    MIN_CONFIDENCE: 1.5\n")
    code, _, err = cutouts("masks", "--config-file", bad)
    assert_clear_error(code, err, f"config file {bad}", "CUTOUTS.SALIENCY.MIN_CONFIDENCE 1.5",
                       "must lie in [0.0, 1.0]")
    bad.write_text("CUTOUTS:\n  NO_SUCH_KEY: 1\n")
    assert_clear_error(*cutouts("masks", "--config-file", bad)[::2], str(bad), "NO_SUCH_KEY")
    code, _, err = cutouts("masks", "--config-file", tmp_path / "missing.yaml")
    assert_clear_error(code, err, "missing.yaml")
    assert not (tmp_path / "out").exists()


def test_an_unknown_option_is_refused_not_taken_for_an_override(cutouts, tmp_path):
    code, _, err = cutouts("masks", "--no-such-flag", "1")
    assert code == 2 and "unrecognized arguments: --no-such-flag" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ prune
@pytest.mark.parametrize("theta", ["5", "-1", "1", "nan?"])
def test_prune_theta_out_of_range(theta, cutouts, tmp_path):
    code, _, err = cutouts("prune", "--theta", theta)
    assert_clear_error(code, err, "--theta")
    assert not (tmp_path / "out").exists()


def test_prune_does_not_replace_a_store_of_other_settings(cutouts, tmp_path):
    assert cutouts("masks", "--method", "coarse")[0] == 0
    assert cutouts("prune")[0] == 0
    before = _digest(tmp_path / "out")
    code, _, err = cutouts("prune", "--theta", "0.2")
    assert_clear_error(code, err, "cutouts", "other inputs or settings", "--overwrite")
    assert _digest(tmp_path / "out") == before
    assert cutouts("prune", "--theta", "0.2", "--overwrite")[0] == 0


def test_prune_theta_out_of_range_in_an_override(cutouts, tmp_path):
    code, _, err = cutouts("prune", "CUTOUTS.POSE_THETA", "1.0")
    assert_clear_error(code, err, "config override", "CUTOUTS.POSE_THETA 1.0", "--theta")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------- synthesize
@pytest.fixture
def synth(run_tool, true_store, tiny_embedded_root, tmp_path):
    """A copy of the true-mask store in tmp/store; a function (*argv) runs synthesize from it
    into tmp/set (2 scenes of 128 px unless argv says otherwise)."""
    shutil.copytree(true_store.folder, tmp_path / "store")
    categories = os.path.join(tiny_embedded_root, "instances_train2019.json")

    def run(*argv, out=None):
        return run_tool("prepare_rpc", [
            "synthesize", "--store", tmp_path / "store", "--categories", categories,
            "--out", out or tmp_path / "set", "--size", "128", "--reference-size", "128",
            "--num", "2", *argv])

    return run


@pytest.mark.parametrize("argv,fragment", [
    (["--num", "-1"], "--num"), (["--workers", "0"], "--workers"), (["--size", "0"], "--size"),
    (["--quality", "0"], "--quality"), (["--quality", "101"], "--quality 101"),
    (["--max-iou", "1.5"], "--max-iou"),
])
def test_synthesize_numeric_options_out_of_range(argv, fragment, synth, tmp_path):
    code, _, err = synth(*argv)
    assert_clear_error(code, err, fragment)
    assert not (tmp_path / "set").exists()


@pytest.mark.parametrize("argv,fragments", [
    (["INPUT.SYNTHESIS.SCALE_RANGE", "[0.5]"], ["INPUT.SYNTHESIS.SCALE_RANGE [0.5]",
                                               "expected 2 values"]),
    (["INPUT.SYNTHESIS.VISIBILITY_RULE", "none"], ["INPUT.SYNTHESIS.VISIBILITY_RULE 'none'"]),
    (["INPUT.SYNTHESIS.MAX_IOU", "2.0"], ["INPUT.SYNTHESIS.MAX_IOU 2.0", "--max-iou"]),
    (["INPUT.SYNTHESIS.NO_SUCH_KEY", "1"], ["INPUT.SYNTHESIS.NO_SUCH_KEY"]),
])
def test_synthesize_bad_config_overrides(argv, fragments, synth, tmp_path):
    code, _, err = synth(*argv)
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "set").exists()


def test_synthesize_without_a_store_says_where_one_comes_from(run_tool, tmp_path):
    code, _, err = run_tool("prepare_rpc", ["synthesize", "--num", "1", "--out", tmp_path / "s"])
    assert_clear_error(code, err, "--store", "INPUT.SYNTHESIS.CUTOUT_STORE")
    assert not (tmp_path / "s").exists()


def test_synthesize_out_naming_a_file(synth, tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, err = synth(out=tmp_path / "file")
    assert_clear_error(code, err, "--out", "is a file")


@pytest.mark.parametrize("damage,fragments", [
    ("index", ["index.json", "line 1 column", "invalid JSON"]),
    ("pixels", ["pixels.bin", "items[19]", "the store is truncated"]),
])
def test_synthesize_from_a_damaged_store(damage, fragments, synth, tmp_path):
    store = tmp_path / "store"
    path = store / ("index.json" if damage == "index" else "pixels.bin")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    code, _, err = synth()
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "set").exists()


def test_synthesize_does_not_replace_a_complete_set(synth, tmp_path):
    assert synth()[0] == 0
    before = _digest(tmp_path / "set")
    code, _, err = synth("--seed", "9")
    assert_clear_error(code, err, "--out", "holds a complete set", "--overwrite")
    assert _digest(tmp_path / "set") == before
    assert synth("--seed", "9", "--overwrite")[0] == 0
    assert _digest(tmp_path / "set") != before


# ----------------------------------------------------------------------------- train-render
@pytest.fixture(scope="module")
def render_domains(tmp_path_factory):
    """Two folders of 3 small PNGs each (domain A, domain B)."""
    root = tmp_path_factory.mktemp("render_domains")
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        (root / name).mkdir()
        for k in range(3):
            cv2.imwrite(str(root / name / f"{k}.png"),
                        rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    return root


@pytest.fixture
def train_render(run_tool, render_domains, tmp_path):
    """A function (*argv, a=domain A) -> (status, out, err) of a 1-step tiny train-render."""
    shutil.copytree(render_domains / "a", tmp_path / "a")

    def run(*argv):
        return run_tool("prepare_rpc", ["train-render", "--domain-a", tmp_path / "a",
                                        "--domain-b", render_domains / "b",
                                        "--out", tmp_path / "render", *TINY,
                                        "--max-iter", "1", *argv])

    return run


@pytest.mark.parametrize("argv,fragment", [
    (["--max-iter", "0"], "--max-iter"), (["--batch-size", "0"], "--batch-size"),
    (["--workers", "-1"], "--workers"), (["--lr", "0"], "--lr"),
    (["--image-size", "8"], "--image-size"),
])
def test_train_render_numeric_options_out_of_range(argv, fragment, train_render, tmp_path):
    code, _, err = train_render(*argv)
    assert_clear_error(code, err, fragment)
    assert not (tmp_path / "render").exists()


@pytest.mark.parametrize("argv,fragments", [
    (["RENDER.LR", "0.0"], ["config override", "RENDER.LR 0.0", "--lr"]),
    (["RENDER.POOL_SIZE", "-1"], ["RENDER.POOL_SIZE -1", "must be >= 0", "--pool-size"]),
    (["RENDER.MAX_ITER", "1.5"], ["config overrides", "RENDER.MAX_ITER"]),
    (["RENDER.NO_SUCH_KEY", "1"], ["RENDER.NO_SUCH_KEY"]),
])
def test_train_render_bad_config_overrides(argv, fragments, train_render, tmp_path):
    code, _, err = train_render(*argv)
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "render").exists()


def test_train_render_batch_larger_than_a_domain_is_an_error_not_an_endless_loop(
        train_render, tmp_path):
    code, _, err = train_render("--batch-size", "4")
    assert_clear_error(code, err, "--batch-size 4", "3 images")
    assert not (tmp_path / "render").exists()


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
def test_train_render_bad_image_is_named_before_training(kind, train_render, tmp_path):
    bad = write_bad_images(tmp_path / "bad", tmp_path / "a" / "0.png", ".png")[kind]
    shutil.copy(bad, tmp_path / "a" / "1.png")
    code, _, err = train_render()
    assert_clear_error(code, err, "--domain-a", "1.png")
    assert not (tmp_path / "render").exists()


def test_train_render_decode_failure_later_is_skipped(tmp_path, caplog):
    """An image that breaks only when decoded (in a loader worker) is reported and skipped."""
    from dpsnet_d2.augment.render.domains import CropDataset

    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    cv2.imwrite(str(good), np.zeros((40, 40, 3), np.uint8))
    bad.write_bytes(b"garbage")
    crop = CropDataset([str(bad), str(good)], load_size=40, crop=32)[0]
    assert crop.shape == (3, 32, 32)
    assert any("bad.png" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


def test_train_render_does_not_restart_over_a_finished_run(train_render, tmp_path):
    assert train_render()[0] == 0
    before = _digest(tmp_path / "render")
    code, _, err = train_render()
    assert_clear_error(code, err, "--out", "already holds a run (model_final.pth)", "--resume")
    assert _digest(tmp_path / "render") == before
    assert train_render("--overwrite")[0] == 0


# ----------------------------------------------------------------------------------- render
@pytest.fixture(scope="module")
def render_model(load_tool, render_domains, tmp_path_factory):
    out = tmp_path_factory.mktemp("render_model")
    assert load_tool("prepare_rpc").main([
        "train-render", "--domain-a", str(render_domains / "a"), "--domain-b",
        str(render_domains / "b"), "--out", str(out), *TINY, "--max-iter", "1"]) == 0
    return str(out / "model_final.pth")


@pytest.fixture
def render_set(tiny_rpc_root, tmp_path):
    """A writable copy of the tiny val split (json + val2019/)."""
    shutil.copytree(Path(tiny_rpc_root) / "val2019", tmp_path / "set" / "val2019")
    shutil.copy(Path(tiny_rpc_root) / "instances_val2019.json", tmp_path / "set")
    return tmp_path / "set" / "instances_val2019.json"


def _render(run_tool, model, json_file, out, *argv):
    return run_tool("prepare_rpc", ["render", "--checkpoint", model, "--input", json_file,
                                    "--out", out, "--workers", "0", *argv])


def test_render_file_names_never_leave_the_output_folder(run_tool, render_model, render_set,
                                                         tmp_path):
    outside = tmp_path / "set" / "precious.jpg"
    shutil.copy(tmp_path / "set" / "val2019" / "val_00.jpg", outside)
    before = outside.read_bytes()
    data = json.loads(render_set.read_text())
    data["images"][1]["file_name"] = "../precious.jpg"
    render_set.write_text(json.dumps(data))
    code, _, err = _render(run_tool, render_model, render_set, tmp_path / "set" / "val2019x")
    assert_clear_error(code, err, "instances_val2019.json", "images[1]", "'../precious.jpg'",
                       "leaves its folder")
    assert outside.read_bytes() == before and not (tmp_path / "set" / "val2019x").exists()
    data["images"][1]["file_name"] = "/etc/hostname"
    render_set.write_text(json.dumps(data))
    code, _, err = _render(run_tool, render_model, render_set, tmp_path / "o")
    assert_clear_error(code, err, "images[1]", "must be a relative path")


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
def test_render_bad_image_is_named_before_any_work(kind, run_tool, render_model, render_set,
                                                   tmp_path):
    images = render_set.parent / "val2019"
    shutil.copy(write_bad_images(tmp_path / "bad", images / "val_00.jpg")[kind],
                images / "val_02.jpg")
    code, _, err = _render(run_tool, render_model, render_set, tmp_path / "out")
    assert_clear_error(code, err, "instances_val2019.json", "images[2]", "val_02.jpg")
    assert not (tmp_path / "out").exists()


def test_render_does_not_replace_an_existing_set(run_tool, render_model, render_set, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    code, _, err = _render(run_tool, render_model, render_set, tmp_path / "out")
    assert_clear_error(code, err, "out", "already exists", "--overwrite")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_worker_process_errors_are_one_line():
    """An error raised in a data-loader worker comes back with the worker's traceback in its
    message; the tools print only the worker's own last line."""
    from dpsnet_d2.augment.render.domains import DomainError

    class Failing(torch.utils.data.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            raise DomainError("/data/x.png: not a readable image")

    with pytest.raises(DomainError) as caught:
        next(iter(torch.utils.data.DataLoader(Failing(), num_workers=1)))
    assert "Traceback" in str(caught.value)
    assert error_line(caught.value) == "/data/x.png: not a readable image"
