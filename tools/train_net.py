#!/usr/bin/env python
"""
Train or evaluate a DPSNet model with Detectron2.

    python tools/train_net.py --config-file configs/Synthetic/dpsnet_R_18_cpu.yaml
    python tools/train_net.py --config-file configs/RPC/dpsnet_R_101_FPN.yaml --num-gpus 8
    python tools/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS model_final.pth
    python tools/train_net.py --config-file CFG --resume          # continue in OUTPUT_DIR
    python tools/train_net.py --config-file CFG --dataset my_scenes SET/instances_train2019.json \
        SET/train2019 DATASETS.TRAIN "('my_scenes',)"   # an RPC/COCO-style set of your own

Trailing ``KEY VALUE`` pairs override the config (Detectron2's ``opts``). Before anything is
built, the config, the weights, ``OUTPUT_DIR`` and every dataset of the run (train and test) are
checked; a problem stops the tool with one line (``--debug`` shows the traceback).
"""
import sys

from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.evaluation import verify_results

from dpsnet_d2 import DPSNetTrainer, get_dpsnet_cfg
from dpsnet_d2.data.datasets import register_rpc_instances
from dpsnet_d2.engine import DPSNetCheckpointer, check_launch, check_run_inputs
from dpsnet_d2.utils.cli import UserError, add_debug_flag, run_cli


def setup(args):
    """Build the frozen config from defaults, DPSNet nodes, the config file and overrides."""
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def register_datasets(specs):
    """Register each ``--dataset NAME JSON IMAGE_ROOT`` (RPC/COCO-style json, lazily)."""
    for name, json_file, image_root in specs or ():
        register_rpc_instances(name, json_file, image_root)


def main(args):
    """One process of the run (``launch`` starts one per GPU)."""
    register_datasets(args.dataset)
    cfg = setup(args)
    if args.eval_only:
        model = DPSNetTrainer.build_model(cfg)
        DPSNetCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        res = DPSNetTrainer.test(cfg, model)
        verify_results(cfg, res)
        return res

    trainer = DPSNetTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def argument_parser():
    """Detectron2's ``default_argument_parser`` plus ``--debug`` and ``--dataset``."""
    parser = add_debug_flag(default_argument_parser())
    parser.add_argument(
        "--dataset", nargs=3, action="append", metavar=("NAME", "JSON", "IMAGE_ROOT"),
        help="register an RPC/COCO-style set (e.g. an offline synthesized or rendered set) "
        "under NAME for DATASETS.TRAIN / TEST; repeatable",
    )
    return parser


def cli(argv=None):
    """Parse, check the run's inputs (seconds), then launch :func:`main`."""
    args = argument_parser().parse_args(argv)
    if not args.config_file:
        raise UserError("--config-file is required")
    print("Command Line Args:", args)
    register_datasets(args.dataset)
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    check_launch(cfg, num_gpus=args.num_gpus, num_machines=args.num_machines,
                 machine_rank=args.machine_rank)
    check_run_inputs(cfg, resume=args.resume, eval_only=args.eval_only)
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(cli))
