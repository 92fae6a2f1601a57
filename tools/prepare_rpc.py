#!/usr/bin/env python
"""
Prepare DPSNet's source-side training data (the paper's augmentation steps), one sub-command
per step:

    python tools/prepare_rpc.py masks synth_rpc_train [--out DIR] [--workers 2] [--device cuda]
    python tools/prepare_rpc.py prune synth_rpc_train [--out DIR] [--theta 0.45] [--preview P]

Each sub-command is a block ``add_<name>_parser`` + ``run_<name>``, registered in
``SUBCOMMANDS``; the logic lives in the dpsnet_d2 package, the tool parses, checks and calls.
Bad input stops with one line naming the file and a non-zero exit, before any long work
(:func:`dpsnet_d2.utils.cli.run_cli`).
"""
import argparse
import json
import os
import sys

import torch
from detectron2.utils.logger import setup_logger

from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_output_dir,
    check_output_file,
    int_at_least,
    run_cli,
)


def _device(name):
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{name}, but no CUDA device is available")
    return name


# ------------------------------------------------------------------------------------------- #
# masks / prune: background removal (coarse -> saliency), pose pruning, the cut-out store
# ------------------------------------------------------------------------------------------- #
def _train_set(dataset):
    """(json_file, image_root) of a registered dataset name (e.g. synth_rpc_train) or of the
    train split of a folder in RPC layout."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from dpsnet_d2.data.datasets.rpc_format import image_folder, json_name

    if os.path.isdir(dataset):
        return (os.path.join(dataset, json_name("train")),
                os.path.join(dataset, image_folder("train")))  # fmt: skip
    if dataset in DatasetCatalog.list():
        meta = MetadataCatalog.get(dataset)
        if meta.get("json_file") and meta.get("image_root"):
            return meta.json_file, meta.image_root
    raise UserError(f"{dataset!r} is neither a registered RPC-format dataset nor a folder "
                    "(set DETECTRON2_DATASETS, or give the dataset's folder)")  # fmt: skip


def _add_cutout_args(p):
    p.add_argument("dataset", help="registered name (rpc_2019_train, synth_rpc_train) or a "
                   "folder in RPC layout (its train split is used)")  # fmt: skip
    p.add_argument("--out", help="output folder (default: the dataset's folder, beside its JSON)")
    p.add_argument("--workers", type=int_at_least(1), default=min(os.cpu_count() or 1, 8),
                   help="processes for image work (default: %(default)s)")  # fmt: skip


def add_masks_parser(subparsers):
    p = subparsers.add_parser("masks", help="product masks: coarse, saliency network, final RLE")
    _add_cutout_args(p)
    p.add_argument("--method", default="saliency", choices=("saliency", "coarse", "grabcut"),
                   help="final masks from (default: %(default)s)")  # fmt: skip
    p.add_argument("--min-confidence", type=float, default=0.9,
                   help="coarse masks at least this confident train the network")  # fmt: skip
    p.add_argument("--steps", type=int_at_least(1), default=200,
                   help="saliency training steps, batch 8 (default: %(default)s)")  # fmt: skip
    p.add_argument("--max-train", type=int_at_least(1), default=1024,
                   help="at most this many training crops (default: %(default)s)")  # fmt: skip
    p.add_argument("--device", type=_device, default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int_at_least(1), default=1,
                   help="torch threads of the network on CPU (default: %(default)s)")  # fmt: skip


def run_masks(args):
    from dpsnet_d2.augment.prepare_masks import MaskSettings, run_masks as run

    json_file, image_root = _train_set(args.dataset)
    settings = MaskSettings(method=args.method, min_confidence=args.min_confidence,
                            steps=args.steps, max_train=args.max_train, device=args.device,
                            threads=args.threads)  # fmt: skip
    out = check_output_dir(args.out or os.path.dirname(os.path.abspath(json_file)), "--out")
    print(json.dumps(run(json_file, image_root, out, settings, workers=args.workers)))


def add_prune_parser(subparsers):
    from dpsnet_d2.augment.pose_pruning import DEFAULT_THETA

    p = subparsers.add_parser("prune", help="pose pruning and the cut-out store (after masks)")
    _add_cutout_args(p)
    p.add_argument("--theta", type=float, default=DEFAULT_THETA,
                   help="keep views with R above this (default: %(default)s)")  # fmt: skip
    p.add_argument("--preview", metavar="PATH",
                   help="also save a picture (.jpg/.png): image, coarse and refined masks, "
                   "cut-out")  # fmt: skip


def run_prune(args):
    from dpsnet_d2.augment.prepare_cutouts import run_prune as run
    from dpsnet_d2.augment.prepare_masks import masks_file

    json_file, image_root = _train_set(args.dataset)
    out = check_output_dir(args.out or os.path.dirname(os.path.abspath(json_file)), "--out")
    if args.preview:
        check_output_file(args.preview, "--preview", (".jpg", ".jpeg", ".png"))
    masks = masks_file(json_file, out)
    if not os.path.isfile(masks):
        raise UserError(f"{masks} does not exist: run `prepare_rpc.py masks` first")
    print(json.dumps(run(masks, image_root, out, theta=args.theta, workers=args.workers)))
    if args.preview:
        from dpsnet_d2.augment.preview import make_cutouts_preview

        print(f"preview: {make_cutouts_preview(out, image_root, args.preview)}")


# ------------------------------------------------------------------------------------------- #
SUBCOMMANDS = [
    ("masks", add_masks_parser, run_masks),
    ("prune", add_prune_parser, run_prune),
]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_debug_flag(parser)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for _name, add_parser, _run in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    setup_logger(name="dpsnet_d2")
    import dpsnet_d2  # noqa: F401  (registers the datasets a command may name)

    {name: fn for name, _add, fn in SUBCOMMANDS}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
