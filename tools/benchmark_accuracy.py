#!/usr/bin/env python
"""
The paper-style accuracy table on the embedded benchmark: what each stage of DPSNet buys, every
variant trained with the same data and the same total number of iterations, evaluated on
``synth_rpc_val`` (RPC protocol, both threshold modes).

    python tools/benchmark_accuracy.py --preset cpu --cutouts STORE   # (b)/(c), 2 seeds, 2 CPU cores
    python tools/benchmark_accuracy.py --preset gpu --cutouts STORE   # every variant, one GPU
    python tools/benchmark_accuracy.py --preset cpu --cutouts STORE --source-weights W.pth --seeds 0

Variants (T = total iterations of every variant; S = iterations on source data before the
distillation rounds; the rounds share T - S):

    f  turntable-only baseline (single products, no synthesis)          train_net, T
    a  Faster R-CNN (no counting view, no fusion) on synthesized scenes   train_net, T
    b  DPSNet on synthesized scenes                                       train_net, T
    c  b + distillation rounds on synth_rpc_test's images (labels unread) distill_net, S + rounds
    d  c + instance-level refinement (its iterations come out of T too)   distill_net
    c_super, c_cat  c with C = super-categories / C = K density channels  distill_net

A shared source checkpoint (``--source-weights``, or the ``cpu`` preset's source stage: the
source recipe ``configs/Synthetic/dpsnet_R_18_source_cpu.yaml`` trained once into
``--output/source/`` and reused) makes the comparison fit a CPU: the DPSNet variants (b, c, d,
c_*) all start from it and T counts the iterations after it — (b) goes on with synthesized scenes
at DISTILL.BASE_LR, (c) and (d) spend T on the rounds (S = 0). The ``cpu`` preset runs (b) and
(c) only: (f) and (a) need their own source training (not shared), so at CPU scale they would
compare T iterations from scratch with T after a long source stage; ask for them with
``--variants`` to get exactly that.

The distilled runs are audited afterwards against ``synth_rpc_test``'s ground truth
(``tools/audit_pseudo_labels.py``; nothing of it feeds training): ``accuracy.md`` lists per
round the consistency rate, tau and the pseudo-box precision.

Needs the embedded dataset (``$DETECTRON2_DATASETS/synthetic_rpc``) and a cut-out store
(``--cutouts``, made by ``tools/prepare_rpc.py masks`` + ``prune``). Writes under --output:
one folder per run (log, model, ``inference/synth_rpc_val/rpc_results.json``), ``accuracy.md``
(the table, mean +- std over seeds, and the rounds), ``accuracy.json`` and ``accuracy.png``.
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

from dpsnet_d2.distill.report import read_stage_summaries  # noqa: E402
from dpsnet_d2.evaluation.rpc_protocol import level_rows  # noqa: E402
from dpsnet_d2.utils import atomic_write_bytes  # noqa: E402
from dpsnet_d2.engine.checks import check_store_integrity  # noqa: E402
from dpsnet_d2.utils.options import parse_with_overrides  # noqa: E402
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
SOURCE_CFG = os.path.join(REPO, "configs", "Synthetic", "dpsnet_R_18_source_cpu.yaml")
EVAL_SET = "synth_rpc_val"
TARGET_SET = "synth_rpc_test"

VARIANTS = ("f", "a", "b", "c", "d", "c_super", "c_cat")
# The selection the distillation rounds use at CPU scale (BENCHMARKS.md, "the two views agree"):
# tau calibrated on labelled synthesized scenes, class-agnostic NMS before the count.
SELECTION = ["DISTILL.THRESHOLD_MODE", "calibrated", "DISTILL.AGNOSTIC_NMS_IOU", "0.5"]
# T, S, rounds, refinement iterations, seeds, parallel runs, variants, the shared source stage
# (config and iterations; None: none) and the per-run overrides.
PRESETS = {
    "cpu": dict(iters=400, source_iters=0, rounds=2, refine_iters=48, seeds=[0, 1], jobs=1,
                variants=["b", "c"], shared_source=dict(config=SOURCE_CFG, iters=3000),
                opts=["MODEL.DEVICE", "cpu", "SOLVER.IMS_PER_BATCH", "4",
                      "DATALOADER.NUM_WORKERS", "1", "SOLVER.AMP.ENABLED", "True"] + SELECTION),
    "gpu": dict(iters=1500, source_iters=900, rounds=3, refine_iters=150, seeds=[0, 1, 2],
                jobs=7, variants=list(VARIANTS), shared_source=None,
                opts=["MODEL.DEVICE", "cuda", "SOLVER.IMS_PER_BATCH", "8", "SOLVER.BASE_LR",
                      "0.02", "DATALOADER.NUM_WORKERS", "2", "SOLVER.AMP.ENABLED", "True"]
                + SELECTION),
}
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


def schedule(total, constant=False, warmup_frac=0.1):
    """Solver overrides for ``total`` iterations: warm-up, steps at 70 % and 90 % (``constant``:
    neither, the learning rate of the distillation rounds)."""
    if constant:
        return ["SOLVER.MAX_ITER", str(total), "SOLVER.WARMUP_ITERS", "0", "SOLVER.STEPS", "()",
                "SOLVER.CHECKPOINT_PERIOD", str(10 ** 7)]
    return ["SOLVER.MAX_ITER", str(total), "SOLVER.WARMUP_ITERS", str(int(total * warmup_frac)),
            "SOLVER.STEPS", f"({int(total * 0.7)},{int(total * 0.9)})",
            "SOLVER.CHECKPOINT_PERIOD", str(10 ** 7)]


def run_commands(variant, seed, p, cutouts, out):
    """
    The commands of one run: (list of argv lists, weights evaluated last or None). With
    ``p["source_weights"]`` the DPSNet variants (b, c, d, c_*) start from that shared source
    checkpoint: T counts the iterations after it, (b) continues on synthesized scenes at the
    rounds' constant learning rate (DISTILL.BASE_LR, no warm-up, no steps: the rounds' own
    schedule), (c) and (d) spend T on the rounds (S = 0).
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
        constant = variant == "b" and bool(p.get("source_weights"))
        return [train + [SYNTH_CFG] + common + synth + off + schedule(p["iters"], constant)], None
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
    commands = [distill, evaluate]
    if p.get("truth"):  # afterwards, for the table only: the run never reads these labels
        commands.append([py, os.path.join(REPO, "tools", "audit_pseudo_labels.py"), out,
                         "--ground-truth", p["truth"], "--summary"])
    return commands, weights


def source_command(p, cutouts, out):
    """The shared source stage: the preset's source config for its iterations, seed 0."""
    src = p["shared_source"]
    n = src["iters"]
    return [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
            src["config"]] + p["opts"] + [
        "SEED", "0", "OUTPUT_DIR", out, "TEST.EVAL_PERIOD", "0", "DATASETS.TEST",
        f"('{EVAL_SET}',)", "INPUT.SYNTHESIS.CUTOUT_STORE", cutouts, "SOLVER.MAX_ITER", str(n),
        "SOLVER.WARMUP_ITERS", str(min(200, n // 10)), "SOLVER.STEPS",
        f"({int(n * 0.8)},{int(n * 0.93)})", "SOLVER.CHECKPOINT_PERIOD", str(10 ** 7)]


def shared_source(p, cutouts, root, env):
    """Train the preset's shared source checkpoint once into ``root/source`` (reused when its
    model_final.pth exists); returns its path."""
    out = os.path.join(root, "source")
    weights = os.path.join(out, "model_final.pth")
    if os.path.isfile(weights):
        print(f"[accuracy] shared source checkpoint: {weights} (reused)", flush=True)
        return weights
    os.makedirs(out, exist_ok=True)
    print(f"[accuracy] shared source stage: {p['shared_source']['iters']} iterations of "
          f"{os.path.relpath(p['shared_source']['config'], REPO)} into {out} (log: "
          f"{out}/log.txt)", flush=True)
    with open(os.path.join(out, "benchmark_log.txt"), "w") as log:
        done = subprocess.run(source_command(p, cutouts, out), env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0 or not os.path.isfile(weights):
        raise UserError(f"the shared source stage failed (exit {done.returncode}); see "
                        f"{out}/benchmark_log.txt")
    return weights


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
    stages = read_stage_summaries(out) if os.path.isdir(out) else []
    row["consistency"] = 100.0 * stages[-1]["consistency_rate"] if stages else None
    row["rounds"] = [stage_cell(s) for s in stages]
    row["minutes"] = seconds / 60
    print(f"[accuracy] {variant} seed {seed}: sweep cAcc {row['sweep/cAcc']}, mCIoU "
          f"{row['sweep/mCIoU']}, {row['minutes']:.1f} min", flush=True)
    return {"variant": variant, "seed": seed, **row}


def stage_cell(summary):
    """One distillation stage as a table cell: consistency rate, tau, audited precision."""
    audit = summary.get("audit") or {}
    precision = audit.get("precision")
    return (f"{100 * summary['consistency_rate']:.1f} % (tau {summary['threshold']:.2f}, "
            + ("precision -" if precision is None else f"precision {100 * precision:.1f} %")
            + ")")


def rounds_table(rows):
    """Markdown: per distilled run, its stages' consistency rate, tau and audited precision."""
    runs = [r for r in rows if r.get("rounds")]
    if not runs:
        return ""
    width = max(len(r["rounds"]) for r in runs)
    lines = ["Per distillation stage (consistency on the target images at the start of the "
             "stage; pseudo-box precision from the audit after the run):", "",
             "| run | " + " | ".join(f"stage {k}" for k in range(width)) + " |",
             "|---|" + "---|" * width]
    for r in runs:
        cells = r["rounds"] + ["-"] * (width - len(r["rounds"]))
        lines.append(f"| {r['variant']} seed {r['seed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--variants", nargs="+", choices=VARIANTS,
                        help="override the preset's variants (cpu: b c; gpu: all)")
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
                             "d, c_*): T then counts the iterations after it (the cpu preset "
                             "trains one into --output/source/ when this is not given)")
    parser.add_argument("--source-iters", type=int_at_least(10),
                        help="iterations of the preset's shared source stage (cpu: 3000)")
    parser.add_argument("opts", nargs=argparse.REMAINDER,
                        help="KEY VALUE overrides for every run (e.g. DISTILL.THRESHOLD_MODE "
                             "calibrated)")
    parser.add_argument("--datasets", default=os.getenv("DETECTRON2_DATASETS", "datasets"))
    parser.add_argument("--output", default="output/benchmark_accuracy")
    add_debug_flag(parser)
    args, overrides = parse_with_overrides(parser, argv)
    args.opts = overrides + list(args.opts)
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
    if args.source_iters is not None:
        if not p["shared_source"]:
            raise UserError(f"--source-iters: preset {args.preset} has no shared source stage")
        p["shared_source"] = dict(p["shared_source"], iters=args.source_iters)
    variants = args.variants or p["variants"]
    cutouts = check_input_dir(args.cutouts, "--cutouts")
    check_store_integrity(cutouts, "--cutouts")
    datasets = check_input_dir(args.datasets, "--datasets")
    if not os.path.isdir(os.path.join(datasets, "synthetic_rpc")):
        raise UserError(f"--datasets {datasets}: no synthetic_rpc/ (tools/make_synthetic_rpc.py)")
    # scenes are pasted on the embedded set's empty-counter photos wherever the tool runs from
    p["opts"] = p["opts"] + ["INPUT.SYNTHESIS.BACKGROUND_DIR",
                             os.path.join(datasets, "synthetic_rpc", "counters")] + args.opts
    truth = os.path.join(datasets, "synthetic_rpc", "instances_test2019.json")
    p["truth"] = truth if os.path.isfile(truth) else ""
    root = check_output_dir(args.output, "--output")
    env = dict(os.environ, DETECTRON2_DATASETS=datasets)
    jobs = [(v, s) for s in p["seeds"] for v in variants]
    start = time.perf_counter()
    shared = bool(p.get("source_weights") or p["shared_source"])
    if not p.get("source_weights") and p["shared_source"]:
        p["source_weights"] = shared_source(p, cutouts, root, env)
    if shared:
        p["source_iters"] = 0
    print(f"[accuracy] preset {args.preset}: T={p['iters']} S={p['source_iters']} "
          f"rounds={p['rounds']} refine={p['refine_iters']}"
          + (f" after the shared source {p['source_weights']}" if shared else "")
          + f", {len(jobs)} runs, {p['jobs']} at a time, into {root}", flush=True)
    deadline = None if args.time_limit is None else time.monotonic() + 60 * args.time_limit
    with ThreadPoolExecutor(p["jobs"]) as pool:
        rows = list(pool.map(lambda j: run_one(*j, p, cutouts, root, env, deadline), jobs))
    rows = [r for r in rows if r is not None]
    text, summary = table(rows, variants)
    minutes = (time.perf_counter() - start) / 60
    after = (f" after the shared source checkpoint {p['source_weights']} (not counted)"
             if shared else "")
    head = (f"Preset `{args.preset}`: T = {p['iters']} iterations per variant{after} (S = "
            f"{p['source_iters']} on synthesized scenes before {p['rounds']} distillation rounds; "
            f"refinement {p['refine_iters']}), seeds {p['seeds']}, evaluated on {EVAL_SET}; "
            f"{len(rows)} of {len(jobs)} runs finished; wall time {minutes:.1f} min.\n\n")
    text += "\n" + rounds_table(rows)
    atomic_write_bytes(os.path.join(root, "accuracy.md"), (head + text).encode())
    atomic_write_bytes(os.path.join(root, "accuracy.json"),
                       json.dumps({"preset": p, "runs": rows, "summary": summary}, indent=1).encode())
    plot(summary, variants, os.path.join(root, "accuracy.png"))
    print(head + text)
    print(f"[accuracy] wrote {root}/accuracy.md, accuracy.json, accuracy.png")
    failed = len(jobs) - len(rows)
    if failed and deadline is None:
        raise UserError(f"{failed} of {len(jobs)} runs failed (their benchmark_log.txt under "
                        f"{root} says why); the table holds the others")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
