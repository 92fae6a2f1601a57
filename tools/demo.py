#!/usr/bin/env python
"""
The main job on the embedded synthetic RPC, end to end on CPU (what ``make demo`` runs):

1. generate the synthetic RPC (20 SKUs x 12 views of single products, 100 val and 300 test
   checkout scenes, 512 px) into ``$DETECTRON2_DATASETS/synthetic_rpc`` unless it is there;
2. train DPSNet (``configs/Synthetic/dpsnet_R_18_cpu.yaml``, from scratch) on the single-product
   train split with ``tools/train_net.py``;
3. evaluate on the checkout val split with RPCEvaluator (both threshold modes) and print the
   RPC table.

Training on single products and testing on checkout scenes is the domain gap DPSNet's
synthesis and distillation close; what this baseline reaches is that gap, measured.

    python tools/demo.py                        # everything, defaults as above
    python tools/demo.py --max-iter 50          # a quick look
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
from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc
from dpsnet_d2.evaluation.rpc_protocol import report_table
from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_output_dir, int_at_least, run_cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "Synthetic", "dpsnet_R_18_cpu.yaml")
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
        if found != num_classes:
            raise UserError(
                f"{root} has {found} classes, the config's MODEL.ROI_HEADS.NUM_CLASSES "
                f"is {num_classes}: {fix}"
            )
        say(f"1/3 synthetic RPC: using the existing {root}")
        return root
    if DEMO_DATA.num_skus != num_classes:
        raise UserError(
            f"the demo's synthetic RPC has {DEMO_DATA.num_skus} classes, the config's "
            f"MODEL.ROI_HEADS.NUM_CLASSES is {num_classes}"
        )
    say(f"1/3 synthetic RPC: generating {root} ({DEMO_DATA})")
    start = time.perf_counter()
    generate_synthetic_rpc(root, DEMO_DATA)
    say(f"    generated in {time.perf_counter() - start:.0f} s")
    return root


def train_and_evaluate(args, datasets_root):
    """Run tools/train_net.py; it trains and then evaluates on DATASETS.TEST."""
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"),
           "--config-file", args.config, "OUTPUT_DIR", args.output_dir]
    if args.max_iter is not None:
        cmd += ["SOLVER.MAX_ITER", str(args.max_iter)]
    cmd += args.opts
    env = dict(os.environ, DETECTRON2_DATASETS=datasets_root)
    say("2/3 training DPSNet on synth_rpc_train (single products), then 3/3 evaluating on "
        "synth_rpc_val (checkout scenes):")
    say("    DETECTRON2_DATASETS=" + datasets_root + " " + " ".join(cmd[1:]))
    start = time.perf_counter()
    if subprocess.run(cmd, env=env).returncode != 0:
        raise UserError("tools/train_net.py stopped; its error is printed above")
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=os.getenv("DETECTRON2_DATASETS", "datasets"),
                        help="the DETECTRON2_DATASETS folder (default: $DETECTRON2_DATASETS, "
                        "else datasets)")
    parser.add_argument("--output-dir", default="output/demo",
                        help="where training and evaluation write")
    parser.add_argument("--config", default=CONFIG, help="the config to train")
    parser.add_argument("--max-iter", type=int_at_least(1), help="override SOLVER.MAX_ITER")
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
    seconds = train_and_evaluate(args, datasets_root)
    results = os.path.join(args.output_dir, "inference", "synth_rpc_val", "rpc_results.json")
    with open(results) as f:
        report = json.load(f)
    print()
    say(f"RPC table on synth_rpc_val ({report['dataset']}; sweep = official oracle threshold "
        "per level, fixed = TEST.RPC_SCORE_THRESH):")
    print(report_table(report))
    for note in report["notes"]:
        print(f"  - {note}")
    print()
    say(f"train + evaluate took {seconds / 60:.1f} min, the whole demo "
        f"{(time.perf_counter() - start) / 60:.1f} min")
    say(f"outputs: {args.output_dir}  (model_final.pth, metrics.json, log.txt, config.yaml)")
    say(f"         {os.path.dirname(results)}  (rpc_results.json, bbox_results.json)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
