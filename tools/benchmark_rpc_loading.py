#!/usr/bin/env python
"""
Time loading an RPC-size annotation file: a generated file of the size of RPC's test split
(24,000 checkout images of about 1800 x 1800 px, 300,000 boxes, 200 categories, levels).

    python tools/benchmark_rpc_loading.py                      # 24,000 images, 300,000 boxes
    python tools/benchmark_rpc_loading.py --images 6000 --boxes 73602 --runs 5
    python tools/benchmark_rpc_loading.py --with-coco     # also Detectron2's load_coco_json

Prints one line: the file, the median time of ``json.load`` alone (as is, and with Python's cyclic
garbage collector paused, as ``load_rpc_json`` does), of ``load_rpc_json`` (parse, checks, dataset
dicts) and of ``load_rpc_categories`` (what the category metadata costs), and the machine. The
file is written to a temporary folder and removed.
"""
import argparse
import gc
import json
import os
import platform
import sys
import tempfile

import numpy as np

from dpsnet_d2.data.datasets.rpc import (
    RPC_LEVELS,
    RPC_SUPERCATEGORIES,
    load_rpc_categories,
    load_rpc_json,
)
from dpsnet_d2.utils import median_time


def make_rpc_annotations(num_images, num_boxes, num_classes=200, seed=0):
    """
    An RPC-style annotation dict (docs/method.md §1.1) of ``num_images`` checkout images with
    levels and ``num_boxes`` boxes in all, more per image on harder levels (docs/method.md §1:
    about 7 / 12 / 17).
    """
    rng = np.random.default_rng(seed)
    widths = rng.integers(1750, 1850, num_images)
    heights = rng.integers(1750, 1850, num_images)
    level = rng.integers(0, 3, num_images)
    weight = np.array([7.0, 12.0, 17.0])[level]
    image_of = np.sort(rng.choice(num_images, size=num_boxes, p=weight / weight.sum()))
    wh = rng.uniform(80, 500, (num_boxes, 2))
    room = np.stack([widths[image_of], heights[image_of]], axis=1) - wh
    xy = rng.uniform(0, 1, (num_boxes, 2)) * room
    boxes = np.round(np.concatenate([xy, wh], axis=1), 2)
    centres = np.round(xy + wh / 2, 2)
    category = rng.integers(1, num_classes + 1, num_boxes)
    images = [
        {
            "file_name": f"{i:06d}.jpg",
            "width": int(w),
            "height": int(h),
            "id": i + 1,
            "level": RPC_LEVELS[v],
        }
        for i, (w, h, v) in enumerate(zip(widths, heights, level))
    ]
    annotations = [
        {
            "id": j + 1,
            "image_id": int(i) + 1,
            "category_id": int(c),
            "bbox": b,
            "area": round(b[2] * b[3], 2),
            "iscrowd": 0,
            "segmentation": [],
            "point_xy": p,
        }
        for j, (i, c, b, p) in enumerate(zip(image_of, category, boxes.tolist(), centres.tolist()))
    ]
    supers = [RPC_SUPERCATEGORIES[k % len(RPC_SUPERCATEGORIES)] for k in range(num_classes)]
    categories = [
        {"id": k + 1, "name": f"{k + 1}_{s}", "supercategory": s} for k, s in enumerate(supers)
    ]
    return {"images": images, "annotations": annotations, "categories": categories}


def machine():
    """CPU model, cores, Python and numpy versions, in a few words."""
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = models[0] if models else cpu
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, Python {python}, numpy {np.__version__}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24000, help="checkout images")
    parser.add_argument("--boxes", type=int, default=300000, help="boxes in all")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (the median is shown)")
    parser.add_argument(
        "--with-coco", action="store_true", help="also time Detectron2's load_coco_json on the file"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        json_file = os.path.join(tmp, "instances_test2019.json")
        with open(json_file, "w") as f:
            json.dump(make_rpc_annotations(args.images, args.boxes), f)
        megabytes = os.path.getsize(json_file) / 2**20

        def json_load():
            with open(json_file) as f:
                json.load(f)

        def json_load_gc_paused():
            gc.disable()
            try:
                json_load()
            finally:
                gc.enable()

        t_json = median_time(json_load, args.runs)
        t_json_paused = median_time(json_load_gc_paused, args.runs)
        t_load = median_time(lambda: load_rpc_json(json_file, tmp), args.runs)
        t_cats = median_time(lambda: load_rpc_categories(json_file), args.runs)
        coco = ""
        if args.with_coco:
            from detectron2.data.datasets import load_coco_json

            t_coco = median_time(lambda: load_coco_json(json_file, tmp), args.runs)
            coco = f" | detectron2 load_coco_json {t_coco:.2f} s"
        dicts = load_rpc_json(json_file, tmp)
    boxes = sum(len(d["annotations"]) for d in dicts)
    print(
        f"RPC loading, {len(dicts)} images / {boxes} boxes ({megabytes:.0f} MB JSON), "
        f"median of {args.runs}: json.load {t_json:.2f} s ({t_json_paused:.2f} s with gc paused) | "
        f"load_rpc_json {t_load:.2f} s | "
        f"load_rpc_categories {t_cats * 1000:.1f} ms{coco} | {machine()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
