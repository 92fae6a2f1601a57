#!/usr/bin/env python
"""
Time RPCEvaluator on an RPC-test-sized synthetic run: 24,000 images x 20 detections, 200 classes,
3 levels (easy / medium / hard objects per image as on RPC), no model.

    python tools/benchmark_rpc_eval.py                      # the RPC test size
    python tools/benchmark_rpc_eval.py --num-images 2400 --skip-map

Prints one line: ``process`` (all images, batches of one, from Instances and counts as the model
returns them), ``evaluate`` without mAP (``compute_map=False``: sweep, fixed and density rows for
4 levels, ``bbox_results.json`` and ``rpc_results.json``) and, unless --skip-map, ``evaluate``
with mAP (the same plus COCO box AP, ``dpsnet_d2/evaluation/box_ap.py``; ground truth from the
json_file).
"""
import argparse
import json
import logging
import os
import tempfile

import numpy as np
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode, Boxes, Instances

from dpsnet_d2.evaluation import RPCEvaluator
from dpsnet_d2.utils import median_time

# Objects per image of each level, as on RPC (easy ~7, medium ~12, hard ~17).
LEVEL_OBJECTS = {"easy": (3, 10), "medium": (10, 15), "hard": (15, 20)}
SIZE = 1800


def synthetic_run(num_images, dets_per_image, num_classes, seed=0):
    """(dataset dicts, model outputs): ground truth and Instances of a decent detector."""
    rng = np.random.default_rng(seed)
    dicts, outputs = [], []
    levels = list(LEVEL_OBJECTS)
    for i in range(num_images):
        level = levels[i % 3]
        n = int(rng.integers(*LEVEL_OBJECTS[level], endpoint=True))
        xy = rng.uniform(0, SIZE - 300, (n, 2))
        wh = rng.uniform(100, 300, (n, 2))
        classes = rng.integers(0, num_classes, n)
        annotations = [{"bbox": [*p, *s], "bbox_mode": BoxMode.XYWH_ABS, "category_id": int(c)}
                       for p, s, c in zip(xy.tolist(), wh.tolist(), classes.tolist())]
        dicts.append({"file_name": f"{i}.jpg", "height": SIZE, "width": SIZE, "image_id": i + 1,
                      "level": level, "annotations": annotations})
        m, extra = min(n, dets_per_image), dets_per_image - min(n, dets_per_image)
        det_xy = np.concatenate([xy[:m] + rng.normal(0, 5, (m, 2)),
                                 rng.uniform(0, SIZE - 300, (extra, 2))])
        det_wh = np.concatenate([wh[:m], rng.uniform(100, 300, (extra, 2))])
        det_cls = np.concatenate([classes[:m], rng.integers(0, num_classes, extra)])
        det_cls[:m][rng.random(m) < 0.05] = rng.integers(0, num_classes)
        scores = np.concatenate([rng.uniform(0.5, 1.0, m), rng.uniform(0.0, 0.6, extra)])
        instances = Instances((SIZE, SIZE))
        xyxy = np.concatenate([det_xy, det_xy + det_wh], axis=1)
        instances.pred_boxes = Boxes(torch.as_tensor(xyxy, dtype=torch.float32))
        instances.scores = torch.as_tensor(scores, dtype=torch.float32)
        instances.pred_classes = torch.as_tensor(det_cls, dtype=torch.int64)
        counts = torch.tensor([float(n) + rng.normal(0, 0.3)])
        outputs.append({"instances": instances, "counts": counts})
    return dicts, outputs


def coco_dict(dicts, num_classes):
    """COCO ground truth of the synthetic dicts (category id = class + 1), as RPC's json."""
    anns = []
    for d in dicts:
        for a in d["annotations"]:
            anns.append({"id": len(anns) + 1, "image_id": d["image_id"],
                         "category_id": a["category_id"] + 1, "bbox": a["bbox"],
                         "area": a["bbox"][2] * a["bbox"][3], "iscrowd": 0})
    images = [{"id": d["image_id"], "width": SIZE, "height": SIZE, "file_name": d["file_name"],
               "level": d["level"]} for d in dicts]
    categories = [{"id": k + 1, "name": f"sku_{k}"} for k in range(num_classes)]
    return {"images": images, "annotations": anns, "categories": categories}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-images", type=int, default=24000)
    parser.add_argument("--dets-per-image", type=int, default=20)
    parser.add_argument("--num-classes", type=int, default=200)
    parser.add_argument("--skip-map", action="store_true", help="skip the run with COCO AP")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)

    dicts, outputs = synthetic_run(args.num_images, args.dets_per_image, args.num_classes)
    with tempfile.TemporaryDirectory() as out:
        json_file = os.path.join(out, "instances.json")
        with open(json_file, "w") as f:
            json.dump(coco_dict(dicts, args.num_classes), f)
        name = "benchmark_rpc_eval"
        DatasetCatalog.register(name, lambda: dicts)
        MetadataCatalog.get(name).set(
            thing_classes=[f"sku_{k}" for k in range(args.num_classes)], evaluator_type="rpc",
            thing_dataset_id_to_contiguous_id={k + 1: k for k in range(args.num_classes)},
            json_file=json_file,
        )
        counting = RPCEvaluator(name, os.path.join(out, "counting"), score_threshold=0.5,
                                distributed=False, compute_map=False)
        full = RPCEvaluator(name, os.path.join(out, "full"), score_threshold=0.5,
                            distributed=False)
        # the dataset is read once, outside the timings
        counting.ground_truth()
        full.ground_truth()
        t_process = 0.0
        for d, o in zip(dicts, outputs):
            inputs = [{"image_id": d["image_id"]}]
            t_process += median_time(lambda: counting.process(inputs, [o]))
            full.process(inputs, [o])
        results = {}
        t_counting = median_time(lambda: results.update(counting.evaluate()["rpc"]))
        line = (f"RPCEvaluator, {args.num_images} images x {args.dets_per_image} detections, "
                f"{args.num_classes} classes: process {t_process:.2f} s; evaluate without mAP "
                f"(4 rows x sweep + fixed + density, 2 JSON files) {t_counting:.2f} s")
        if not args.skip_map:
            t_full = median_time(lambda: results.update(full.evaluate()["rpc"]))
            line += f"; evaluate with mAP {t_full:.1f} s"
            line += f" [averaged mAP50 {results['averaged/mAP50']:.1f}]"
    print(line + f" [averaged sweep cAcc {results['averaged/sweep/cAcc']:.2f}]")
    return 0


if __name__ == "__main__":
    main()
