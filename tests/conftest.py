"""Shared fixtures: tiny generated data and a tiny CPU config, so tests run in seconds."""
import json
import logging
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _no_debug_mode(monkeypatch):
    """A tool run with --debug sets DPSNET_DEBUG for the process; undo it after each test (a
    later test would otherwise see tracebacks instead of one-line errors)."""
    monkeypatch.setenv("DPSNET_DEBUG", "0")


@pytest.fixture(autouse=True)
def _keep_log_handlers():
    """
    Tools run in-process add log handlers on the streams pytest captures for one test
    (logging.basicConfig on the root logger, Detectron2's cached setup_logger on "dpsnet_d2",
    ...); a later test would log into the closed stream. Put every handler back after the test,
    with each logger's propagation and level.
    """
    from detectron2.utils.logger import setup_logger

    loggers = [logging.getLogger(n) for n in ("", "dpsnet_d2", "detectron2", "d2", "fvcore")]
    # handlers, and what setup_logger changes too (propagation off, the level), so a later
    # test's caplog still sees the records
    states = [(list(log.handlers), log.propagate, log.level, log.disabled) for log in loggers]
    yield
    for log, (handlers, propagate, level, disabled) in zip(loggers, states):
        log.handlers[:] = handlers
        log.propagate, log.disabled = propagate, disabled
        log.setLevel(level)
    setup_logger.cache_clear()


def write_tiny_coco(root, num_images=4, size=64, num_classes=3, seed=0):
    """
    Write a tiny COCO detection set: ``size``x``size`` images of coloured rectangles.

    Returns (json_path, image_root).
    """
    import cv2

    rng = np.random.default_rng(seed)
    image_root = os.path.join(root, "images")
    os.makedirs(image_root, exist_ok=True)
    colors = [(220, 40, 40), (40, 200, 40), (40, 60, 220), (200, 200, 40)]
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        img = np.full((size, size, 3), 235, np.uint8)
        for _ in range(rng.integers(1, 4)):
            w, h = (int(v) for v in rng.integers(size // 6, size // 2, size=2))
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            c = int(rng.integers(0, num_classes))
            img[y : y + h, x : x + w] = colors[c]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": c + 1,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        name = f"{image_id:04d}.jpg"
        cv2.imwrite(os.path.join(image_root, name), img[:, :, ::-1])
        images.append({"id": image_id, "file_name": name, "width": size, "height": size})
    categories = [{"id": i + 1, "name": f"class_{i}"} for i in range(num_classes)]
    json_path = os.path.join(root, "instances.json")
    with open(json_path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return json_path, image_root


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory):
    """A registered tiny COCO set; yields its dataset name."""
    from detectron2.data import DatasetCatalog
    from detectron2.data.datasets import register_coco_instances

    name = "dpsnet_test_tiny_coco"
    json_path, image_root = write_tiny_coco(str(tmp_path_factory.mktemp("tiny_coco")))
    if name not in DatasetCatalog.list():
        register_coco_instances(name, {}, json_path, image_root)
    return name


@pytest.fixture
def tiny_rcnn_opts():
    """A function (dataset_name, output_dir, num_classes=3) -> config overrides (a list)."""
    return _tiny_rcnn_opts


@pytest.fixture
def tiny_dpsnet_cfg(tiny_coco, tmp_path):
    """
    A function ``(*opts) -> cfg``: configs/Base-DPSNet.yaml made tiny (R-18, 32 channels, 64 px,
    3 classes, CPU) on the tiny COCO set, then the ``KEY VALUE`` overrides ``opts``. A new
    config per call.
    """
    from dpsnet_d2 import get_dpsnet_cfg

    base = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "Base-DPSNet.yaml")
    tiny = _tiny_rcnn_opts(tiny_coco, str(tmp_path)) + _TINY_DPSNET_OPTS
    return lambda *opts: get_dpsnet_cfg(base, [*tiny, *opts])


# DPSNet's own nodes made tiny for the 64 px images of the tiny sets.
_TINY_DPSNET_OPTS = [
    # anchors matched to the 10-32 px objects of the 64 px images
    "MODEL.ANCHOR_GENERATOR.SIZES", "[[8], [16], [32], [64], [128]]",
    "MODEL.BIPYRAMID.FUSE_DIM", "16",
    "MODEL.DENSITY_HEAD.CONV_DIM", "32",
    # 64 px images: sigma is clamped to SIGMA_MIN, so a smaller scale keeps the density loss
    # near the detection losses
    "MODEL.DENSITY_HEAD.TARGET_SCALE", "10.0",
    "INPUT.RANDOM_FLIP", "none",
]


def _tiny_rcnn_opts(dataset_name, output_dir, num_classes=3):
    """Config overrides for a tiny R-18-FPN trained from scratch at 64 px on CPU."""
    return [
        "MODEL.DEVICE", "cpu",
        "MODEL.WEIGHTS", "",
        "MODEL.RESNETS.DEPTH", "18",
        "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
        "MODEL.RESNETS.NORM", "BN",
        "MODEL.RESNETS.STRIDE_IN_1X1", "False",
        "MODEL.BACKBONE.FREEZE_AT", "0",
        "MODEL.FPN.OUT_CHANNELS", "32",
        "MODEL.ROI_HEADS.NUM_CLASSES", str(num_classes),
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
        "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
        "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "200",
        "MODEL.RPN.POST_NMS_TOPK_TRAIN", "50",
        "MODEL.RPN.PRE_NMS_TOPK_TEST", "200",
        "MODEL.RPN.POST_NMS_TOPK_TEST", "50",
        "INPUT.MIN_SIZE_TRAIN", "(64,)",
        "INPUT.MAX_SIZE_TRAIN", "64",
        "INPUT.MIN_SIZE_TEST", "64",
        "INPUT.MAX_SIZE_TEST", "64",
        "DATASETS.TRAIN", f"('{dataset_name}',)",
        "DATASETS.TEST", f"('{dataset_name}',)",
        "DATALOADER.NUM_WORKERS", "0",
        "SOLVER.IMS_PER_BATCH", "2",
        "SOLVER.BASE_LR", "0.001",
        "SOLVER.WARMUP_ITERS", "0",
        "SOLVER.MAX_ITER", "2",
        "SOLVER.CHECKPOINT_PERIOD", "1000",
        "TEST.EVAL_PERIOD", "0",
        "SEED", "0",
        "OUTPUT_DIR", str(output_dir),
    ]


# Categories of the tiny RPC set, in file order (ids deliberately not in order nor contiguous).
TINY_RPC_CATEGORIES = [
    {"id": 3, "name": "3_drink", "supercategory": "drink"},
    {"id": 1, "name": "1_puffed_food", "supercategory": "puffed_food"},
    {"id": 7, "name": "7_candy", "supercategory": "candy"},
    {"id": 2, "name": "2_candy", "supercategory": "candy"},
]


def make_tiny_rpc_split(split, size=64, seed=0):
    """
    The annotation dict of one split of the tiny RPC set (docs/method.md §1.1), and its images.

    train: 4 single-product images (no levels); val/test: 3 checkout images, one per level, with
    1 / 2 / 3 boxes. Returns (annotation dict, {file_name: HxWx3 uint8 RGB image}).
    """
    rng = np.random.default_rng(seed + {"train": 0, "val": 1, "test": 2}[split])
    ids = [c["id"] for c in TINY_RPC_CATEGORIES]
    levels = [None] * 4 if split == "train" else ["easy", "medium", "hard"]
    images, annotations, pixels = [], [], {}
    for k, level in enumerate(levels):
        image_id = 10 * k + 5
        name = f"{split}_{k:02d}.jpg"
        img = np.full((size, size, 3), 235, np.uint8)
        for _ in range(1 if level is None else k + 1):
            w, h = (int(v) for v in rng.integers(size // 6, size // 2, size=2))
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            img[y : y + h, x : x + w] = rng.integers(0, 200, 3)
            annotations.append(
                {
                    "id": 100 + len(annotations),
                    "image_id": image_id,
                    "category_id": int(rng.choice(ids)),
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "segmentation": [],
                    "point_xy": [x + w / 2, y + h / 2],
                }
            )
        image = {"file_name": name, "width": size, "height": size, "id": image_id}
        if level is not None:
            image["level"] = level
        images.append(image)
        pixels[name] = img
    categories = [dict(c) for c in TINY_RPC_CATEGORIES]
    data = {"images": images, "annotations": annotations, "categories": categories}
    return data, pixels


def write_tiny_rpc(root, splits=("train", "val", "test")):
    """Write the tiny RPC set (layout: docs/method.md §1.1) under ``root``; return root."""
    import cv2

    for split in splits:
        data, pixels = make_tiny_rpc_split(split)
        os.makedirs(os.path.join(root, f"{split}2019"), exist_ok=True)
        for name, img in pixels.items():
            cv2.imwrite(os.path.join(root, f"{split}2019", name), img[:, :, ::-1])
        with open(os.path.join(root, f"instances_{split}2019.json"), "w") as f:
            json.dump(data, f)
    return str(root)


@pytest.fixture(scope="session")
def tiny_rpc_root(tmp_path_factory):
    """A folder holding the tiny RPC set in the official layout (read-only for tests)."""
    return write_tiny_rpc(tmp_path_factory.mktemp("tiny_rpc"))


@pytest.fixture
def distill_cfg(tiny_dpsnet_cfg):
    """A tiny config of 10 source iterations, 3 rounds of 5, a refinement of 4 (29 in all)."""
    cfg = tiny_dpsnet_cfg(
        "DISTILL.SOURCE_ITERS", "10", "DISTILL.ROUNDS", "3", "DISTILL.ITERS_PER_ROUND", "5",
        "DISTILL.REFINE.ITERS", "4", "DISTILL.THRESHOLDS", "(0.8, 0.9)", "SOLVER.BASE_LR", "0.01",
        "DISTILL.BASE_LR", "0.002", "SOLVER.STEPS", "(6,)", "SOLVER.WARMUP_ITERS", "2",
    )
    from dpsnet_d2.distill.rounds import distill_max_iter

    cfg.SOLVER.MAX_ITER = distill_max_iter(cfg)
    return cfg


@pytest.fixture(scope="session")
def tiny_rpc_split():
    """A function (split) -> (annotation dict, {file_name: image}); see make_tiny_rpc_split."""
    return make_tiny_rpc_split


@pytest.fixture(scope="session")
def tiny_embedded_root(tmp_path_factory):
    """A tiny embedded synthetic RPC (10 SKUs x 2 views at 128 px, 2 val scenes), read-only."""
    from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc

    root = tmp_path_factory.mktemp("tiny_embedded") / "synthetic_rpc"
    cfg = SynthConfig(num_skus=10, views=2, num_val=2, num_test=0, num_counters=2, size=128, seed=0)
    return generate_synthetic_rpc(str(root), cfg, progress=False)


@pytest.fixture(scope="session")
def true_store(tiny_embedded_root, tmp_path_factory):
    """A cut-out store built from the tiny embedded set's TRUE masks (20 cut-outs, 10 SKUs)."""
    from dpsnet_d2.augment import CutoutStore, build_true_mask_store

    folder = str(tmp_path_factory.mktemp("stores") / "true")
    build_true_mask_store(tiny_embedded_root, folder)
    return CutoutStore(folder)


# Narrow FPN and box head, so Detectron2's R-50-FPN and DPSNet built for checkpoint-loading
# tests stay small (same tensor names, fewer channels).
SMALL_R50_FPN_OPTS = [
    "MODEL.DEVICE", "cpu", "MODEL.ROI_BOX_HEAD.FC_DIM", "64", "MODEL.FPN.OUT_CHANNELS", "32",
]


@pytest.fixture(scope="session")
def stock_r50_fpn():
    """
    Detectron2's own R-50-FPN Faster R-CNN with 80 classes (the layout of
    COCO-Detection/faster_rcnn_R_50_FPN_*.yaml), narrowed by SMALL_R50_FPN_OPTS, untrained
    (seed 1). Read-only for tests.
    """
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    cfg = get_cfg()
    cfg.merge_from_list(SMALL_R50_FPN_OPTS)
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[32], [64], [128], [256], [512]]
    cfg.MODEL.RPN.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 80
    cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC = 2
    cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 7
    torch.manual_seed(1)
    return build_model(cfg)


def save_model_zoo_pkl(model, path):
    """Save ``model``'s state in the layout of Detectron2's model zoo ``model_final_*.pkl``:
    numpy arrays under "model", an "__author__"."""
    import pickle

    state = {k: v.numpy() for k, v in model.state_dict().items()}
    with open(path, "wb") as f:
        pickle.dump({"model": state, "__author__": "Detectron2 Model Zoo"}, f)


@pytest.fixture(scope="session")
def small_r50_fpn_opts():
    """SMALL_R50_FPN_OPTS: KEY VALUE overrides (a tuple) of the small R-50-FPN models."""
    return tuple(SMALL_R50_FPN_OPTS)


@pytest.fixture(scope="session")
def model_zoo_pkl():
    """A function ``(model, path)`` saving the model in the model zoo's .pkl layout."""
    return save_model_zoo_pkl
