#!/usr/bin/env python
"""
Checkout scene synthesis: throughput of the synthesis mapper, product sizes vs checkout scenes,
and a preview picture.

    # scenes/s on one core (compose + D2 augmentations + density targets), 800 px, hard level,
    # with a profile of where the time goes
    python tools/benchmark_synthesis.py speed --store DIR [--size 800 --level hard --num 100]

    # box sizes of synthesized scenes vs the checkout scenes of an RPC-format split
    python tools/benchmark_synthesis.py sizes --store DIR --json instances_val2019.json ...

    # docs/synthesis_preview.jpg: cut-outs -> synthesized scenes -> real checkout scenes
    python tools/benchmark_synthesis.py preview --store DIR --rpc-root datasets/synthetic_rpc

All build the mapper from configs/Synthetic/dpsnet_R_18_synth_cpu.yaml (or ``--config-file``, e.g.
configs/RPC/dpsnet_R_50_FPN.yaml: RPC's scales on a generated counter) plus trailing ``KEY VALUE``
overrides (``--opts`` is a deprecated alias).
"""
import argparse
import cProfile
import json
import os
import pstats
import time

import cv2
import numpy as np
import torch

from dpsnet_d2.augment import LEVELS, SynthesisDatasetMapper, scene_rng
from dpsnet_d2.augment.synthesis.loader import synthesis_records
from dpsnet_d2.config import get_dpsnet_cfg
from dpsnet_d2.utils.options import add_deprecated_alias, add_output_argument

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                      "Synthetic", "dpsnet_R_18_synth_cpu.yaml")
# What the profile groups time by: label -> function name (cProfile cumulative times).
STAGES = {
    "compose: background": "background",
    "compose: rotate + scale cut-outs": "_transform_cutout",
    "compose: read cut-outs": "get",
    "compose: visibility checks": "_covered",
    "compose: whole scene (all of the above + paste + boxes)": "compose_scene",
    "D2 augmentations (resize, flip)": "__call__ of AugmentationList",
    "boxes -> instances": "_transform_annotations",
    "density targets": "_add_density",
}


def build_mapper(store, size, level, opts=(), config_file=CONFIG):
    weights = ["0.0"] * len(LEVELS)
    weights[LEVELS.index(level)] = "1.0"
    cfg = get_dpsnet_cfg(config_file, [
        "INPUT.SYNTHESIS.CUTOUT_STORE", store,
        "INPUT.SYNTHESIS.CANVAS_SIZE", str(size),
        "INPUT.SYNTHESIS.LEVEL_WEIGHTS", f"[{', '.join(weights)}]",
        "INPUT.MIN_SIZE_TRAIN", f"({size},)",
        "INPUT.MAX_SIZE_TRAIN", str(int(size * 1333 / 800)),
        *opts,
    ])
    return cfg, SynthesisDatasetMapper(cfg, True)


def _stage_times(stats: pstats.Stats, num: int):
    """{label: ms per scene} from a cProfile run over ``num`` scenes."""
    out = {}
    for label, name in STAGES.items():
        func = name.split(" of ")[0]
        owner = name.split(" of ")[1] if " of " in name else None
        total = 0.0
        for (path, _, fn), (_, _, _, cum, _) in stats.stats.items():
            if fn != func:
                continue
            if owner == "AugmentationList" and "transforms/augmentation.py" not in path:
                continue
            if func == "get" and not path.endswith("store.py"):  # CutoutStore.get
                continue
            if func == "__call__" and owner is None:
                continue
            total += cum
        out[label] = 1000 * total / num
    return out


def run_speed(args):
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _, mapper = build_mapper(args.store, args.size, args.level, args.opts, args.config_file)
    records = synthesis_records(args.num + 5)
    for r in records[:5]:  # warm-up (memory map, first allocations)
        mapper(r)
    start, cpu_start = time.perf_counter(), time.process_time()
    for r in records[5:]:
        mapper(r)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    profile = cProfile.Profile(time.process_time)  # CPU time: robust to a shared machine
    profile.enable()
    for r in records[5:]:
        mapper(r)
    profile.disable()
    stages = _stage_times(pstats.Stats(profile), args.num)
    print(f"{args.num} {args.level} scenes at {args.size} px, 1 thread, compose + augment + "
          f"density: {args.num / elapsed:.1f} scenes/s wall clock ({1000 * elapsed / args.num:.1f} "
          f"ms per scene), {args.num / cpu:.1f} scenes/s of CPU time ({1000 * cpu / args.num:.1f} "
          "ms; the one-core rate when the core is not shared)")
    total = 1000 * pstats.Stats(profile).total_tt / args.num
    print("\nProfile (cProfile on CPU time, cumulative ms per scene; profiling adds overhead):\n")
    print("| stage | ms / scene | share |\n|---|---|---|")
    for label, ms in {**stages, "total (profiled)": total}.items():
        print(f"| {label} | {ms:.1f} | {100 * ms / total:.0f} % |")
    return args.num / elapsed


def _box_sides(boxes_xywh):
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    return np.sqrt(b[:, 2] * b[:, 3]), np.maximum(b[:, 2], b[:, 3])


def run_sizes(args):
    cfg, mapper = build_mapper(args.store, args.size, "easy", [
        "INPUT.SYNTHESIS.LEVEL_WEIGHTS", "[1.0, 1.0, 1.0]", *args.opts])
    real = []
    for path in args.json:
        with open(path) as f:
            real += [a["bbox"] for a in json.load(f)["annotations"]]
    synth = []
    for k in range(args.num):
        scene = mapper.synthesizer(scene_rng(0, k))
        xyxy = scene.boxes * (args.real_size / scene.image.shape[0])
        synth += [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in xyxy.tolist()]
    q = (10, 25, 50, 75, 90)
    print(f"Box sizes (pixels, scenes of {args.real_size} px): {len(synth)} boxes of {args.num} "
          f"synthesized scenes (SCALE_RANGE {list(cfg.INPUT.SYNTHESIS.SCALE_RANGE)}) vs "
          f"{len(real)} boxes of {', '.join(os.path.basename(p) for p in args.json)}\n")
    print("| percentile | " + " | ".join(f"p{v}" for v in q) + " |")
    print("|---|" + "---|" * len(q))
    rows = {}
    for name, boxes in (("checkout", real), ("synthesized", synth)):
        area, side = _box_sides(boxes)
        rows[name] = np.percentile(area, q)
        print(f"| {name}: sqrt(w h) | " + " | ".join(f"{v:.0f}" for v in rows[name]) + " |")
        print(f"| {name}: long side | " + " | ".join(f"{v:.0f}" for v in np.percentile(side, q))
              + " |")
    return rows


def run_preview(args):
    from dpsnet_d2.augment.synthesis.preview import make_synthesis_preview

    _, mapper = build_mapper(args.store, args.size, "easy", args.opts)
    make_synthesis_preview(args.output, mapper.synthesizer, args.rpc_root)
    print(f"wrote {args.output}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("speed", "sizes", "preview"):
        p = sub.add_parser(name)
        p.add_argument("--store", required=True, help="cut-out store folder")
        p.add_argument("--config-file", default=CONFIG, metavar="FILE",
                       help="the config whose synthesis settings are used (default: "
                       "configs/Synthetic/dpsnet_R_18_synth_cpu.yaml)")
        p.add_argument("--num", type=int, default=100, help="scenes")
        add_deprecated_alias(p, "--opts", "trailing KEY VALUE pairs", dest="legacy_opts",
                             nargs="*", default=[])
        if name == "speed":
            p.add_argument("--size", type=int, default=800, help="scene and input side (px)")
            p.add_argument("--level", choices=LEVELS, default="hard")
        elif name == "sizes":
            p.add_argument("--size", type=int, default=512, help="synthesized scene side (px)")
            p.add_argument("--json", nargs="+", required=True, help="RPC-format checkout JSON(s)")
            p.add_argument("--real-size", type=int, default=512, help="side of those images")
        else:
            p.add_argument("--size", type=int, default=512, help="synthesized scene side (px)")
            p.add_argument("--rpc-root", required=True, help="RPC-format folder (val split)")
            add_output_argument(p, "--out", default="docs/synthesis_preview.jpg")
        p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    args.opts = list(args.legacy_opts) + list(args.opts)
    for path in [args.store, args.config_file] + list(getattr(args, "json", [])) + [
            getattr(args, "rpc_root", "")]:
        if path and not os.path.exists(path):
            parser.error(f"{path}: does not exist")
    return {"speed": run_speed, "sizes": run_sizes, "preview": run_preview}[args.command](args)


if __name__ == "__main__":
    main()
