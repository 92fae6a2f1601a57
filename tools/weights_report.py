#!/usr/bin/env python
"""
What a checkpoint gives a DPSNet config before training starts: tensors loaded / total, the
ones skipped for their shape (e.g. an 80-class COCO box predictor), missing and unused ones.

    python tools/weights_report.py --config-file configs/RPC/dpsnet_R_50_FPN.yaml \
        --weights model_final_280758.pkl MODEL.DEVICE cpu
    # no download: a Detectron2 model-zoo architecture with untrained tensors (same names and
    # shapes as the published checkpoint), saved in the model zoo's .pkl layout, then loaded
    python tools/weights_report.py --config-file configs/RPC/dpsnet_R_50_FPN.yaml \
        --zoo-architecture COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml MODEL.DEVICE cpu

Prints the report (one summary line, one line per skipped tensor); ``--output`` also writes it
as json. Trailing ``KEY VALUE`` pairs override the config.
"""
import argparse
import os
import pickle
import sys
import tempfile

from detectron2 import model_zoo
from detectron2.modeling import build_model

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine import DPSNetCheckpointer
from dpsnet_d2.utils import atomic_write_bytes
from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_input_file, run_cli


def save_zoo_architecture(zoo_config: str, device: str, path: str) -> None:
    """Build Detectron2's model-zoo model ``zoo_config`` (untrained) and pickle its state as
    the model zoo's ``model_final_*.pkl`` do: numpy arrays under "model", an "__author__"."""
    try:
        cfg = model_zoo.get_config(zoo_config)
    except RuntimeError as e:
        raise UserError(f"--zoo-architecture {zoo_config}: {e}") from e
    cfg.MODEL.DEVICE = device
    cfg.MODEL.WEIGHTS = ""
    state = {k: v.cpu().numpy() for k, v in build_model(cfg).state_dict().items()}
    with open(path, "wb") as f:
        pickle.dump({"model": state, "__author__": "Detectron2 Model Zoo"}, f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="a checkpoint (.pth, model-zoo or C2 .pkl)")
    source.add_argument("--zoo-architecture", metavar="ZOO_CONFIG",
                        help="a Detectron2 model-zoo config, e.g. "
                        "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml (untrained tensors)")
    parser.add_argument("--output", help="also write the report here (json)")
    add_debug_flag(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)

    cfg = get_dpsnet_cfg(check_input_file(args.config_file, "--config-file"), args.opts)
    weights = check_input_file(args.weights, "--weights") if args.weights else None
    cfg.MODEL.WEIGHTS = ""
    model = build_model(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        if args.zoo_architecture:
            weights = os.path.join(tmp, "model_zoo_format.pkl")
            save_zoo_architecture(args.zoo_architecture, cfg.MODEL.DEVICE, weights)
        checkpointer = DPSNetCheckpointer(model)
        checkpointer.load(weights)
    report = checkpointer.last_load_report
    if args.zoo_architecture:
        report.source = f"{args.zoo_architecture} (model-zoo layout, untrained tensors)"
    print("\n".join(report.lines()))
    if args.output:
        atomic_write_bytes(args.output, report.to_json().encode())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
