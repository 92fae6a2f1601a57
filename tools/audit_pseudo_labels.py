#!/usr/bin/env python
"""
Audit the pseudo labels of a finished (or running) distillation against the target's ground
truth, for analysis only — nothing here feeds training.

    python tools/audit_pseudo_labels.py OUTPUT_DIR --ground-truth instances_test2019.json [--json OUT]

Per stage and label file: labelled images, pseudo boxes, box precision / recall with class at
IoU 0.5 (recall over the ground truth of the labelled images), and the count accuracy of the
labelled images (per-class pseudo counts equal to the ground truth's).
"""
import argparse
import sys

from tabulate import tabulate

from dpsnet_d2.distill.audit import audit_run
from dpsnet_d2.utils import write_json_atomic
from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_input_dir, check_input_file, run_cli


def _pct(value):
    return "—" if value is None else f"{100 * value:.1f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output_dir", help="OUTPUT_DIR of tools/distill_net.py")
    p.add_argument("--ground-truth", required=True, help="the target's RPC json with annotations")
    p.add_argument("--iou", type=float, default=0.5, help="IoU of a match (default 0.5)")
    p.add_argument("--json", default="", help="also write the rows to this file")
    add_debug_flag(p)
    args = p.parse_args(argv)
    check_input_dir(args.output_dir, "OUTPUT_DIR")
    check_input_file(args.ground_truth, "--ground-truth")
    try:
        rows = audit_run(args.output_dir, args.ground_truth, args.iou)
    except (ValueError, KeyError) as e:
        raise UserError(f"{args.output_dir}: {e}") from e
    if not rows:
        raise UserError(f"{args.output_dir}: no label file (round_*/pseudo_labels.json)")
    table = [[r["stage"], r["file"], f"{r['images']} / {r['target_images']}", r["pseudo_boxes"],
              _pct(r["precision"]), _pct(r["recall"]), _pct(r["count_acc"])] for r in rows]
    print(tabulate(table, headers=["stage", "file", "images", "boxes", "precision %",
                                   "recall %", "count acc %"], tablefmt="pipe"))
    if args.json:
        write_json_atomic(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
