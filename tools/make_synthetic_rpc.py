#!/usr/bin/env python
"""
Generate the embedded synthetic RPC (official RPC layout and JSON schema), or preview it.

    python tools/make_synthetic_rpc.py --output datasets/synthetic_rpc --num-skus 20 --views 12 \
        --train-per-view 1 --val 100 --test 300 --size 512 --seed 0
    python tools/make_synthetic_rpc.py --output datasets/synthetic_rpc --preview preview.jpg

With ``--preview`` nothing is generated on disk: the grid is read from ``--output`` when it holds a
generated set, else rendered in memory from the other flags. The same flags and seed give
byte-identical files. Layout: datasets/README.md; logic: dpsnet_d2/data/synthetic_rpc/.
"""

import argparse
import logging
import os
import sys

from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc, make_preview
from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_output_dir,
    check_output_file,
    int_at_least,
    run_cli,
)
from dpsnet_d2.utils.options import add_output_argument

# SynthConfig field -> the flag that sets it (to name the flag in errors).
FLAGS = {"num_skus": "--num-skus", "views": "--views", "train_per_view": "--train-per-view",
         "num_val": "--val", "num_test": "--test", "num_counters": "--counters", "size": "--size",
         "seed": "--seed"}
PREVIEW_FORMATS = (".jpg", ".jpeg", ".png")
# RPC's image sizes (pixels): checkout images are square, turntable images W x H.
RPC_CHECKOUT_SIZE, RPC_TURNTABLE_SIZE = 1815, (2592, 1944)


def get_parser():
    default_out = os.path.join(os.environ.get("DETECTRON2_DATASETS", "datasets"), "synthetic_rpc")
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_output_argument(p, "--out", default=default_out,
                        help="dataset folder (default: %(default)s)")
    p.add_argument("--num-skus", type=int, default=20, help="number of products (categories)")
    p.add_argument("--views", type=int, default=12, help="turntable viewpoints per product")
    p.add_argument(
        "--train-per-view", type=int, default=1, help="train images per product and viewpoint"
    )
    p.add_argument("--val", type=int, default=100, help="val checkout images")
    p.add_argument("--test", type=int, default=300, help="test checkout images")
    p.add_argument("--counters", type=int, default=64,
                   help="photos of the empty counter (backgrounds of scene synthesis)")
    p.add_argument(
        "--size", type=int, default=512, help="image side in pixels; everything scales with it"
    )
    p.add_argument("--train-size", type=int, nargs=2, metavar=("W", "H"), default=(0, 0),
                   help="turntable image size (default: --size square)")
    p.add_argument("--rpc-resolution", action="store_true",
                   help="RPC's resolution: --size 1815 --train-size 2592 1944 (a stand-in RPC; "
                   "write it to DIR/retail_product_checkout for the rpc_2019_* names)")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument(
        "--workers",
        type=int_at_least(1),
        default=min(os.cpu_count() or 1, 8),
        help="processes (default: %(default)s)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument(
        "--preview",
        metavar="PATH",
        help="only save a preview grid (.jpg/.png) of train vs test images",
    )
    return add_debug_flag(p)


def synth_config(args):
    """The :class:`SynthConfig` of the flags; a UserError naming the flag when one is out of range."""
    if args.rpc_resolution:
        args.size, args.train_size = RPC_CHECKOUT_SIZE, RPC_TURNTABLE_SIZE
    values = {field: getattr(args, flag[2:].replace("-", "_")) for field, flag in FLAGS.items()}
    values["train_width"], values["train_height"] = args.train_size
    try:
        return SynthConfig(**values)
    except ValueError as e:
        message = str(e)
        for field, flag in FLAGS.items():
            message = message.replace(f"SynthConfig.{field} ", f"{flag} ")
        message = message.replace("SynthConfig.train_size ", "--train-size ")
        raise UserError(message) from e


def main(args):
    """Check the flags and the destination, then generate (or preview) the set."""
    cfg = synth_config(args)
    if args.preview:
        check_output_file(args.preview, "--preview", PREVIEW_FORMATS)
    else:
        check_output_dir(args.output, "--output")
        if os.path.lexists(args.output) and not args.overwrite:
            raise UserError(f"--output {args.output} already exists; pass --overwrite to replace it")
    if args.preview:
        make_preview(args.preview, root=args.output, cfg=cfg)
        print(f"Wrote the preview to {os.path.abspath(args.preview)}")
        return
    out = generate_synthetic_rpc(args.output, cfg, workers=args.workers, overwrite=args.overwrite)
    print(f"Wrote the synthetic RPC to {out} (train2019/, val2019/, test2019/, "
          "train2019_masks/, instances_*2019.json)")
    names = "rpc_2019" if os.path.basename(out) == "retail_product_checkout" else "synth_rpc"
    print(f"Use it: export DETECTRON2_DATASETS={os.path.dirname(out)}  "
          f"(datasets {names}_train/val/test)")


def cli(argv=None):
    """The command line: parse ``argv`` and run :func:`main`."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    main(get_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(cli))
