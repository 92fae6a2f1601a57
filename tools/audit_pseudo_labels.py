#!/usr/bin/env python
"""
Audit the pseudo labels of a finished (or running) distillation against the target's ground
truth, for analysis only — nothing here feeds training.

    python tools/audit_pseudo_labels.py OUTPUT_DIR --ground-truth instances_test2019.json [--json OUT]

Per stage and label file: labelled images, pseudo boxes, box precision / recall with class at
IoU 0.5 (recall over the ground truth of the labelled images), and the count accuracy of the
labelled images (per-class pseudo counts equal to the ground truth's) and the share of labelled
images entirely correct (pseudo boxes and ground truth matched one to one). Writes
``<stage>/audit.json`` per stage; ``--summary`` adds the table to ``distill_summary.md``.
"""
import argparse
import os
import sys

from dpsnet_d2.distill.audit import AUDIT_FILE, audit_markdown, audit_run
from dpsnet_d2.utils import atomic_write_bytes, write_json_atomic
from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_input_dir,
    check_input_file,
    check_output_file,
    float_in,
    run_cli,
)


AUDIT_HEADING = "## Pseudo-label audit (target ground truth, read after the run)"


def add_audit_section(path, rows):
    """Append (or replace) the audit section of a run's distill_summary.md."""
    text = ""
    if os.path.isfile(path):
        with open(path) as f:
            text = f.read().split(AUDIT_HEADING)[0].rstrip() + "\n\n"
    atomic_write_bytes(path, (text + AUDIT_HEADING + "\n\n" + audit_markdown(rows)).encode())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output_dir", help="OUTPUT_DIR of tools/distill_net.py")
    p.add_argument("--ground-truth", required=True, help="the target's RPC json with annotations")
    p.add_argument("--iou", type=float_in(0.0, 1.0, low_open=True), default=0.5,
                   help="IoU of a match, in (0, 1] (default 0.5)")
    p.add_argument("--json", default="", help="also write the rows to this file")
    p.add_argument("--summary", action="store_true",
                   help="add the audit table to OUTPUT_DIR/distill_summary.md")
    add_debug_flag(p)
    args = p.parse_args(argv)
    check_input_dir(args.output_dir, "OUTPUT_DIR")
    check_input_file(args.ground_truth, "--ground-truth")
    if args.json:
        check_output_file(args.json, "--json", (".json",))
    try:
        rows = audit_run(args.output_dir, args.ground_truth, args.iou)
    except UserError:
        raise
    except (ValueError, KeyError) as e:
        raise UserError(f"{args.output_dir}: {e}") from e
    if not rows:
        raise UserError(f"{args.output_dir}: no label file (round_*/pseudo_labels.json)")
    print(audit_markdown(rows), end="")
    for stage in dict.fromkeys(r["stage"] for r in rows):
        write_json_atomic(os.path.join(args.output_dir, stage, AUDIT_FILE),
                          [r for r in rows if r["stage"] == stage])
    if args.json:
        write_json_atomic(args.json, rows)
    if args.summary:
        add_audit_section(os.path.join(args.output_dir, "distill_summary.md"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
