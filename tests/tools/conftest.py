"""Fixtures for the tests of tools/ (scripts, not a package)."""
import functools
import importlib.util
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@functools.lru_cache(maxsize=None)
def _load(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_tool():
    """A function ``name -> module`` of ``tools/<name>.py``, loaded once."""
    return _load


@pytest.fixture
def run_tool(load_tool, capsys):
    """
    A function ``(name, argv, entry="main") -> (exit status, stdout, stderr)`` running
    ``tools/<name>.py``'s ``entry`` in this process as its command line does
    (:func:`dpsnet_d2.utils.cli.run_cli`); argparse's exits give their status too.
    """
    from detectron2.utils.logger import setup_logger

    from dpsnet_d2.utils.cli import run_cli

    def run(name, argv, entry="main"):
        capsys.readouterr()
        # the tools' loggers print to this call's captured streams, not to an earlier call's
        loggers = [logging.getLogger(n) for n in ("dpsnet_d2", "detectron2", "fvcore")]
        handlers = [list(log.handlers) for log in loggers]
        for log in loggers:
            log.handlers[:] = []
        setup_logger.cache_clear()
        try:
            code = run_cli(getattr(load_tool(name), entry), [str(a) for a in argv])
        except SystemExit as e:
            code = e.code
        finally:
            for log, old in zip(loggers, handlers):
                log.handlers[:] = old
            setup_logger.cache_clear()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_clear_error(code, err, *fragments):
    """A user error: non-zero status, no traceback, a last stderr line saying error: and naming
    each of ``fragments``."""
    assert code not in (0, None), err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") or ": error: " in last, last
    for fragment in fragments:
        assert str(fragment) in last, (fragment, last)
    return last


def forbid(monkeypatch, module, *names):
    """Replace ``module.<name>`` for each name by a function that fails the test if called (the
    long work a tool must not start on bad input)."""

    def fail(*args, **kwargs):
        raise AssertionError(f"{module.__name__} started its work on bad input")

    for name in names:
        monkeypatch.setattr(module, name, fail)


@pytest.fixture(scope="session")
def distill_rpc(tiny_rpc_root):
    """The tiny RPC set as distill_tiny_{train,val,test}; returns the name format."""
    from dpsnet_d2.data.datasets import register_rpc_splits

    register_rpc_splits(tiny_rpc_root, "distill_tiny_{split}")
    return "distill_tiny_{split}"


@pytest.fixture(scope="session")
def unlabelled_copy(tiny_rpc_root, tmp_path_factory):
    """The tiny test split with its annotations deleted (same images), registered; its name."""
    root = tmp_path_factory.mktemp("unlabelled")
    with open(os.path.join(tiny_rpc_root, "instances_test2019.json")) as f:
        data = json.load(f)
    data["annotations"] = []
    with open(root / "instances_test2019.json", "w") as f:
        json.dump(data, f)
    shutil.copytree(os.path.join(tiny_rpc_root, "test2019"), root / "test2019")
    from dpsnet_d2.data.datasets import register_rpc_splits

    register_rpc_splits(str(root), "distill_unlabelled_{split}")
    return "distill_unlabelled_test"


@pytest.fixture
def distill_opts(distill_rpc, tiny_rcnn_opts):
    """A function (output_dir, target=None) -> overrides of a 2-round tiny distillation."""

    def make(output_dir, target=None):
        names = {s: distill_rpc.format(split=s) for s in ("train", "val", "test")}
        return tiny_rcnn_opts(names["train"], output_dir, num_classes=4) + [
            "DATASETS.TEST", "()",
            "DISTILL.TARGET_DATASETS", f"('{target or names['test']}',)",
            "DISTILL.EVAL_DATASETS", f"('{names['val']}',)",
            "DISTILL.SOURCE_ITERS", "2",
            "DISTILL.ROUNDS", "2",
            "DISTILL.ITERS_PER_ROUND", "2",
            "DISTILL.REFINE.ITERS", "2",
            # an untrained model scores below 0.1: low thresholds make the refinement find labels
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
            "TEST.DETECTIONS_PER_IMAGE", "6",
            "DISTILL.THRESHOLDS", "(0.05,)",
            "DISTILL.REFINE.SCORE_THRESH", "0.03",
            "DISTILL.REFINE.PAINT_MIN_SCORE", "0.0",
            "TEST.RPC_COMPUTE_MAP", "False",
        ]

    return make


@pytest.fixture
def distill_args(load_tool):
    """A function (*argv) -> parsed arguments of tools/distill_net.py on Base-DPSNet.yaml."""

    def parse(*argv):
        base = str(TOOLS.parent / "configs" / "Base-DPSNet.yaml")
        return load_tool("distill_net").parser().parse_args(["--config-file", base, *argv])

    return parse


@pytest.fixture
def tiny_distill_weights(distill_rpc, tiny_rcnn_opts, tmp_path_factory):
    """Weights of an untrained tiny DPSNet (4 classes, seed 0): a model to distil from."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer

    from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg

    folder = tmp_path_factory.mktemp("weights")
    cfg = get_dpsnet_cfg(str(TOOLS.parent / "configs" / "Base-DPSNet.yaml"),
                         tiny_rcnn_opts(distill_rpc.format(split="train"), str(folder), 4))
    torch.manual_seed(0)
    DetectionCheckpointer(DPSNetTrainer.build_model(cfg), str(folder)).save("tiny")
    return str(folder / "tiny.pth")


def write_bad_images(folder, good, suffix=".jpg"):
    """Write the bad image files a user meets beside ``good`` (a valid image file) into
    ``folder``: zero bytes, text, ``good`` without its last tenth; returns {kind: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = Path(good).read_bytes()
    files = {"empty": (folder / f"empty{suffix}", b""),
             "text": (folder / f"text{suffix}", b"not an image at all\n"),
             "truncated": (folder / f"truncated{suffix}",
                           data[: len(data) - max(16, len(data) // 10)])}
    for path, content in files.values():
        path.write_bytes(content)
    return {kind: path for kind, (path, _) in files.items()}


def poisoned_weights(path, out, key=None, classes=None):
    """A copy of the Detectron2 checkpoint ``path`` at ``out`` with the tensor ``key`` (default:
    the first floating one) set to NaN, or with the box predictor cut to ``classes`` (fewer)
    classes."""
    import torch

    data = torch.load(path, map_location="cpu", weights_only=False)
    model = data["model"]
    if classes is not None:
        for name in [k for k in model if k.startswith("roi_heads.box_predictor.")]:
            rows = classes + 1 if "cls_score" in name else 4 * classes
            model[name] = model[name][:rows].clone()
    else:
        key = key or next(k for k, v in model.items() if v.is_floating_point())
        model[key] = torch.full_like(model[key], float("nan"))
    torch.save(data, out)
    return str(out)
