"""
The official tool's numbers for a (results, ground truth) pair, as JSON on stdout.

Runs in a separate Python that has ``rpctool`` 0.1.6 installed (it needs ``pandas<2``), never in
the project's environment:

    python3 -m venv /tmp/rpcvenv && /tmp/rpcvenv/bin/pip install rpctool "pandas<2" "numpy<2" \
        pycocotools matplotlib scikit-image
    /tmp/rpcvenv/bin/python tests/evaluation/rpctool_reference.py bbox_results.json instances.json

Per level ("averaged", "easy", "medium", "hard") it calls rpctool's own ``evaluateByJson`` (the
sweep) and ``evalMap`` (COCO AP) exactly as ``rpctool.evaluate_v1.evaluateByBbox.evaluateByJsp``
does, and records the unrounded metrics of the chosen threshold (rpctool prints them rounded) by
wrapping its per-threshold metric function. NaN / inf (rpctool's division by zero) become null.
"""
import contextlib
import copy
import io
import json
import math
import sys

import rpctool.evaluate_v1.evaluateByBbox as rpc_v1
from rpctool.evaluate_v1.evaluateMap import evalMap


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def main(results_path, gt_path):
    with open(results_path) as f:
        results = json.load(f)
    with open(gt_path) as f:
        gt = json.load(f)
    calls = []
    official_evaluate = rpc_v1.evaluate

    def recording_evaluate(*args, **kwargs):
        scores = official_evaluate(*args, **kwargs)
        calls.append(scores)
        return scores

    rpc_v1.evaluate = recording_evaluate
    rpc_v1.getMmap = False
    out = {}
    for level in ("averaged", "easy", "medium", "hard"):
        level_gt = copy.deepcopy(gt)
        if level != "averaged":
            level_gt["images"] = [im for im in level_gt["images"] if im["level"] == level]
            ids = {im["id"] for im in level_gt["images"]}
            level_gt["annotations"] = [a for a in level_gt["annotations"] if a["image_id"] in ids]
        calls.clear()
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            rpc_v1.evaluateByJson(copy.deepcopy(results), level_gt)
        threshold = float(log.getvalue().split("row.thre = ")[1].split()[0])
        chosen = next(c for c in calls[-10:] if c["thre"] == threshold)
        row = {k: _finite(chosen[k]) for k in ("thre", "cAcc", "ACD", "mCCD", "mCIoU")}
        ids = {im["id"] for im in level_gt["images"]}
        with contextlib.redirect_stdout(io.StringIO()):
            ap = evalMap(level_gt, [r for r in copy.deepcopy(results) if r["image_id"] in ids])
        row.update({k: _finite(v) for k, v in ap.items()})
        row["passes"] = [[float(c["thre"]), float(c["cAcc"])] for c in calls]
        out[level] = row
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:3])
