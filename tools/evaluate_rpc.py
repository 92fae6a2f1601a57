#!/usr/bin/env python
"""
Evaluate a COCO results file on the RPC protocol, without a model.

    python tools/evaluate_rpc.py bbox_results.json instances_test2019.json
    python tools/evaluate_rpc.py bbox_results.json instances_test2019.json --threshold 0.8 \
        --output out/

Prints the leaderboard table (sweep = the official oracle protocol, fixed = --threshold) and
writes ``rpc_results.json`` into ``--output`` (default: beside the results file). The results
file is a COCO result list ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]`` with
the ground truth's ids, e.g. the ``bbox_results.json`` written by RPCEvaluator.
"""
import argparse
import os
import sys

from detectron2.utils.logger import setup_logger

from dpsnet_d2.data.datasets.rpc_format import load_rpc_json_with_metadata
from dpsnet_d2.evaluation.rpc_coco import coco_ground_truth, rpc_report
from dpsnet_d2.evaluation.rpc_detections import detections_from_results
from dpsnet_d2.evaluation.rpc_protocol import RPCGroundTruth, report_text
from dpsnet_d2.utils import write_json_atomic
from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_input_file,
    check_output_dir,
    read_json,
    run_cli,
)
from dpsnet_d2.utils.options import add_output_argument


def load_ground_truth(json_file):
    """
    The :class:`RPCGroundTruth` of an RPC annotation file, read and checked by the RPC loader
    (the fields datasets/README.md lists; ``area``, ``iscrowd``, ``segmentation`` unused).
    """
    dicts, meta = load_rpc_json_with_metadata(json_file, os.path.dirname(json_file))
    mapping = meta["thing_dataset_id_to_contiguous_id"]
    return RPCGroundTruth.from_dataset_dicts(dicts, sorted(mapping, key=mapping.get),
                                             source=json_file)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", help="COCO results json (bbox_results.json)")
    parser.add_argument("ground_truth",
                        help="RPC ground-truth json with image levels (instances_test2019.json)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="score threshold of the fixed mode (default: sweep rows only)")
    add_output_argument(parser, "--output-dir", default=None,
                        help="where to write rpc_results.json (default: beside the results file)")
    parser.add_argument("--no-map", action="store_true",
                        help="skip mAP50 / mmAP (COCO box AP, the slow part)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    setup_logger(name="dpsnet_d2")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UserError(f"--threshold must lie in [0, 1]; got {args.threshold}")
    check_input_file(args.results, "results file")
    check_input_file(args.ground_truth, "ground-truth file")
    output_dir = check_output_dir(
        args.output or os.path.dirname(os.path.abspath(args.results)), "--output"
    )

    gt = load_ground_truth(args.ground_truth)
    results = read_json(args.results)
    det = detections_from_results(results, gt, source=args.results)
    report = rpc_report(
        gt, det, dataset=os.path.basename(args.ground_truth), score_threshold=args.threshold,
        coco_gt=None if args.no_map else coco_ground_truth(read_json(args.ground_truth),
                                                           source=args.ground_truth),
    )
    write_json_atomic(os.path.join(output_dir, "rpc_results.json"), report)
    print(report_text(report))
    return report


if __name__ == "__main__":
    sys.exit(run_cli(main))
