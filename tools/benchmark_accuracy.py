#!/usr/bin/env python
"""
The paper-style accuracy table on the embedded benchmark: what each stage of DPSNet buys, every
variant trained with the same data and the same total number of iterations, evaluated on
``synth_rpc_val`` (RPC protocol, both threshold modes).

    python tools/benchmark_accuracy.py --preset cpu                 # 2 CPU cores, one seed
    python tools/benchmark_accuracy.py --preset gpu                 # one GPU, several seeds
    python tools/benchmark_accuracy.py --preset cpu --variants b c --iters 300   # a subset

Variants (T = total iterations of every variant; S = iterations on source data before the
distillation rounds; the rounds share T - S):

    f  turntable-only baseline (single products, no synthesis)          train_net, T
    a  Faster R-CNN (no counting view, no fusion) on synthesized scenes   train_net, T
    b  DPSNet on synthesized scenes                                       train_net, T
    c  b + distillation rounds on synth_rpc_test's images (labels unread) distill_net, S + rounds
    d  c + instance-level refinement (its iterations come out of T too)   distill_net
    c_super, c_cat  c with C = super-categories / C = K density channels  distill_net

Needs the embedded dataset (``$DETECTRON2_DATASETS/synthetic_rpc``) and a cut-out store
(``--cutouts``, made by ``tools/prepare_rpc.py masks`` + ``prune``). Writes under --output:
one folder per run (log, model, ``inference/synth_rpc_val/rpc_results.json``), ``accuracy.md``
(the table, mean +- std over seeds), ``accuracy.json`` and ``accuracy.png``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dpsnet_d2.evaluation.rpc_protocol import level_rows  # noqa: E402
from dpsnet_d2.utils import atomic_write_bytes  # noqa: E402
from dpsnet_d2.engine.checks import check_store_integrity  # noqa: E402
from dpsnet_d2.utils.cli import (  # noqa: E402
    UserError,
    add_debug_flag,
    check_input_dir,
    check_input_file,
    check_output_dir,
    float_in,
    int_at_least,
    run_cli,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TURNTABLE_CFG = os.path.join(REPO, "configs", "Synthetic", "dpsnet_R_18_cpu.yaml")
SYNTH_CFG = os.path.join(REPO, "configs", "Synthetic", "dpsnet_R_18_synth_cpu.yaml")
EVAL_SET = "synth_rpc_val"
TARGET_SET = "synth_rpc_test"

# T, S, rounds, refinement iterations, seeds, parallel runs, and the per-run overrides.
PRESETS = {
    "cpu": dict(iters=250, source_iters=160, rounds=2, refine_iters=30, seeds=[0], jobs=1,
                opts=["MODEL.DEVICE", "cpu", "SOLVER.IMS_PER_BATCH", "4",
                      "DATALOADER.NUM_WORKERS", "1"]),
    "gpu": dict(iters=1500, source_iters=900, rounds=3, refine_iters=150, seeds=[0, 1, 2],
                jobs=7, opts=["MODEL.DEVICE", "cuda", "SOLVER.IMS_PER_BATCH", "8",
                              "SOLVER.BASE_LR", "0.02", "DATALOADER.NUM_WORKERS", "2"]),
}
VARIANTS = ("f", "a", "b", "c", "d", "c_super", "c_cat")
DESCRIPTIONS = {
    "f": "(f) turntable-only baseline",
    "a": "(a) Faster R-CNN on synthesized scenes",
    "b": "(b) DPSNet on synthesized scenes",
    "c": "(c) (b) + distillation",
    "d": "(d) (c) + instance refinement",
    "c_super": "(c) with C = super-categories",
    "c_cat": "(c) with C = K (per SKU)",
}
# (method row, metric) of the averaged rows; count_acc: share of images whose total count is
# right, from the detections at the fixed threshold / from the counting view (density sums)
COLUMNS = [("sweep", "cAcc"), ("fixed", "cAcc"), ("sweep", "mCIoU"), ("sweep", "ACD"),
           ("fixed", "ACD"), ("sweep", "mCCD"), ("sweep", "mAP50"), ("sweep", "mmAP"),
           ("fixed", "count_acc"), ("density", "count_acc")]


def schedule(total, warmup_frac=0.1):
    """Solver overrides for ``total`` iterations: warm-up, steps at 70 % and 90 %."""
    return ["SOLVER.MAX_ITER", str(total), "SOLVER.WARMUP_ITERS", str(int(total * warmup_frac)),
            "SOLVER.STEPS", f"({int(total * 0.7)},{int(total * 0.9)})",
            "SOLVER.CHECKPOINT_PERIOD", str(10 ** 7)]


def run_commands(variant, seed, p, cutouts, out):
    """
    The commands of one run: (list of argv lists, weights evaluated last or None). With
    ``p["source_weights"]`` the DPSNet variants (b, c, d, c_*) start from that shared source
    checkpoint: T counts the iterations after it, (b) continues on synthesized scenes at the
    rounds' learning rate (DISTILL.BASE_LR), (c) and (d) spend T on the rounds (S = 0).
    """
    py = sys.executable
    common = p["opts"] + ["SEED", str(seed), "OUTPUT_DIR", out, "TEST.EVAL_PERIOD", "0",
                          "DATASETS.TEST", f"('{EVAL_SET}',)"]
    if p.get("source_weights") and variant not in ("f", "a"):
        common += ["MODEL.WEIGHTS", p["source_weights"]] + p.get("source_opts", [])
        if variant == "b":
            common += ["SOLVER.BASE_LR", str(p.get("finetune_lr", 0.001))]
    synth = ["INPUT.SYNTHESIS.CUTOUT_STORE", cutouts]
    train = [py, os.path.join(REPO, "tools", "train_net.py"), "--config-file"]
    if variant == "f":
        return [train + [TURNTABLE_CFG] + common + schedule(p["iters"])], None
    if variant in ("a", "b"):
        off = (["MODEL.DENSITY_HEAD.ENABLED", "False", "MODEL.BIPYRAMID.FUSION_ON", "False"]
               if variant == "a" else [])
        return [train + [SYNTH_CFG] + common + synth + off + schedule(p["iters"])], None
    refine = variant == "d"
    if p.get("source_weights"):
        p = {**p, "source_iters": 0}
    round_budget = p["iters"] - p["source_iters"] - (p["refine_iters"] if refine else 0)
    mode = {"c_super": "supercategory", "c_cat": "category"}.get(variant, "agnostic")
    distill = [py, os.path.join(REPO, "tools", "distill_net.py"), "--config-file", SYNTH_CFG,
               "--rounds", str(p["rounds"])] + common + synth + schedule(
                   max(p["source_iters"], 1)) + [
        "MODEL.DENSITY_HEAD.CHANNEL_MODE", mode,
        "DISTILL.TARGET_DATASETS", f"('{TARGET_SET}',)",
        "DISTILL.SOURCE_ITERS", str(p["source_iters"]),
        "DISTILL.ITERS_PER_ROUND", str(round_budget // p["rounds"]),
        "DISTILL.REFINE.ENABLED", str(refine),
        "DISTILL.REFINE.ITERS", str(p["refine_iters"]),
    ]
    weights = os.path.join(out, "model_final.pth")
    evaluate = train + [SYNTH_CFG, "--eval-only"] + common + synth + [
        "MODEL.DENSITY_HEAD.CHANNEL_MODE", mode, "MODEL.WEIGHTS", weights]
    return [distill, evaluate], weights


def run_one(variant, seed, p, cutouts, root, env, deadline=None):
    """
    Run one (variant, seed) unless its results exist; returns its result dict, or None when
    ``deadline`` (a time.monotonic() value) passed before it could start.
    """
    out = os.path.join(root, f"{variant}_s{seed}")
    results = os.path.join(out, "inference", EVAL_SET, "rpc_results.json")
    timing = os.path.join(out, "benchmark_time.json")
    if not (os.path.isfile(results) and os.path.isfile(timing)):
        if deadline is not None and time.monotonic() > deadline:
            print(f"[accuracy] {variant} seed {seed}: skipped (--time-limit reached)", flush=True)
            return None
        os.makedirs(out, exist_ok=True)
        commands, _ = run_commands(variant, seed, p, cutouts, out)
        start = time.perf_counter()
        with open(os.path.join(out, "benchmark_log.txt"), "w") as log:
            for cmd in commands:
                done = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
                if done.returncode != 0:
                    print(f"[accuracy] {variant} seed {seed}: FAILED (exit {done.returncode}), "
                          f"see {out}/benchmark_log.txt; left out of the table", flush=True)
                    return None
        atomic_write_bytes(timing, json.dumps({"seconds": time.perf_counter() - start}).encode())
    with open(results) as f:
        report = json.load(f)
    with open(timing) as f:
        seconds = json.load(f)["seconds"]
    averaged = level_rows(report)
    row = {f"{method}/{key}": averaged.get(method, {}).get(key) for method, key in COLUMNS}
    row["consistency"] = consistency_rate(out)
    row["minutes"] = seconds / 60
    print(f"[accuracy] {variant} seed {seed}: sweep cAcc {row['sweep/cAcc']}, mCIoU "
          f"{row['sweep/mCIoU']}, {row['minutes']:.1f} min", flush=True)
    return {"variant": variant, "seed": seed, **row}


def consistency_rate(out):
    """The last distillation round's consistency rate (%), or None for a plain training."""
    rounds = sorted((d for d in os.listdir(out) if d.startswith("round_")),
                    key=lambda d: int(d.split("_")[1]))
    if not rounds:
        return None
    with open(os.path.join(out, rounds[-1], "round_summary.json")) as f:
        summary = json.load(f)
    return 100.0 * summary["consistency_rate"]


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def table(rows, variants):
    keys = [f"{m}/{k}" for m, k in COLUMNS] + ["consistency", "minutes"]
    header = ["variant"] + [k.replace("/", " ") for k in keys[:-2]] + ["consistency", "min/run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    summary = {}
    for v in variants:
        runs = [r for r in rows if r["variant"] == v]
        cells, summary[v] = [DESCRIPTIONS[v]], {}
        for key in keys:
            m, s = mean_std([r[key] for r in runs])
            summary[v][key] = {"mean": m, "std": s}
            unit = "" if key.endswith(("ACD", "mCCD", "minutes")) else " %"
            cells.append("-" if m is None else (f"{m:.2f}{unit}" if len(runs) == 1 else
                                                f"{m:.2f} ± {s:.2f}{unit}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", summary


def plot(summary, variants, path):
    panels = [("sweep/mCIoU", "mCIoU, sweep (%) ↑"), ("fixed/ACD", "ACD, fixed ↓"),
              ("sweep/mAP50", "mAP50 (%) ↑"), ("density/count_acc", "count acc., density (%) ↑"),
              ("sweep/cAcc", "cAcc, sweep (%) ↑")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for ax, (key, title) in zip(axes, panels):
        means = [summary[v][key]["mean"] or 0 for v in variants]
        stds = [summary[v][key]["std"] or 0 for v in variants]
        ax.bar(variants, means, yerr=stds, color="#4c72b0", capsize=3)
        ax.set_title(title)
    fig.suptitle("DPSNet on the embedded benchmark (synth_rpc_val, averaged rows)")
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=110)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seeds", type=int_at_least(0), nargs="+",
                        help="override the preset's seeds")
    parser.add_argument("--iters", type=int_at_least(10),
                        help="override T (S and the refinement scale along)")
    parser.add_argument("--jobs", type=int_at_least(1), help="runs at a time (override the preset's)")
    parser.add_argument("--time-limit", type=float_in(0.0, float("inf"), low_open=True),
                        help="minutes after which no new run starts (the table has what finished)")
    parser.add_argument("--cutouts", required=True, help="the cut-out store folder")
    parser.add_argument("--source-weights", default="",
                        help="a trained source checkpoint shared by the DPSNet variants (b, c, "
                             "d, c_*): T then counts the iterations after it")
    parser.add_argument("opts", nargs=argparse.REMAINDER,
                        help="KEY VALUE overrides for every run (e.g. DISTILL.THRESHOLD_MODE "
                             "calibrated)")
    parser.add_argument("--datasets", default=os.getenv("DETECTRON2_DATASETS", "datasets"))
    parser.add_argument("--output", default="output/benchmark_accuracy")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    p = dict(PRESETS[args.preset])
    if args.iters is not None:
        scale = args.iters / p["iters"]
        p.update(iters=args.iters, source_iters=int(p["source_iters"] * scale),
                 refine_iters=int(p["refine_iters"] * scale))
    if args.seeds:
        p["seeds"] = args.seeds
    if args.jobs is not None:
        p["jobs"] = args.jobs
    if args.source_weights:
        check_input_file(args.source_weights, "--source-weights")
        p["source_weights"] = os.path.abspath(args.source_weights)
    p["opts"] = p["opts"] + args.opts
    cutouts = check_input_dir(args.cutouts, "--cutouts")
    check_store_integrity(cutouts, "--cutouts")
    datasets = check_input_dir(args.datasets, "--datasets")
    if not os.path.isdir(os.path.join(datasets, "synthetic_rpc")):
        raise UserError(f"--datasets {datasets}: no synthetic_rpc/ (tools/make_synthetic_rpc.py)")
    root = check_output_dir(args.output, "--output")
    env = dict(os.environ, DETECTRON2_DATASETS=datasets)
    jobs = [(v, s) for s in p["seeds"] for v in args.variants]
    print(f"[accuracy] preset {args.preset}: T={p['iters']} S={p['source_iters']} "
          f"rounds={p['rounds']} refine={p['refine_iters']}, {len(jobs)} runs, {p['jobs']} at a "
          f"time, into {root}", flush=True)
    start = time.perf_counter()
    deadline = None if args.time_limit is None else time.monotonic() + 60 * args.time_limit
    with ThreadPoolExecutor(p["jobs"]) as pool:
        rows = list(pool.map(lambda j: run_one(*j, p, cutouts, root, env, deadline), jobs))
    rows = [r for r in rows if r is not None]
    text, summary = table(rows, args.variants)
    minutes = (time.perf_counter() - start) / 60
    head = (f"Preset `{args.preset}`: T = {p['iters']} iterations per variant (S = "
            f"{p['source_iters']} on synthesized scenes before {p['rounds']} distillation rounds; "
            f"refinement {p['refine_iters']}), seeds {p['seeds']}, evaluated on {EVAL_SET}; "
            f"{len(rows)} of {len(jobs)} runs finished; wall time {minutes:.1f} min.\n\n")
    atomic_write_bytes(os.path.join(root, "accuracy.md"), (head + text).encode())
    atomic_write_bytes(os.path.join(root, "accuracy.json"),
                       json.dumps({"preset": p, "runs": rows, "summary": summary}, indent=1).encode())
    plot(summary, args.variants, os.path.join(root, "accuracy.png"))
    print(head + text)
    print(f"[accuracy] wrote {root}/accuracy.md, accuracy.json, accuracy.png")
    failed = len(jobs) - len(rows)
    if failed and deadline is None:
        raise UserError(f"{failed} of {len(jobs)} runs failed (their benchmark_log.txt under "
                        f"{root} says why); the table holds the others")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
