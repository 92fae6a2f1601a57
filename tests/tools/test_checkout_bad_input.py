"""
tools/checkout.py (the till) on bad input, one test per kind: a problem with the options or the
weights stops before the model is built (one line, non-zero status, nothing written); a bad image
among good ones gets no receipt while every good one gets its own, and receipts.json lists both.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances

from .conftest import assert_clear_error, forbid, poisoned_weights, write_bad_images

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "configs" / "Base-DPSNet.yaml"


@pytest.fixture
def photos(tmp_path):
    """A folder with two good photos sharing a stem (a.jpg, a.png) and b.jpg."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "a.png", "b.jpg"):
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return folder


@pytest.fixture
def till(run_tool, distill_rpc, tiny_rcnn_opts, tiny_distill_weights, tmp_path):
    """A function (input, weights=tiny 4-class weights, *extra) -> (status, out, err) of the
    till writing into tmp/receipts."""

    def run(folder, weights=tiny_distill_weights, *extra):
        opts = tiny_rcnn_opts(distill_rpc.format(split="train"), tmp_path / "unused", 4)
        return run_tool("checkout", ["--config-file", BASE, "--weights", weights, "--input",
                                     folder, "--output", tmp_path / "receipts", *extra, *opts])

    return run


class FakePredictor:
    """DefaultPredictor's stand-in: no model; outputs of one box, ``value`` in every number."""

    value = 0.9

    def __init__(self, cfg):
        from detectron2.modeling import build_model

        self.model = build_model(cfg)  # the till loads the weights (and class names) into it

    def __call__(self, image):
        instances = Instances(image.shape[:2], pred_boxes=Boxes(torch.tensor([[1.0, 1, 9, 9]])),
                              scores=torch.tensor([self.value]),
                              pred_classes=torch.tensor([0]))
        return {"instances": instances, "counts": torch.tensor([self.value + 0.1])}


def test_same_stem_keeps_both_receipts(till, photos, tmp_path):
    code, _, err = till(photos)
    assert code == 0, err
    out = tmp_path / "receipts"
    for name in ("a.jpg", "a.png", "b.jpg"):
        for suffix in (".json", ".txt", ".receipt.jpg"):
            assert (out / (name + suffix)).is_file(), name + suffix
        assert json.loads((out / (name + ".json")).read_text())["image"].endswith(name)
    assert len(json.loads((out / "receipts.json").read_text())) == 3


def test_bad_images_are_listed_and_the_good_ones_get_receipts(till, photos, tmp_path,
                                                              monkeypatch, load_tool):
    monkeypatch.setattr(load_tool("checkout"), "DefaultPredictor", FakePredictor)
    bad = write_bad_images(photos, photos / "a.jpg")
    code, _, err = till(photos)
    assert_clear_error(code, err, "3 of 6 images got no receipt", "receipts.json")
    index = json.loads((tmp_path / "receipts" / "receipts.json").read_text())
    assert sorted(Path(r["image"]).name for r in index if "receipt" in r) == [
        "a.jpg", "a.png", "b.jpg"]
    errors = {Path(r["image"]).name: r["error"] for r in index if "error" in r}
    assert errors == {"empty.jpg": "is empty (0 bytes)",
                      "text.jpg": "is not an image (its header cannot be read)",
                      "truncated.jpg": "is truncated (a JPEG file without its end)"}
    assert not any((tmp_path / "receipts" / (p.name + ".json")).exists() for p in bad.values())


def test_nan_outputs_never_become_a_receipt(till, photos, tmp_path, monkeypatch, load_tool):
    monkeypatch.setattr(FakePredictor, "value", float("nan"))
    monkeypatch.setattr(load_tool("checkout"), "DefaultPredictor", FakePredictor)
    code, _, err = till(photos)
    assert_clear_error(code, err, "3 of 3 images got no receipt", "NaN")
    index = json.loads((tmp_path / "receipts" / "receipts.json").read_text())
    assert len(index) == 3 and all("NaN" in r["error"] for r in index)
    assert sorted(p.name for p in (tmp_path / "receipts").iterdir()) == ["receipts.json"]


def _text(path, content):
    path.write_bytes(content)
    return path


WEIGHTS = {
    # name: (make(tmp, good weights) -> path, fragments of the error line)
    "NaN weights": (lambda tmp, w: poisoned_weights(w, tmp / "nan.pth"),
                    ["--weights", "nan.pth", "NaN or infinite"]),
    "another class count": (lambda tmp, w: poisoned_weights(w, tmp / "k2.pth", classes=2),
                            ["--weights", "k2.pth", "a model of 2 classes", "NUM_CLASSES is 4"]),
    "truncated checkpoint": (lambda tmp, w: _text(tmp / "t.pth", Path(w).read_bytes()[:5000]),
                             ["--weights", "t.pth", "damaged checkpoint"]),
    "text file as weights": (lambda tmp, w: _text(tmp / "x.pth", b"hello"),
                             ["--weights", "x.pth", "not a PyTorch checkpoint"]),
    "zip that is no checkpoint": (lambda tmp, w: _zip(tmp / "z.pth"),
                                  ["--weights", "z.pth", "not a readable checkpoint"]),
    "missing weights": (lambda tmp, w: tmp / "nope.pth", ["--weights", "nope.pth"]),
}


def _zip(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a checkpoint")
    return path


@pytest.mark.parametrize("case", sorted(WEIGHTS))
def test_bad_weights_stop_before_the_model_is_built(case, till, photos, tmp_path,
                                                    tiny_distill_weights, monkeypatch, load_tool):
    forbid(monkeypatch, load_tool("checkout"), "DefaultPredictor")
    make, fragments = WEIGHTS[case]
    code, _, err = till(photos, make(tmp_path, tiny_distill_weights))
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "receipts").exists()


@pytest.mark.parametrize("extra,fragments", [
    (["--threshold", "1.5"], ["--threshold 1.5", "[0, 1]"]),
    (["--threshold", "-0.1"], ["--threshold -0.1"]),
])
def test_bad_options_stop_before_the_model_is_built(extra, fragments, till, photos, tmp_path,
                                                    tiny_distill_weights, monkeypatch, load_tool):
    forbid(monkeypatch, load_tool("checkout"), "DefaultPredictor")
    code, _, err = till(photos, tiny_distill_weights, *extra)
    assert_clear_error(code, err, *fragments)
    assert not (tmp_path / "receipts").exists()


def test_bad_input_folders_stop_before_the_model_is_built(till, tmp_path, monkeypatch,
                                                          load_tool):
    forbid(monkeypatch, load_tool("checkout"), "DefaultPredictor")
    code, _, err = till(tmp_path / "missing")
    assert_clear_error(code, err, "--input", "missing", "no such file or folder")
    (tmp_path / "empty").mkdir()
    code, _, err = till(tmp_path / "empty")
    assert_clear_error(code, err, "--input", "empty", "no .jpg")
    assert not (tmp_path / "receipts").exists()
