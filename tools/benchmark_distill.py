#!/usr/bin/env python
"""
Benchmarks of iterative knowledge distillation (results in BENCHMARKS.md).

    # pseudo-labelling (predict + consistency check + label file) vs plain D2 inference
    python tools/benchmark_distill.py throughput --config-file CFG --weights W --dataset synth_rpc_test
    # a source model trained on synthesized checkout scenes (an RPC-format folder) ...
    python tools/benchmark_distill.py source --scenes DIR --config-file CFG [KEY VALUE ...]
    # ... then distillation with those scenes as the source data (tools/distill_net.py's options)
    python tools/benchmark_distill.py distill --scenes DIR --config-file CFG --rounds 3 [KEY VALUE ...]

``--scenes DIR`` (``DIR/instances_train2019.json`` + ``DIR/train2019/``, e.g. written by
``tools/prepare_rpc.py synthesize``) is registered as ``bench_synth_scenes`` and becomes
DATASETS.TRAIN. Then ``tools/audit_pseudo_labels.py`` measures the labels.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import torch
from detectron2.data import build_detection_test_loader
from detectron2.engine import default_setup
from detectron2.evaluation import DatasetEvaluators, inference_on_dataset

from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg
from dpsnet_d2.data import DPSNetDatasetMapper
from dpsnet_d2.data.datasets import register_rpc_instances
from dpsnet_d2.density_channels import density_channel_map
from dpsnet_d2.distill.rounds import (
    Selection,
    TargetSet,
    distill_max_iter,
    distill_stages,
    label_stage,
)
from dpsnet_d2.engine import DistillTrainer, DPSNetCheckpointer, validate_distill_config
from dpsnet_d2.engine.distill_predict import predict_images
from dpsnet_d2.utils import write_json_atomic
from dpsnet_d2.utils.cli import run_cli

SCENES = "bench_synth_scenes"


def register_scenes(folder):
    register_rpc_instances(SCENES, os.path.join(folder, "instances_train2019.json"),
                           os.path.join(folder, "train2019"))
    return ["DATASETS.TRAIN", f"('{SCENES}',)"]


def run_source(args):
    """Train a source model on the scenes (DPSNetTrainer, as tools/train_net.py)."""
    cfg = get_dpsnet_cfg(args.config_file, register_scenes(args.scenes) + args.opts)
    cfg.freeze()
    default_setup(cfg, argparse.Namespace(config_file=args.config_file, opts=args.opts,
                                          eval_only=False))
    trainer = DPSNetTrainer(cfg)
    trainer.resume_or_load(resume=False)
    return trainer.train()


def run_distill(args):
    """A distillation run (DistillTrainer, its hook and distill.rounds, as tools/distill_net.py)
    with the scenes as DATASETS.TRAIN, in this process."""
    cfg = get_dpsnet_cfg(args.config_file, register_scenes(args.scenes) + args.opts)
    cfg.DISTILL.ROUNDS = args.rounds
    cfg.SOLVER.MAX_ITER = distill_max_iter(cfg)
    cfg.freeze()
    validate_distill_config(cfg)
    default_setup(cfg, argparse.Namespace(config_file=args.config_file, opts=args.opts,
                                          eval_only=False))
    trainer = DistillTrainer(cfg)
    trainer.resume_or_load(resume=False)
    return trainer.train()


def _pseudo_label(cfg, model, targets, folder):
    """Everything distillation does at a round start except training (the first round's
    label_stage, as the training hook calls it): seconds."""
    start = time.perf_counter()
    predictions = predict_images(model, targets.records, DPSNetDatasetMapper(cfg, False),
                                 batch_size=cfg.DISTILL.PREDICT_BATCH_SIZE,
                                 num_workers=cfg.DATALOADER.NUM_WORKERS, desc="pseudo-label")
    stage = distill_stages(cfg)[0]
    selection = Selection.from_config(cfg, stage, density_channel_map(cfg)[1])
    label_stage(stage, targets, predictions, selection, folder)
    return time.perf_counter() - start


def run_throughput(args):
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    cfg.MODEL.WEIGHTS = args.weights
    model = DPSNetTrainer.build_model(cfg)
    DPSNetCheckpointer(model).load(args.weights)
    model.eval()
    targets = TargetSet.load([args.dataset])
    loader = build_detection_test_loader(cfg, args.dataset)
    inference_on_dataset(model, [next(iter(loader))], DatasetEvaluators([]))  # warm-up
    plain, pseudo = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            start = time.perf_counter()
            inference_on_dataset(model, loader, DatasetEvaluators([]))
            plain.append(time.perf_counter() - start)
            pseudo.append(_pseudo_label(cfg, model, targets, tmp))
    n = len(targets.records)
    result = {
        "images": n, "device": str(cfg.MODEL.DEVICE),
        "torch_threads": torch.get_num_threads(),
        "plain_images_per_s": n / min(plain), "pseudo_label_images_per_s": n / min(pseudo),
        "ratio": min(plain) / min(pseudo), "plain_s": plain, "pseudo_label_s": pseudo,
        "predict_batch_size": cfg.DISTILL.PREDICT_BATCH_SIZE,
        "tau": distill_stages(cfg)[0].threshold if cfg.DISTILL.ROUNDS else None,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        write_json_atomic(args.json, result)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput", help="pseudo-labelling vs plain inference, images/s")
    t.add_argument("--weights", required=True)
    t.add_argument("--dataset", default="synth_rpc_test")
    t.add_argument("--repeat", type=int, default=2, help="alternating timed passes (best kept)")
    t.add_argument("--json", default="")
    for name in ("source", "distill"):
        s = sub.add_parser(name)
        s.add_argument("--scenes", required=True, help="RPC-format folder of synthesized scenes")
        if name == "distill":
            s.add_argument("--rounds", type=int, default=3)
    for s in sub.choices.values():
        s.add_argument("--config-file", required=True)
        s.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    return {"throughput": run_throughput, "source": run_source,
            "distill": run_distill}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
