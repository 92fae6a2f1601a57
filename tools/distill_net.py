#!/usr/bin/env python
"""
Iterative knowledge distillation of a DPSNet model on unlabelled target images.

    python tools/distill_net.py --config-file CFG --rounds N [--num-gpus G] [--resume] [KEY VALUE ...]

The config names the target dataset(s) in DISTILL.TARGET_DATASETS (their labels are never read)
and the model to start from in MODEL.WEIGHTS (or DISTILL.SOURCE_ITERS of source training first).
Every round predicts all target images, keeps the consistent ones as pseudo labels, and trains
DISTILL.ITERS_PER_ROUND iterations on source + pseudo-labelled target images; the instance-level
refinement follows (DISTILL.REFINE.*). Outputs under OUTPUT_DIR: ``round_{r}/`` (and
``refine/``) with ``pseudo_labels.json``, ``model_final.pth``, ``round_summary.json``; at the
end ``distill_summary.md`` and ``distill_progress.png``. ``--resume`` continues after the last
finished round or checkpoint; an OUTPUT_DIR holding an earlier run is an error unless
``--resume`` or ``--overwrite`` is given. SOLVER.MAX_ITER is set from DISTILL.*. ``--eval-only``
is refused (evaluate a distilled model with ``tools/train_net.py --eval-only``).

Inputs are checked before any training (the launch, OUTPUT_DIR, the weights: readable, finite and
of NUM_CLASSES classes, the source and evaluation datasets, the DISTILL config, the target
images: present, non-empty, readable headers, and classes): a problem stops the tool with one
line (``--debug`` shows the traceback).
"""
import sys

from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.augment import SYNTH_SCENES
from dpsnet_d2.distill.rounds import distill_max_iter
from dpsnet_d2.distill.targets import load_target_images
from dpsnet_d2.engine import DistillTrainer, check_datasets, check_launch, validate_distill_config
from dpsnet_d2.engine.checkpoint_checks import check_checkpoint_file
from dpsnet_d2.engine.checks import check_cutout_store, check_image_files, last_checkpoint
from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_output_dir, int_at_least, run_cli
from dpsnet_d2.utils.paths import check_run_folder

# Files of OUTPUT_DIR that show an earlier distillation run (see the module docstring).
RUN_MARKERS = ("last_checkpoint", "distill_summary.md", "round_0", "model_final.pth")


def build_cfg(args):
    """The distillation config (not frozen): file, overrides, --rounds, then MAX_ITER."""
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    if args.rounds is not None:
        cfg.DISTILL.ROUNDS = args.rounds
    cfg.SOLVER.MAX_ITER = distill_max_iter(cfg)
    return cfg


def main(args):
    """One process of the run (``launch`` starts one per GPU)."""
    cfg = build_cfg(args)
    cfg.freeze()
    default_setup(cfg, args)
    # the rounds' progress (consistency, pseudo labels, loaders) to the console and log.txt
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="dpsnet_d2")
    trainer = DistillTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def check_inputs(args):
    """Check everything the run reads and writes, in seconds; raise :class:`UserError`."""
    if not args.config_file:
        raise UserError("--config-file is required")
    if args.eval_only:
        raise UserError("distill_net.py does not evaluate: use tools/train_net.py --config-file "
                        "CFG --eval-only MODEL.WEIGHTS OUTPUT_DIR/refine/model_final.pth")
    cfg = build_cfg(args)
    check_launch(cfg, num_gpus=args.num_gpus, num_machines=args.num_machines,
                 machine_rank=args.machine_rank)
    check_output_dir(cfg.OUTPUT_DIR, "OUTPUT_DIR")
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    # synthesized scenes have no stored boxes: their cut-out store is checked instead
    files = [name for name in cfg.DATASETS.TRAIN if name != SYNTH_SCENES]
    if len(files) < len(cfg.DATASETS.TRAIN):
        check_cutout_store(cfg.INPUT.SYNTHESIS.CUTOUT_STORE, num_classes)
    if files:
        check_datasets(files, key="DATASETS.TRAIN", num_classes=num_classes, need_boxes=True)
    if cfg.DISTILL.EVAL_DATASETS:
        check_datasets(cfg.DISTILL.EVAL_DATASETS, key="DISTILL.EVAL_DATASETS",
                       num_classes=num_classes)
    validate_distill_config(cfg, args.num_gpus * args.num_machines)
    check_run_folder(cfg.OUTPUT_DIR, RUN_MARKERS, resume=args.resume, overwrite=args.overwrite,
                     what="OUTPUT_DIR")
    last = last_checkpoint(cfg.OUTPUT_DIR) if args.resume else None
    if last is not None:
        check_checkpoint_file(last, "the last checkpoint", num_classes, strict=True)
    else:
        check_checkpoint_file(cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS", num_classes, strict=True)
    for name in cfg.DISTILL.TARGET_DATASETS:
        check_image_files(load_target_images(name), f"DISTILL.TARGET_DATASETS: dataset {name!r}")


def parser():
    p = add_debug_flag(default_argument_parser())
    p.add_argument("--rounds", type=int_at_least(1), default=None, help="override DISTILL.ROUNDS")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in an OUTPUT_DIR holding an earlier run, writing over it")
    return p


def cli(argv=None):
    """Parse, check the inputs, then launch :func:`main`."""
    args = parser().parse_args(argv)
    print("Command Line Args:", args)
    check_inputs(args)
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
