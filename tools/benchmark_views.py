#!/usr/bin/env python
"""
Do the two views agree on correct target images? Measures checkpoints of one training (results
in BENCHMARKS.md, "The two views agree"):

    python tools/benchmark_views.py --config-file configs/Synthetic/dpsnet_R_18_source_cpu.yaml \
        --weights output/synthetic/dpsnet_R_18_source_cpu --output output/benchmark_views \
        [KEY VALUE ...]

``--weights`` takes checkpoint files or folders (every ``model_*.pth`` in a folder, in order).
Per checkpoint: the counting view on the labelled target (``--target``, default synth_rpc_test:
count accuracy, MAE, density outside the objects' boxes), the detection view's class-aware
recall at ``--detection-precision`` on held-out synthesized scenes, and the consistency check on
the target at the published tau and at the tau calibrated on synthesized calibration scenes
(with MIN_BOXES 0 / 3, class-agnostic NMS off / on): selected share, pseudo-box precision, share
of selected images entirely correct. Writes ``views.json``, ``views.md`` and ``views.png`` into
``--output``. Target labels are read only to measure.
"""
import argparse
import glob
import os
import sys

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine.view_benchmark import ViewSets, measure_views
from dpsnet_d2.evaluation.view_report import checkpoint_iteration, views_markdown, views_png
from dpsnet_d2.utils import atomic_write_bytes, write_json_atomic
from dpsnet_d2.utils.cli import UserError, check_output_dir, int_at_least, run_cli


def checkpoint_files(paths):
    """Files of ``paths`` (folders expand to their model_*.pth, sorted by iteration)."""
    def iteration(path):
        found = checkpoint_iteration(path)
        return 10 ** 9 if found is None else found  # model_final last
    files = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(glob.glob(os.path.join(p, "model_*.pth")), key=iteration)
            if not found:
                raise UserError(f"--weights {p}: no model_*.pth in this folder")
            files += found
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise UserError(f"--weights {p}: no such file or folder")
    return files


def main(argv):
    args = parse_args(argv)
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    files = checkpoint_files(args.weights)
    check_output_dir(args.output, "--output")
    os.makedirs(args.output, exist_ok=True)
    sets = ViewSets(cfg, args.target, args.calibration, args.heldout)
    rows = []
    for path in files:
        rows.append(measure_views(cfg, path, sets, detection_precision=args.detection_precision))
        write_json_atomic(os.path.join(args.output, "views.json"), rows)
        print(views_markdown(rows[-1:]), flush=True)
    atomic_write_bytes(os.path.join(args.output, "views.md"), views_markdown(rows).encode())
    atomic_write_bytes(os.path.join(args.output, "views.png"), views_png(rows))
    print(f"wrote views.json, views.md and views.png to {args.output}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True, help="the training's config")
    parser.add_argument("--weights", nargs="+", required=True,
                        help="checkpoint files or folders of model_*.pth")
    parser.add_argument("--target", default="synth_rpc_test", help="labelled target dataset")
    parser.add_argument("--calibration", type=int_at_least(1), default=100,
                        help="synthesized calibration scenes (tau calibration)")
    parser.add_argument("--heldout", type=int_at_least(1), default=150,
                        help="synthesized held-out scenes (detection recall)")
    parser.add_argument("--detection-precision", type=float, default=0.9,
                        help="class-aware precision at which detection recall is read")
    parser.add_argument("--output", default="output/benchmark_views", help="output folder")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
