#!/usr/bin/env python
"""
Evaluate a COCO results file on the RPC protocol, without a model.

    python tools/evaluate_rpc.py bbox_results.json instances_test2019.json
    python tools/evaluate_rpc.py bbox_results.json instances_test2019.json --threshold 0.8 \
        --output-dir out/

Prints the leaderboard table (sweep = the official oracle protocol, fixed = --threshold) and
writes ``rpc_results.json`` into ``--output-dir`` (default: beside the results file). The results
file is a COCO result list ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]`` with
the ground truth's ids, e.g. the ``bbox_results.json`` written by RPCEvaluator.
"""
import argparse
import json
import os

import numpy as np
from detectron2.utils.logger import setup_logger

from dpsnet_d2.evaluation.rpc_coco import coco_from_dict, rpc_report
from dpsnet_d2.evaluation.rpc_protocol import (
    Detections,
    RPCGroundTruth,
    report_text,
    write_json_atomic,
)


def _load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path}: cannot read JSON ({e})") from e


def detections_from_results(results, gt, *, source):
    """:class:`Detections` of COCO result records (D); a clear error naming the bad record."""
    if not isinstance(results, list):
        raise ValueError(f"{source}: expected a list of COCO result records")
    category = {cid: k for k, cid in enumerate(gt.category_ids)}
    image_ids, classes, boxes, scores = [], [], [], []
    for j, r in enumerate(results):
        if not (isinstance(r, dict) and {"image_id", "category_id", "bbox", "score"} <= r.keys()
                and isinstance(r["bbox"], (list, tuple)) and len(r["bbox"]) == 4
                and r["category_id"] in category):
            raise ValueError(f"{source}: record {j} is not a result with image_id, a known "
                             f"category_id (one of the ground truth's), bbox [x, y, w, h] and "
                             f"score: {r!r}")
        image_ids.append(r["image_id"])
        classes.append(category[r["category_id"]])
        boxes.append(r["bbox"])
        scores.append(r["score"])
    return Detections(
        image=gt.index_of(image_ids, source=source, what="record"),
        cls=np.asarray(classes, dtype=np.int64),
        score=np.asarray(scores, dtype=np.float64),
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", help="COCO results json (bbox_results.json)")
    parser.add_argument("ground_truth",
                        help="RPC ground-truth json with image levels (instances_test2019.json)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="score threshold of the fixed mode (default: sweep rows only)")
    parser.add_argument("--output-dir", default=None,
                        help="where to write rpc_results.json (default: beside the results file)")
    parser.add_argument("--no-map", action="store_true",
                        help="skip mAP50 / mmAP (pycocotools, the slow part)")
    args = parser.parse_args(argv)
    setup_logger(name="dpsnet_d2")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        parser.error(f"--threshold must lie in [0, 1]; got {args.threshold}")

    gt_dict = _load_json(args.ground_truth)
    results = _load_json(args.results)
    gt = RPCGroundTruth.from_coco_dict(gt_dict, source=args.ground_truth)
    det = detections_from_results(results, gt, source=args.results)
    report = rpc_report(
        gt, det, dataset=os.path.basename(args.ground_truth), score_threshold=args.threshold,
        coco_gt=None if args.no_map else coco_from_dict(gt_dict), results=results,
    )
    output_dir = args.output_dir or os.path.dirname(os.path.abspath(args.results))
    write_json_atomic(os.path.join(output_dir, "rpc_results.json"), report)
    print(report_text(report))
    return report


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:  # bad input: the message names the file and the record
        raise SystemExit(f"error: {e}") from None
