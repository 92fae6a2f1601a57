#!/usr/bin/env python
"""
Pre-train the detector's ResNet in-domain, as a product classifier on turntable crops (cut-outs
of the store pasted on photos of the empty counter; SKU labels of the source side only), and
write it as a Detectron2 checkpoint for ``MODEL.WEIGHTS`` (docs/method.md, "in-domain backbone
pre-training").

    python tools/pretrain_backbone.py --config-file configs/Synthetic/dpsnet_R_18_synth_cpu.yaml \\
        output/pretrain_R_18 PRETRAIN.MAX_ITER 2000
    python tools/train_net.py --config-file configs/Synthetic/dpsnet_R_18_source_cpu.yaml \\
        MODEL.WEIGHTS output/pretrain_R_18/backbone_final.pth

The ResNet is the one ``--config-file`` builds (``MODEL.RESNETS``, ``MODEL.BACKBONE``); the
crops come from ``INPUT.SYNTHESIS.CUTOUT_STORE`` and ``BACKGROUND_DIR`` (or ``--cutouts`` /
``--backgrounds``) with the checkout camera look of ``INPUT.SYNTHESIS.CAMERA``; the schedule is
``PRETRAIN.*``. Trailing ``KEY VALUE`` pairs override the config. ``OUTPUT_DIR`` receives
Detectron2's ``config.yaml``, ``log.txt``, ``metrics.json`` (``loss_cls``,
``pretrain/cls_accuracy``), the classifier's checkpoints ``model_*.pth`` and, at the end,
``backbone_final.pth`` (the ResNet alone). ``--resume`` continues a run in ``OUTPUT_DIR``.
Bad input (config, store, backgrounds, output folder, weights) stops the tool with one line
before anything is built.
"""
import argparse
import sys

from detectron2.engine import default_setup
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine.backbone_pretrain import (
    BackbonePretrainer,
    check_pretrain_inputs,
    pretrain_run_cfg,
)
from dpsnet_d2.utils.cli import add_debug_flag, run_cli


def argument_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.strip().splitlines()[1:]),
    )
    parser.add_argument("--config-file", required=True, metavar="FILE",
                        help="the detector's config (its ResNet is pre-trained)")
    parser.add_argument("--cutouts", metavar="STORE",
                        help="cut-out store of the turntable images (default: the config's "
                        "INPUT.SYNTHESIS.CUTOUT_STORE)")
    parser.add_argument("--backgrounds", metavar="DIR",
                        help="photos of the empty counter (default: the config's "
                        "INPUT.SYNTHESIS.BACKGROUND_DIR; \"\" for generated counters)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint of OUTPUT_DIR")
    add_debug_flag(parser)
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder of the run")
    parser.add_argument("opts", nargs=argparse.REMAINDER, metavar="KEY VALUE",
                        help="config overrides, e.g. PRETRAIN.MAX_ITER 2000")
    return parser


def setup(args):
    """The pre-training config: the detector's config, the options, then PRETRAIN's solver."""
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    if args.cutouts is not None:
        cfg.INPUT.SYNTHESIS.CUTOUT_STORE = args.cutouts
    if args.backgrounds is not None:
        cfg.INPUT.SYNTHESIS.BACKGROUND_DIR = args.backgrounds
    cfg.OUTPUT_DIR = args.output_dir
    return pretrain_run_cfg(cfg)


def main(argv=None):
    args = argument_parser().parse_args(argv)
    cfg = setup(args)
    check_pretrain_inputs(cfg, resume=args.resume)
    cfg.freeze()
    default_setup(cfg, args)
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="dpsnet_d2")
    trainer = BackbonePretrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    path = trainer.train()
    print(f"pre-trained backbone: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
