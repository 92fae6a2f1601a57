#!/usr/bin/env python
"""
What DPSNet's additions cost: train-step time, inference time, peak memory and inference FLOPs of
a config ("dpsnet") against the same config with the counting view and the pyramid fusion off
("faster_rcnn": MODEL.DENSITY_HEAD.ENABLED False, MODEL.BIPYRAMID.FUSION_ON False), in one run,
with their ratio.

    python tools/benchmark_model.py --config-file configs/RPC/dpsnet_R_101_FPN.yaml --size 800
    python tools/benchmark_model.py --config-file configs/RPC/dpsnet_R_101_FPN.yaml --device cuda \
        --batch 2 --iters 20
    python tools/benchmark_model.py --config-file CFG MODEL.BIPYRAMID.FUSE_DIM 128   # overrides

Inputs are random images of --size x --size pixels (already at network input size) with
--num-objects random boxes each; weights are random (nothing is downloaded). Random weights
give each variant different, arbitrary proposals, so two settings make the ROI heads' work the
same for both: the RPN's NMS is off (MODEL.RPN.NMS_THRESH 1.0: exactly POST_NMS_TOPK proposals,
as a trained model gives) and ROIAlign samples 2x2 points per bin
(MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO 2; the default 0 makes its cost grow with box size).
Times are medians
over --iters steps after --warmup steps. A train step is forward + backward + optimizer step
(DPSNetTrainer.build_optimizer) on --batch images, at learning rate 0 by default (random
weights would diverge; SGD does the same work at any rate); inference is one image, no gradients.
Every (variant, measurement) runs in a fresh subprocess, so memory peaks do not mix. Peak
memory: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the growth of the process's maximum
resident set size (``ru_maxrss``) during the measurement, above the built model and inputs.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys

import torch

# Applied to both variants (see the module docstring).
COMMON_OPTS = ["MODEL.RPN.NMS_THRESH", "1.0", "MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO", "2"]
VARIANTS = {
    "dpsnet": [],
    "faster_rcnn": ["MODEL.DENSITY_HEAD.ENABLED", "False", "MODEL.BIPYRAMID.FUSION_ON", "False"],
}
MEASUREMENTS = ("train", "inference", "flops")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--size", type=int, default=800, help="input side in pixels")
    parser.add_argument("--batch", type=int, default=2, help="images per train step")
    parser.add_argument("--num-objects", type=int, default=12, help="boxes per image")
    parser.add_argument("--iters", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument(
        "--repeats", type=int, default=1,
        help="subprocesses per variant and measurement, alternating variants (median reported)",
    )
    parser.add_argument("--lr", type=float, default=0.0, help="SOLVER.BASE_LR of the train steps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--measure", default=",".join(MEASUREMENTS),
        help=f"comma-separated subset of {','.join(MEASUREMENTS)} (default: all)",
    )
    parser.add_argument(
        "--worker", nargs=2, metavar=("VARIANT", "MEASUREMENT"), help=argparse.SUPPRESS
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    return parser.parse_args(argv)


def build_cfg(args, variant):
    from dpsnet_d2 import get_dpsnet_cfg

    cfg = get_dpsnet_cfg(args.config_file, COMMON_OPTS + list(args.opts) + VARIANTS[variant])
    cfg.MODEL.DEVICE = args.device
    cfg.MODEL.WEIGHTS = ""
    cfg.SOLVER.BASE_LR = args.lr
    cfg.freeze()
    return cfg


def make_batch(cfg, args):
    """--batch training dicts (image, instances, density) of random content, seeded."""
    from detectron2.structures import Boxes, Instances

    from dpsnet_d2.data import DensityTargetGenerator

    gen = torch.Generator().manual_seed(0)
    generator = DensityTargetGenerator(cfg) if cfg.MODEL.DENSITY_HEAD.ENABLED else None
    batch = []
    for _ in range(args.batch):
        s = args.size
        image = torch.randint(0, 256, (3, s, s), generator=gen, dtype=torch.uint8)
        xy = torch.rand(args.num_objects, 2, generator=gen) * s * 0.8
        wh = (torch.rand(args.num_objects, 2, generator=gen) * 0.15 + 0.05) * s
        boxes = torch.cat([xy, (xy + wh).clamp(max=s)], dim=1)
        num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
        classes = torch.randint(0, num_classes, (args.num_objects,), generator=gen)
        instances = Instances((s, s), gt_boxes=Boxes(boxes), gt_classes=classes)
        record = {"image": image, "instances": instances, "height": s, "width": s}
        if generator is not None:
            record["density"] = generator(boxes, classes, (s, s))
        batch.append(record)
    return batch


def _time(step, args):
    """Median seconds of ``step()`` (--iters after --warmup), CUDA work included."""
    from dpsnet_d2.utils import median_time

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else None
    return median_time(step, args.iters, warmup=args.warmup, sync=sync)


def _peak_start(device):
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_mb(device, start):
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024  # KiB on Linux


def worker(args):
    """Measure one (variant, measurement) in this process; print one JSON line."""
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from dpsnet_d2 import DPSNetTrainer

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    variant, measurement = args.worker
    cfg = build_cfg(args, variant)
    model = build_model(cfg)
    batch = make_batch(cfg, args)
    result = {"variant": variant, "measurement": measurement}
    if measurement == "train":
        model.train()
        optimizer = DPSNetTrainer.build_optimizer(cfg, model)

        def step():
            losses = model(batch)
            optimizer.zero_grad()
            sum(losses.values()).backward()
            optimizer.step()

        start = _peak_start(args.device)
        with EventStorage():
            result["seconds"] = _time(step, args)
        result["peak_mb"] = _peak_mb(args.device, start)
    elif measurement == "inference":
        model.eval()
        inputs = [{"image": batch[0]["image"]}]
        start = _peak_start(args.device)
        with torch.no_grad():
            result["seconds"] = _time(lambda: model(inputs), args)
        result["peak_mb"] = _peak_mb(args.device, start)
    else:
        from detectron2.utils.analysis import FlopCountAnalysis

        model.eval()
        flops = FlopCountAnalysis(model, [{"image": batch[0]["image"]}])
        flops.unsupported_ops_warnings(False)
        flops.uncalled_modules_warnings(False)
        result["gflops"] = flops.total() / 1e9
    print("RESULT " + json.dumps(result), flush=True)


def _run_worker(variant, measurement, argv):
    """One measurement in a fresh subprocess; returns its result dict."""
    print(f"[benchmark_model] {variant}: {measurement} ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, __file__, "--worker", variant, measurement, *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def run_all(args, argv):
    """
    Run every (variant, measurement) in subprocesses, the variants alternating --repeats times
    (so drifting machine load hits both); return {variant: {key: median over repeats}}.
    """
    samples = {v: {} for v in VARIANTS}
    for measurement in args.measure.split(","):
        if measurement not in MEASUREMENTS:
            raise ValueError(f"--measure {measurement!r}: choose from {MEASUREMENTS}")
        repeats = 1 if measurement == "flops" else args.repeats
        for _ in range(repeats):
            for variant in VARIANTS:
                result = _run_worker(variant, measurement, argv)
                if measurement == "flops":
                    keys = {"gflops": result["gflops"]}
                else:
                    keys = {
                        f"{measurement}_s": result["seconds"],
                        f"{measurement}_peak_mb": result["peak_mb"],
                    }
                for key, value in keys.items():
                    samples[variant].setdefault(key, []).append(value)
    return {v: {k: statistics.median(x) for k, x in row.items()} for v, row in samples.items()}


def markdown(rows, args):
    """The table: one row per variant and the ratio dpsnet / faster_rcnn."""
    memory = "max allocated" if args.device.startswith("cuda") else "max RSS growth"
    columns = [
        ("train_s", "train step (s)"),
        ("inference_s", "inference (s)"),
        ("train_peak_mb", f"train peak MiB ({memory})"),
        ("inference_peak_mb", f"inference peak MiB ({memory})"),
        ("gflops", "inference GFLOPs"),
    ]
    columns = [c for c in columns if all(c[0] in r for r in rows.values())]
    lines = [
        f"config `{args.config_file}` {' '.join(args.opts)} | device {args.device} | "
        f"{args.size}x{args.size} px | train batch {args.batch} | "
        f"{args.num_objects} objects/image | median of {args.iters} after {args.warmup} warm-up | "
        f"threads {args.threads or torch.get_num_threads()} | median of {args.repeats} "
        "alternating runs per variant",
        "",
        "| variant | " + " | ".join(name for _, name in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for variant, row in rows.items():
        lines.append(f"| {variant} | " + " | ".join(f"{row[k]:.3f}" for k, _ in columns) + " |")
    ratio = [rows["dpsnet"][k] / rows["faster_rcnn"][k] for k, _ in columns]
    lines.append("| ratio dpsnet / faster_rcnn | " + " | ".join(f"{r:.3f}x" for r in ratio) + " |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return None
    rows = run_all(args, argv)
    print(markdown(rows, args))
    return rows


if __name__ == "__main__":
    main()
