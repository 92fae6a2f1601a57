#!/usr/bin/env python
"""
Check a folder in the official RPC layout (the real RPC dataset or the synthetic set): load and
check each split's ``instances_<split>2019.json`` and print one summary line per split (images,
boxes, classes, levels). With ``--check-files``, also check every image file: it exists, is
inside the split's image folder and its header decodes to an image of the size the JSON gives
(loading alone does not read images: a bad one is reported when it is read).

    python tools/check_rpc_dataset.py datasets/retail_product_checkout --check-files
    python tools/check_rpc_dataset.py datasets/synthetic_rpc --splits val test

Exit status 0 when every split is fine, 1 otherwise; each error is one line naming the file and
the record. A split without images or without boxes is an error.
"""
import argparse
import os
import sys
from collections import Counter

from detectron2.utils.logger import setup_logger

from dpsnet_d2.data.datasets.rpc_format import (
    RPC_LEVELS,
    RPC_SPLITS,
    RPCFormatError,
    image_folder,
    json_name,
    load_rpc_json_with_metadata,
)
from dpsnet_d2.utils.cli import add_debug_flag, check_input_dir, run_cli


def summarize(dicts, num_classes, files_checked):
    """One line describing a split's dataset dicts."""
    boxes = sum(len(d["annotations"]) for d in dicts)
    classes = len({a["category_id"] for d in dicts for a in d["annotations"]})
    levels = Counter(d["level"] for d in dicts if "level" in d)
    level_text = " / ".join(f"{lv} {levels[lv]}" for lv in RPC_LEVELS) if levels else "none"
    files = "all present" if files_checked else "not checked"
    return (
        f"{len(dicts)} images, {boxes} boxes, {classes}/{num_classes} classes, "
        f"levels: {level_text}, image files: {files}"
    )


def check_split(root, split, check_files):
    """Load and check one split; return its summary line (RPCFormatError on bad input)."""
    json_file = os.path.join(root, json_name(split))
    image_root = os.path.join(root, image_folder(split))
    dicts, meta = load_rpc_json_with_metadata(json_file, image_root, check_files=check_files)
    if not dicts:
        raise RPCFormatError(json_file, "top level", "'images' is empty")
    if not any(d["annotations"] for d in dicts):
        raise RPCFormatError(json_file, "top level", "'annotations' is empty: no boxes")
    return summarize(dicts, len(meta["thing_classes"]), check_files)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="folder with instances_{train,val,test}2019.json")
    parser.add_argument(
        "--check-files", action="store_true",
        help="also check every image file (present, decodable, of the JSON's size)",
    )
    parser.add_argument(
        "--splits", nargs="+", choices=RPC_SPLITS, default=list(RPC_SPLITS), help="splits to check"
    )
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    setup_logger(name="dpsnet_d2")
    check_input_dir(args.root, "dataset folder")

    failed = False
    for split in args.splits:
        try:
            print(f"{split:5s}: {check_split(args.root, split, args.check_files)}")
        except RPCFormatError as e:
            failed = True
            print(f"{split:5s}: ERROR {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
