#!/usr/bin/env python
"""
Prepare DPSNet's source-side training data (the paper's augmentation steps), one sub-command
per step:

    python tools/prepare_rpc.py synthesize --store CUTOUT_STORE --categories TRAIN_JSON \\
        --num 1000 --out datasets/synth_scenes [--workers 2 --seed 0]
    # embedded synthetic RPC only: build the store from its TRUE masks first (--num 0: only that)
    python tools/prepare_rpc.py synthesize --store output/synthetic/cutouts \\
        --true-masks datasets/synthetic_rpc --num 100 --out output/synthetic/scenes

Each sub-command is a block ``add_<name>_parser`` + ``run_<name>``, registered in
``SUBCOMMANDS``; the logic lives in the dpsnet_d2 package, the tool parses, checks and calls.
Bad input stops with one line naming the file and a non-zero exit, before any long work.
"""
import argparse
import json
import logging
import os
import sys


# ------------------------------------------------------------------------------------------- #
# synthesize: an offline set of synthesized checkout scenes (RPC / COCO format)
# ------------------------------------------------------------------------------------------- #
def add_synthesize_parser(subparsers):
    from dpsnet_d2.config import get_dpsnet_cfg

    syn = get_dpsnet_cfg().INPUT.SYNTHESIS
    p = subparsers.add_parser(
        "synthesize",
        help="write N synthesized checkout scenes (images + RPC json, RLE masks, levels)",
        description="Compose N checkout scenes from a cut-out store into OUT/train2019/ and "
        "OUT/instances_train2019.json (visible boxes, RLE masks, levels). Resumable: run it "
        "again to finish an interrupted set; scene i depends only on --seed and i.",
    )
    p.add_argument("--store", required=True, help="cut-out store folder")
    p.add_argument("--true-masks", metavar="EMBEDDED_ROOT", default="",
                   help="embedded synthetic RPC only: build --store from this set's TRUE masks "
                   "(train2019_masks/) when it does not exist yet")
    p.add_argument("--categories", default="",
                   help="RPC json whose categories the set uses (default with --true-masks: its "
                   "instances_train2019.json)")
    p.add_argument("--num", type=int, required=True,
                   help="number of scenes (0 with --true-masks: only build the store)")
    p.add_argument("--out", default="", help="output folder (needed when --num > 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes")
    p.add_argument("--size", type=int, default=syn.CANVAS_SIZE, help="scene side (pixels)")
    p.add_argument("--level-weights", type=float, nargs=3, default=list(syn.LEVEL_WEIGHTS),
                   metavar=("EASY", "MEDIUM", "HARD"))
    p.add_argument("--scale-range", type=float, nargs=2, default=list(syn.SCALE_RANGE),
                   metavar=("LO", "HI"))
    p.add_argument("--reference-size", type=int, default=syn.REFERENCE_SIZE,
                   help="scene side the scale range is given for")
    p.add_argument("--rule", choices=("mask", "box_iou"), default=syn.VISIBILITY_RULE)
    p.add_argument("--min-visible", type=float, default=syn.MIN_VISIBLE)
    p.add_argument("--max-iou", type=float, default=syn.MAX_IOU)
    p.add_argument("--background-dir", default=syn.BACKGROUND_DIR,
                   help="photos of the empty counter (default: generated counters)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")


def run_synthesize(args):
    from dpsnet_d2.augment.synthesis_export import export_synthesized_set
    from dpsnet_d2.augment.true_mask_store import build_true_mask_store
    from dpsnet_d2.data.datasets.rpc_format import json_name

    categories = args.categories
    if args.true_masks:
        categories = categories or os.path.join(args.true_masks, json_name("train"))
        if not os.path.isdir(args.store):
            n = build_true_mask_store(args.true_masks, args.store)
            logging.getLogger(__name__).info(f"built {args.store}: {n} cut-outs (true masks)")
    if args.num == 0 and args.true_masks:
        print(json.dumps({"store": args.store, "scenes": 0}))
        return
    if not args.out:
        raise ValueError("--out is needed to write scenes")
    if not categories:
        raise ValueError("--categories is needed (an RPC json holding the store's categories)")
    for path, what in ((args.store, "--store"), (categories, "--categories")):
        if not os.path.exists(path):
            raise ValueError(f"{what} {path}: does not exist")
    result = export_synthesized_set(
        args.store, args.out, args.num, categories_json=categories, seed=args.seed,
        workers=args.workers, quality=args.quality,
        synthesizer_kwargs={
            "level_weights": args.level_weights, "scale_range": args.scale_range,
            "reference_size": args.reference_size, "canvas_size": args.size,
            "rule": args.rule, "min_visible": args.min_visible, "max_iou": args.max_iou,
            "background_dir": args.background_dir,
        },
    )  # fmt: skip
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------- #
SUBCOMMANDS = [
    ("synthesize", add_synthesize_parser, run_synthesize),
]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for _name, add_parser, _run in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import dpsnet_d2  # noqa: F401  (registers the datasets)

    run = {name: fn for name, _add, fn in SUBCOMMANDS}[args.command]
    try:
        run(args)
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
