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
finished round or checkpoint. SOLVER.MAX_ITER is set from DISTILL.*.

Inputs are checked before any training: a bad config or target set is one error line and exit
status 2.
"""
import sys

from detectron2.engine import default_argument_parser, default_setup, launch

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.distill.targets import TargetError
from dpsnet_d2.engine import DistillTrainer, validate_distill_config
from dpsnet_d2.engine.distill_trainer import DistillConfigError, distill_max_iter


def build_cfg(args):
    """The distillation config (not frozen): file, overrides, --rounds, then MAX_ITER."""
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    if args.rounds is not None:
        cfg.DISTILL.ROUNDS = args.rounds
    cfg.SOLVER.MAX_ITER = distill_max_iter(cfg)
    return cfg


def main(args):
    cfg = build_cfg(args)
    cfg.freeze()
    default_setup(cfg, args)
    trainer = DistillTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def check_inputs(args):
    """Validate the config and the target data; return an error line or None."""
    try:
        validate_distill_config(build_cfg(args), args.num_gpus * args.num_machines)
    except (DistillConfigError, TargetError) as e:
        return f"distill_net.py: error: {e}"
    return None


def parser():
    p = default_argument_parser()
    p.add_argument("--rounds", type=int, default=None, help="override DISTILL.ROUNDS")
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    error = check_inputs(args)
    if error:
        print(error, file=sys.stderr)
        sys.exit(2)
    print("Command Line Args:", args)
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
