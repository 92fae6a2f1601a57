#!/usr/bin/env python
"""
Export a trained DPSNet for a till: both views traced into one TorchScript file.

    python tools/export_model.py --config-file CFG --weights model_final.pth --output export/ \
        [--sample-image IMG] [--layout channels_last] [KEY VALUE ...]

Writes ``OUTPUT/dpsnet.ts`` (``torch.jit.load``: network input 3 x H x W, in INPUT.FORMAT,
resized by ResizeShortestEdge(INPUT.MIN_SIZE_TEST, INPUT.MAX_SIZE_TEST) -> boxes, scores,
classes, padded density; :func:`dpsnet_d2.export.exported_outputs` post-processes them) and
``OUTPUT/till.json`` (the class names saved in the checkpoint, the density stride, the input
format and sizes). The trace runs on ``--sample-image`` (default: a grey image of
INPUT.MIN_SIZE_TEST); the exported module accepts other sizes. The weights are saved in
``--layout`` (default channels_last: the faster one for oneDNN's CPU convolutions, the same
outputs; BENCHMARKS.md, "Till options"); run the module under ``torch.autocast("cpu",
torch.bfloat16)`` on a CPU with bf16 units for the till's fastest setting.
"""
import argparse
import io
import json
import os
import sys

import cv2
import numpy as np
import torch
from detectron2.modeling import build_model

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine import DPSNetCheckpointer
from dpsnet_d2.engine.checkpointer import THING_CLASSES_KEY
from dpsnet_d2.engine.cpu_autocast import LAYOUTS, till_layout
from dpsnet_d2.export import export_dpsnet, network_input
from dpsnet_d2.utils import atomic_write_bytes
from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_input_file,
    check_output_dir,
    run_cli,
)

TRACED_FILE, TILL_FILE = "dpsnet.ts", "till.json"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", required=True, help="a trained model (.pth)")
    parser.add_argument("--output", required=True, help="folder for dpsnet.ts and till.json")
    parser.add_argument("--sample-image", help="the image to trace on (default: a grey one)")
    parser.add_argument("--layout", choices=LAYOUTS, default="channels_last",
                        help="memory layout of the saved weights (default: %(default)s)")
    add_debug_flag(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)

    cfg = get_dpsnet_cfg(check_input_file(args.config_file, "--config-file"), args.opts)
    weights = check_input_file(args.weights, "--weights")
    if not cfg.MODEL.DENSITY_HEAD.ENABLED:
        raise UserError("MODEL.DENSITY_HEAD.ENABLED is False: the export needs the counting view")
    output = check_output_dir(args.output, "--output")
    if args.sample_image:
        photo = cv2.imread(check_input_file(args.sample_image, "--sample-image"), cv2.IMREAD_COLOR)
        if photo is None:
            raise UserError(f"--sample-image {args.sample_image}: not a readable image")
    else:
        side = cfg.INPUT.MIN_SIZE_TEST
        photo = np.full((side, side, 3), 128, np.uint8)
    model = build_model(cfg).eval()
    saved = DPSNetCheckpointer(model).load(weights)
    till_layout(model, args.layout)
    traced = export_dpsnet(model, network_input(cfg, photo))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    atomic_write_bytes(os.path.join(output, TRACED_FILE), buffer.getvalue())
    till = {
        "thing_classes": saved.get(THING_CLASSES_KEY),
        "density_stride": model.density_head.stride,
        "input_format": cfg.INPUT.FORMAT,
        "min_size_test": cfg.INPUT.MIN_SIZE_TEST,
        "max_size_test": cfg.INPUT.MAX_SIZE_TEST,
        "layout": args.layout,
    }
    atomic_write_bytes(os.path.join(output, TILL_FILE), json.dumps(till, indent=2).encode())
    print(f"wrote {os.path.join(output, TRACED_FILE)} and {TILL_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
