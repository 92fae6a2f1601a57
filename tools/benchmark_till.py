#!/usr/bin/env python
"""
Till latency: one checkout photo (default 1815 x 1815, as RPC's) to DPSNet's outputs on CPU,
per config, precision (fp32; bf16 autocast where the CPU has bf16 units) and runtime (the
Python model; the traced export of tools/export_model.py).

    python tools/benchmark_till.py --threads 2 --repeats 2 \
        --configs configs/Synthetic/dpsnet_R_18_cpu.yaml configs/RPC/dpsnet_R_50_FPN.yaml \
        [--image PHOTO] [--sizes 800 640] [--output till.json] [KEY VALUE ...]

    # the accuracy cost of each option: a trained model on a labelled RPC-format split
    python tools/benchmark_till.py --configs CFG --weights model_final.pth \
        --eval-dataset synth_rpc_val --sizes 320 256 --precisions fp32 bf16 [KEY VALUE ...]

Without --weights the weights are untrained (MODEL.WEIGHTS is emptied): latency only. Each
timing covers resizing the photo to the size (INPUT.MIN_SIZE_TEST; MAX_SIZE_TEST 1333 or the
size), the model and the post-processing; median of ``--repeats`` after one warm-up call. With
--eval-dataset every (config, size, precision) is also evaluated on that split with the RPC
protocol (the Python model under the same autocast): averaged-level cAcc, mCIoU, ACD (sweep and
fixed threshold) and mAP50 beside the latency. Trailing KEY VALUE pairs override every config
(e.g. MODEL.RPN.POST_NMS_TOPK_TEST 300: fewer proposals).
"""
import argparse
import json
import platform
import sys

import numpy as np
import torch
from detectron2.modeling import build_model

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine.cpu_autocast import LAYOUTS, cpu_has_bf16, inference_autocast, till_layout
from dpsnet_d2.export import export_dpsnet, exported_outputs, network_input
from dpsnet_d2.utils import atomic_write_bytes
from dpsnet_d2.utils.benchmark import median_time
from dpsnet_d2.utils.options import parse_with_overrides
from dpsnet_d2.utils.cli import UserError, add_debug_flag, check_input_file, int_at_least, run_cli


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def till_timings(cfg, photo: np.ndarray, precisions, repeats: int, layouts=("contiguous",)):
    """{(runtime, precision, layout): seconds} for one config on one BGR photo."""
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    stride = model.density_head.stride
    height, width = photo.shape[:2]
    sample = network_input(cfg, photo)

    def python_run():
        image = network_input(cfg, photo)
        return model([{"image": image, "height": height, "width": width}])

    results = {}
    for layout in layouts:
        till_layout(model, layout)
        for precision in precisions:
            with torch.no_grad(), inference_autocast(precision == "bf16"):
                traced = export_dpsnet(model, sample)

                def exported_run():
                    image = network_input(cfg, photo)
                    return exported_outputs(traced(image), input_size=tuple(image.shape[-2:]),
                                            output_size=(height, width), stride=stride)

                for runtime, fn in (("python", python_run), ("exported", exported_run)):
                    key = (runtime, precision, layout)
                    results[key] = median_time(fn, repeats, warmup=1)
                    print(f"  {runtime:8s} {precision} {layout}: {results[key]:.2f} s", flush=True)
    return results


def till_accuracy(cfg, weights: str, dataset: str, precision: str, layout: str = "contiguous"):
    """{metric: value} of the averaged level (RPC protocol) of ``weights`` on ``dataset`` under
    ``precision`` (bf16: CPU autocast, as the till would run it) and memory ``layout``."""
    import tempfile

    from detectron2.evaluation import inference_on_dataset

    from dpsnet_d2.engine import DPSNetCheckpointer, DPSNetTrainer

    model = build_model(cfg).eval()
    DPSNetCheckpointer(model).load(weights)
    till_layout(model, layout)
    loader = DPSNetTrainer.build_test_loader(cfg, dataset)
    with tempfile.TemporaryDirectory() as folder:
        evaluator = DPSNetTrainer.build_evaluator(cfg, dataset, output_folder=folder)
        with inference_autocast(precision == "bf16"):
            flat = inference_on_dataset(model, loader, evaluator)["rpc"]
    keys = {"sweep cAcc": "averaged/sweep/cAcc", "fixed cAcc": "averaged/fixed/cAcc",
            "sweep mCIoU": "averaged/sweep/mCIoU", "sweep ACD": "averaged/sweep/ACD",
            "mAP50": "averaged/mAP50"}
    return {name: flat.get(key) for name, key in keys.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", required=True)
    parser.add_argument("--image", help="a checkout photo (default: noise, 1815 x 1815)")
    parser.add_argument("--sizes", "--size", type=int_at_least(32), nargs="+", default=[800],
                        help="INPUT.MIN_SIZE_TEST values to time (and evaluate)")
    parser.add_argument("--weights", help="trained weights for every config (default: untrained)")
    parser.add_argument("--eval-dataset", metavar="NAME",
                        help="a registered labelled RPC-format split: also the accuracy per "
                        "option (needs --weights)")
    parser.add_argument("--threads", type=int_at_least(1), default=2)
    parser.add_argument("--repeats", type=int_at_least(1), default=2)
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"),
                        default=["fp32", "bf16"], help="bf16 is skipped on CPUs without it")
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=["contiguous"],
                        help="memory layouts of the weights (channels_last: what checkout.py "
                        "--channels-last runs)")
    parser.add_argument("--output", help="also write the table as json")
    add_debug_flag(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args, overrides = parse_with_overrides(parser, argv)
    args.opts = overrides + list(args.opts)

    configs = [check_input_file(c, "--configs") for c in args.configs]
    if args.image:
        import cv2

        photo = cv2.imread(check_input_file(args.image, "--image"), cv2.IMREAD_COLOR)
        if photo is None:
            raise UserError(f"--image {args.image}: not a readable image")
    else:
        photo = np.random.default_rng(0).integers(0, 256, (1815, 1815, 3), dtype=np.uint8)
    precisions = [p for p in args.precisions if p == "fp32" or cpu_has_bf16()]
    if args.eval_dataset and not args.weights:
        raise UserError("--eval-dataset needs --weights (a trained model)")
    if args.weights:
        check_input_file(args.weights, "--weights")
    torch.set_num_threads(args.threads)
    rows = []
    print(f"CPU: {cpu_model()}, {args.threads} threads, photo {photo.shape[1]}x{photo.shape[0]}"
          f" -> {args.sizes} px, median of {args.repeats}")
    for config in configs:
        for size in args.sizes:
            cfg = get_dpsnet_cfg(config, [
                "MODEL.WEIGHTS", args.weights or "", "MODEL.DEVICE", "cpu",
                "INPUT.MIN_SIZE_TEST", str(size), "INPUT.MAX_SIZE_TEST",
                str(max(1333, size)), *args.opts])
            print(f"{config} at {size} px", flush=True)
            timings = till_timings(cfg, photo, precisions, args.repeats, args.layouts)
            accuracy = {}  # (precision, layout) -> metrics, shared by both runtimes' rows
            for layout in args.layouts if args.eval_dataset else ():
                for precision in precisions:
                    metrics = till_accuracy(cfg, args.weights, args.eval_dataset, precision,
                                            layout)
                    print(f"  {args.eval_dataset} {precision} {layout}: " + ", ".join(
                        f"{k} {v:.2f}" for k, v in metrics.items() if v is not None), flush=True)
                    accuracy[(precision, layout)] = {**metrics, "dataset": args.eval_dataset}
            for (runtime, precision, layout), seconds in timings.items():
                rows.append({"config": config, "size": size, "runtime": runtime,
                             "precision": precision, "layout": layout,
                             "seconds": round(seconds, 3), **accuracy.get((precision, layout), {})})
    if args.output:
        atomic_write_bytes(args.output, json.dumps(
            {"cpu": cpu_model(), "threads": args.threads, "weights": args.weights or "",
             "rows": rows},
            indent=2).encode())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
