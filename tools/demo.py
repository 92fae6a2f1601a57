#!/usr/bin/env python
"""
The main job on the embedded synthetic RPC, end to end on CPU (what ``make demo`` runs), with
one config (``configs/Synthetic/dpsnet_R_18_demo_cpu.yaml``); every stage is skipped when its
output exists (a killed stage resumes):

1. generate the synthetic RPC (20 SKUs x 12 turntable views, 100 val and 300 test checkout
   scenes, 512 px) into ``$DETECTRON2_DATASETS/synthetic_rpc`` unless it is there;
2. cut-outs: masks (coarse background removal + saliency refinement) and pose pruning of the
   single-product train images (``tools/prepare_rpc.py masks`` / ``prune``);
3. train DPSNet on checkout scenes synthesized on the fly from the cut-outs
   (``tools/train_net.py``), then evaluate on ``synth_rpc_val`` and print the RPC table;
4. distil it for DISTILL.ROUNDS rounds on the *unlabelled* ``synth_rpc_test`` images
   (``tools/distill_net.py``), evaluate again, print the table and what distillation changed;
5. receipts (shopping list, density map, "needs a look") for a few val images
   (``tools/checkout.py``), then where every artifact is.

    python tools/demo.py                        # everything
    python tools/demo.py --max-iter 50 --round-iters 10   # a quick look
    python tools/demo.py --output-dir DIR -- SOLVER.BASE_LR 0.01   # extra config overrides
"""
import argparse
import json
import os
import subprocess
import sys
import time

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.data.datasets.rpc_format import json_name, load_rpc_categories
from dpsnet_d2.data.datasets.synthetic import COUNTER_DIR
from dpsnet_d2.data.synthetic_rpc import SynthConfig, check_format_version, generate_synthetic_rpc
from dpsnet_d2.distill.report import read_stage_summaries
from dpsnet_d2.evaluation.rpc_protocol import level_rows, report_table
from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_output_dir, int_at_least, run_cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "Synthetic", "dpsnet_R_18_demo_cpu.yaml")
# The synthetic set of the demo: SynthConfig's defaults (those of tools/make_synthetic_rpc.py).
DEMO_DATA = SynthConfig()


def say(message):
    print(f"[demo] {message}", flush=True)


def config_num_classes(config_file, opts):
    """MODEL.ROI_HEADS.NUM_CLASSES of ``config_file`` with the ``KEY VALUE`` overrides."""
    return get_dpsnet_cfg(config_file, opts).MODEL.ROI_HEADS.NUM_CLASSES


def ensure_data(datasets_root, num_classes):
    """
    Generate the demo's synthetic RPC under ``datasets_root`` unless it already exists; exit
    with a message if its classes (existing or to generate) are not ``num_classes``.
    """
    root = os.path.join(datasets_root, "synthetic_rpc")
    fix = "delete it (the demo then generates it) or pass --datasets with a matching one"
    if os.path.isdir(root):
        json_file = os.path.join(root, json_name("train"))
        if not os.path.isfile(json_file):
            raise UserError(f"{root} exists but has no {json_name('train')}: {fix}")
        found = len(load_rpc_categories(json_file)["thing_classes"])
        try:
            check_format_version(root)
        except ValueError as e:
            raise UserError(f"{e} (or delete it: the demo then generates it)") from e
        if found != num_classes:
            raise UserError(
                f"{root} has {found} classes, the config's MODEL.ROI_HEADS.NUM_CLASSES "
                f"is {num_classes}: {fix}"
            )
        say(f"1/5 synthetic RPC: using the existing {root}")
        return root
    if DEMO_DATA.num_skus != num_classes:
        raise UserError(
            f"the demo's synthetic RPC has {DEMO_DATA.num_skus} classes, the config's "
            f"MODEL.ROI_HEADS.NUM_CLASSES is {num_classes}"
        )
    say(f"1/5 synthetic RPC: generating {root} ({DEMO_DATA})")
    start = time.perf_counter()
    generate_synthetic_rpc(root, DEMO_DATA)
    say(f"    generated in {time.perf_counter() - start:.0f} s")
    return root


EVAL_SET = "synth_rpc_val"
# The columns compared before / after distillation (averaged rows).
SUMMARY = (("sweep", "cAcc"), ("fixed", "cAcc"), ("sweep", "mCIoU"), ("sweep", "ACD"),
           ("fixed", "ACD"), ("sweep", "mAP50"), ("fixed", "count_acc"), ("density", "count_acc"))
LOWER_IS_BETTER = ("ACD", "mCCD")


class Demo:
    """The stages of the demo; each runs a tool in a subprocess unless its output exists."""

    def __init__(self, args, datasets_root):
        self.args, self.out = args, args.output_dir
        self.env = dict(os.environ, DETECTRON2_DATASETS=datasets_root)
        self.cutouts = os.path.join(self.out, "cutouts")
        self.store = os.path.join(self.cutouts, "cutouts")
        self.synth_dir = os.path.join(self.out, "synth")
        self.distill_dir = os.path.join(self.out, "distill")
        self.receipts = os.path.join(self.out, "receipts")
        self.opts = ["INPUT.SYNTHESIS.CUTOUT_STORE", self.store,
                     "INPUT.SYNTHESIS.BACKGROUND_DIR",
                     os.path.join(datasets_root, "synthetic_rpc", COUNTER_DIR)] + args.opts

    def run(self, tool, argv):
        cmd = [sys.executable, os.path.join(REPO, "tools", tool)] + [str(a) for a in argv]
        say("    $ " + " ".join(cmd[1:]))
        if subprocess.run(cmd, env=self.env).returncode != 0:
            raise UserError(f"tools/{tool} stopped; its error is printed above")

    def cut_outs(self):
        if os.path.isfile(os.path.join(self.store, "index.json")):
            say(f"2/5 cut-outs: using the existing store {self.store}")
            return
        say("2/5 cut-outs: masks (coarse + saliency) and pose pruning of synth_rpc_train")
        steps = [] if self.args.saliency_steps is None else ["--steps", self.args.saliency_steps]
        self.run("prepare_rpc.py", ["masks", "synth_rpc_train", "--out", self.cutouts] + steps)
        self.run("prepare_rpc.py", ["prune", "synth_rpc_train", "--out", self.cutouts])

    def train(self):
        results = os.path.join(self.synth_dir, "inference", EVAL_SET, "rpc_results.json")
        if not os.path.isfile(results):
            say("3/5 training DPSNet on synthesized checkout scenes, then evaluating on "
                f"{EVAL_SET}:")
            argv = ["--config-file", self.args.config, "--resume"] + self.opts + [
                "OUTPUT_DIR", self.synth_dir]
            if self.args.max_iter is not None:
                argv += ["SOLVER.MAX_ITER", self.args.max_iter]
            self.run("train_net.py", argv)
        else:
            say(f"3/5 trained on synthesized scenes: using {self.synth_dir}")
        return load_report(results, "after training on synthesized scenes")

    def distill(self):
        results = os.path.join(self.distill_dir, "inference", EVAL_SET, "rpc_results.json")
        weights = os.path.join(self.distill_dir, "model_final.pth")
        if not os.path.isfile(results):
            say("4/5 distilling on the unlabelled synth_rpc_test images, then evaluating:")
            argv = ["--config-file", self.args.config, "--resume"] + self.opts + [
                "OUTPUT_DIR", self.distill_dir, "DISTILL.SOURCE_ITERS", "0",
                "MODEL.WEIGHTS", os.path.join(self.synth_dir, "model_final.pth")]
            if self.args.round_iters is not None:
                argv += ["DISTILL.ITERS_PER_ROUND", self.args.round_iters]
            self.run("distill_net.py", argv)
            self.run("train_net.py", ["--config-file", self.args.config, "--eval-only"]
                     + self.opts + ["OUTPUT_DIR", self.distill_dir, "MODEL.WEIGHTS", weights])
            say("    audit of the pseudo labels against synth_rpc_test's ground truth (read only "
                "now, after the run, to measure them):")
            truth = os.path.join(self.env["DETECTRON2_DATASETS"], "synthetic_rpc",
                                 json_name("test"))
            self.run("audit_pseudo_labels.py", [self.distill_dir, "--ground-truth", truth,
                                                "--summary"])
        else:
            say(f"4/5 distilled: using {self.distill_dir}")
        summary = os.path.join(self.distill_dir, "distill_summary.md")
        if os.path.isfile(summary):
            with open(summary) as f:
                print(f.read())
        return load_report(results, "after distillation")

    def receipts_for(self, count):
        if os.path.isfile(os.path.join(self.receipts, "receipts.json")):
            say(f"5/5 receipts: using {self.receipts}")
            return
        say(f"5/5 receipts for {count} val images:")
        root = os.path.join(self.env["DETECTRON2_DATASETS"], "synthetic_rpc", "val2019")
        images = os.path.join(self.out, "receipt_inputs")
        os.makedirs(images, exist_ok=True)
        for name in sorted(os.listdir(root))[:count]:
            link = os.path.join(images, name)
            if not os.path.lexists(link):
                os.symlink(os.path.join(root, name), link)
        self.run("checkout.py", ["--config-file", self.args.config, "--weights",
                                 os.path.join(self.distill_dir, "model_final.pth"), "--input",
                                 images, "--output", self.receipts] + self.opts)


def load_report(path, title):
    """Read an evaluator's rpc_results.json and print its table under ``title``."""
    with open(path) as f:
        report = json.load(f)
    print()
    say(f"RPC table on {EVAL_SET} {title} (sweep = official oracle threshold per level, "
        "fixed = TEST.RPC_SCORE_THRESH):")
    print(report_table(report))
    print()
    return report


def averaged(report):
    """{(method, metric): value} of the averaged rows."""
    return {(m, k): v for m, row in level_rows(report).items() for k, v in row.items()}


def verdict(before, after, distill_dir):
    """One sentence: did distillation gain, and on how many selected target images."""
    b, a = averaged(before), averaged(after)
    key = ("sweep", "mCIoU")
    selected = [f"{s['consistent_images']}/{s['target_images']} at tau {s['threshold']:.2f}"
                for s in read_stage_summaries(distill_dir) if not s.get("refine")]
    rounds = "; ".join(selected) or "no round"
    if b.get(key) is None or a.get(key) is None:
        return f"Selected target images per round: {rounds}."
    delta = a[key] - b[key]
    if not any(int(r.split("/")[0]) for r in selected):
        return (f"No target image was selected ({rounds}), so the change on val (mCIoU "
                f"{b[key]:.2f} -> {a[key]:.2f} %, {delta:+.2f}) is more source training, not "
                "distillation.")
    gained = "gained" if delta > 0 else "did not gain"
    return (f"Distillation {gained} on val: mCIoU {b[key]:.2f} -> {a[key]:.2f} % ({delta:+.2f}); "
            f"consistent target images per round: {rounds}.")


def compare(before, after):
    """A markdown table of SUMMARY: after synthesis, after distillation, the change."""
    b, a = averaged(before), averaged(after)
    lines = ["| averaged | trained on synthesized scenes | + distillation | change |",
             "|---|---|---|---|"]
    for key in SUMMARY:
        if b.get(key) is None or a.get(key) is None:
            continue
        unit = "" if key[1] in LOWER_IS_BETTER else " %"
        delta = a[key] - b[key]
        better = (delta < 0) if key[1] in LOWER_IS_BETTER else (delta > 0)
        mark = "better" if better else ("same" if delta == 0 else "worse")
        lines.append(f"| {key[0]} {key[1]} | {b[key]:.2f}{unit} | {a[key]:.2f}{unit} | "
                     f"{delta:+.2f} ({mark}) |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=os.getenv("DETECTRON2_DATASETS", "datasets"),
                        help="the DETECTRON2_DATASETS folder (default: $DETECTRON2_DATASETS, "
                        "else datasets)")
    parser.add_argument("--output-dir", default="output/demo", help="where every stage writes")
    parser.add_argument("--config", default=CONFIG, help="the config of every stage")
    parser.add_argument("--max-iter", type=int_at_least(1),
                        help="override SOLVER.MAX_ITER of the training on synthesized scenes")
    parser.add_argument("--round-iters", type=int_at_least(1),
                        help="override DISTILL.ITERS_PER_ROUND")
    parser.add_argument("--saliency-steps", type=int_at_least(1),
                        help="training steps of the saliency network (prepare_rpc.py masks --steps)")
    parser.add_argument("--receipts", type=int_at_least(0), default=4,
                        help="val images to write receipts for")
    add_debug_flag(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if args.opts[:1] == ["--"]:
        args.opts = args.opts[1:]
    # bad input stops here, before any data is generated or model trained
    num_classes = config_num_classes(args.config, args.opts)
    args.output_dir = check_output_dir(args.output_dir, "--output-dir")
    datasets_root = os.path.abspath(os.path.expanduser(args.datasets))
    if not os.path.isdir(os.path.join(datasets_root, "synthetic_rpc")):  # to generate there
        check_output_dir(datasets_root, "--datasets")

    start = time.perf_counter()
    ensure_data(datasets_root, num_classes)
    demo = Demo(args, datasets_root)
    demo.cut_outs()
    before = demo.train()
    after = demo.distill()
    say("what distillation changed (averaged over all val images):")
    print(compare(before, after))
    print()
    say(verdict(before, after, demo.distill_dir))
    print()
    if args.receipts:
        demo.receipts_for(args.receipts)
    say(f"the whole demo took {(time.perf_counter() - start) / 60:.1f} min. Where things are:")
    for path, what in (
        (demo.cutouts, "masks (COCO RLE json), pose-pruning report, cut-out store cutouts/"),
        (demo.synth_dir, "model trained on synthesized scenes (model_final.pth, log.txt, "
                         f"inference/{EVAL_SET}/rpc_results.json)"),
        (demo.distill_dir, "distillation: round_*/pseudo_labels.json, round_summary.json, "
                           "audit.json, distill_summary.md (with the audit), "
                           "distill_progress.png, model_final.pth, "
                           f"inference/{EVAL_SET}/rpc_results.json"),
        (demo.receipts, "receipts: <image file>.receipt.jpg / .json / .txt, receipts.json"),
    ):
        say(f"  {path}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
