"""Sharded prediction of the target images: 2 CPU processes (gloo) give the labels of 1."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dpsnet_d2.engine.distill_predict import size_batches

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_size_batches_keep_one_size_per_batch():
    records = [{"height": h, "width": 10} for h in (5, 6, 5, 5, 6, 7)]
    assert size_batches(records, range(6), 2) == [[0, 2], [1, 4], [3], [5]]
    assert size_batches(records, [1, 3, 5], 8) == [[1], [3], [5]]


def _labels(rank, opts, port, world, out):
    """Predict the tiny targets in a process group of ``world`` and write the pseudo labels."""
    from detectron2.checkpoint import DetectionCheckpointer

    from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg
    from dpsnet_d2.data import DPSNetDatasetMapper
    from dpsnet_d2.data.datasets import register_rpc_splits
    from dpsnet_d2.distill.consistency import check_consistency
    from dpsnet_d2.distill.pseudo_labels import categories_from_metadata, pseudo_label_json
    from dpsnet_d2.distill.targets import load_target_images, target_classes
    from dpsnet_d2.engine.distill_predict import predict_images
    from dpsnet_d2.utils import write_json_atomic

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world)
    root, weights = opts
    register_rpc_splits(root, "ddp_tiny_{split}")
    cfg = get_dpsnet_cfg(os.path.join(REPO, "configs", "Base-DPSNet.yaml"), weights[1])
    model = DPSNetTrainer.build_model(cfg)
    DetectionCheckpointer(model).load(weights[0])
    records = load_target_images("ddp_tiny_test")
    predictions = predict_images(model, records, DPSNetDatasetMapper(cfg, False), batch_size=2)
    if rank == 0:
        keep = [check_consistency(p["scores"], p["classes"], p["counts"], threshold=0.0,
                                  class_to_channel=[0] * 4).keep for p in predictions]
        data = pseudo_label_json(records, predictions, keep, image_root=f"{root}/test2019",
                                 categories=categories_from_metadata(target_classes("ddp_tiny_test")),
                                 info={})
        write_json_atomic(out, data)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


@pytest.fixture
def distill_weights_for_ddp(tiny_rcnn_opts, tmp_path):
    """(weights of an untrained tiny 4-class DPSNet, its config overrides)."""
    from detectron2.checkpoint import DetectionCheckpointer

    from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg

    opts = tiny_rcnn_opts("ddp_tiny_train", str(tmp_path), 4) + [
        "DATASETS.TEST", "()", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]
    torch.manual_seed(0)
    model = DPSNetTrainer.build_model(get_dpsnet_cfg(os.path.join(REPO, "configs", "Base-DPSNet.yaml"), opts))
    DetectionCheckpointer(model, str(tmp_path)).save("tiny")
    return str(tmp_path / "tiny.pth"), opts


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_give_the_labels_of_one(tiny_rpc_root, tmp_path,
                                                   distill_weights_for_ddp):
    opts = (tiny_rpc_root, distill_weights_for_ddp)
    mp.spawn(_labels, args=(opts, _free_port(), 2, str(tmp_path / "two.json")), nprocs=2)
    _labels(0, opts, 0, 1, str(tmp_path / "one.json"))
    one, two = (tmp_path / "one.json").read_bytes(), (tmp_path / "two.json").read_bytes()
    assert b'"bbox"' in one  # threshold 0: every detection is a label
    assert one == two
