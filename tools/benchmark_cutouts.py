#!/usr/bin/env python
"""
Cut-outs: mask quality, pose pruning, speed at RPC resolution, and the store's read cost.

    # (1) mask IoU against the true masks (train2019_masks/) of a synthetic RPC folder, for the
    #     saliency-refined masks, the coarse masks and OpenCV's GrabCut (the box as its rectangle)
    python tools/benchmark_cutouts.py iou DATASET_DIR --out WORK_DIR [--workers 2]
    # (2) pose pruning as a detector of unnatural views (the generator's known viewpoints)
    python tools/benchmark_cutouts.py pruning DATASET_DIR --out WORK_DIR
    # (3) seconds per image of coarse masks and refinement at RPC's resolution
    python tools/benchmark_cutouts.py speed DATASET_DIR --out WORK_DIR [--images 10]
    # (4) read cost of one cut-out: the store (memory-mapped raw RGBA) vs one PNG per cut-out
    python tools/benchmark_cutouts.py store WORK_DIR/cutouts

(1) runs ``prepare_rpc.py masks`` once per method into WORK_DIR/<method>/ (resumable), (2) and (3)
use WORK_DIR/saliency/ from (1), (4) a store written by ``prepare_rpc.py prune``.
"""
import argparse
import json
import os
import tempfile
import time

import cv2
import numpy as np

from dpsnet_d2.augment.cutouts import CutoutStore
from dpsnet_d2.augment.cutouts.background_removal import coarse_mask, grabcut_mask
from dpsnet_d2.augment.cutouts.pose_pruning import parse_view, prune_poses, unnatural_precision_recall
from dpsnet_d2.augment.cutouts.prepare_masks import (
    MaskSettings,
    decode_rle,
    encode_rle,
    masks_file,
    run_masks,
    work_dir,
)
from dpsnet_d2.augment.cutouts.saliency import SaliencyNet, crop_inputs, predict_saliency, refine_masks
from dpsnet_d2.data.datasets.rpc_format import image_folder, json_name
from dpsnet_d2.data.datasets.synthetic import MASK_DIR
from dpsnet_d2.data.synthetic_rpc import train_viewpoints

RPC_TRAIN_IMAGES = 53739
RPC_SIZE = (2592, 1944)  # width, height of RPC's train photos


def _paths(dataset):
    return os.path.join(dataset, json_name("train")), os.path.join(dataset, image_folder("train"))


def bench_iou(args):
    json_file, image_root = _paths(args.dataset)
    rows = []
    for method in ("saliency", "coarse", "grabcut"):
        out = os.path.join(args.out, method)
        start = time.perf_counter()
        summary = run_masks(json_file, image_root, out, MaskSettings(method=method),
                            workers=args.workers)  # fmt: skip
        seconds = time.perf_counter() - start
        with open(masks_file(json_file, out)) as f:
            data = json.load(f)
        names = {im["id"]: im["file_name"] for im in data["images"]}
        found = {names[a["image_id"]]: decode_rle(a["segmentation"]) for a in data["annotations"]}
        ious = []
        for name in sorted(os.listdir(image_root)):
            truth = cv2.imread(os.path.join(args.dataset, MASK_DIR, name[:-4] + ".png"), 0) > 0
            m = found.get(name)
            ious.append(0.0 if m is None else (m & truth).sum() / max(1, (m | truth).sum()))
        ious = np.array(ious)
        rows.append((method, ious.mean(), np.percentile(ious, 10), len(ious), seconds, summary))
    print("| method | mean IoU | 10th pct IoU | images | wall s (incl. training) | notes |")
    print("|---|---|---|---|---|---|")
    for method, mean, p10, n, seconds, summary in rows:
        note = (f"{summary['confident']} confident coarse masks trained the network"
                if "confident" in summary else "")  # fmt: skip
        print(f"| {method} | {mean:.4f} | {p10:.4f} | {n} | {seconds:.0f} | {note} |")


def bench_pruning(args):
    json_file, _ = _paths(args.dataset)
    with open(masks_file(json_file, os.path.join(args.out, "saliency"))) as f:
        found = {a["id"]: a["area"] for a in json.load(f)["annotations"]}
    with open(json_file) as f:
        original = json.load(f)
    views = original["info"]["views"]  # the generator's settings
    natural = (views + 1) // 2  # train_viewpoints: the first ceil(V/2) are the natural ones
    assert len(train_viewpoints(views)) == views
    images = {im["id"]: im for im in original["images"]}
    anns = original["annotations"]
    pixels = [images[a["image_id"]]["width"] * images[a["image_id"]]["height"] for a in anns]
    names = [images[a["image_id"]]["file_name"] for a in anns]
    # an image without a final mask has area 0 (pruned); the true masks give the rule's own error
    areas = np.array([found.get(a["id"], 0) for a in anns]) / pixels
    true_areas = np.array([np.count_nonzero(cv2.imread(os.path.join(
        args.dataset, MASK_DIR, n[:-4] + ".png"), 0)) for n in names]) / pixels  # fmt: skip
    skus = [a["category_id"] for a in anns]
    unnatural = [parse_view(n) >= natural for n in names]
    print(f"{len(anns)} images, {sum(unnatural)} unnatural (views {natural}..{views - 1})\n")
    print("| theta | precision | recall | pruned | precision (true masks) | recall (true masks) |")
    print("|---|---|---|---|---|---|")
    for theta in [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]:
        pr = unnatural_precision_recall(~prune_poses(areas, skus, theta)[1], unnatural)
        tr = unnatural_precision_recall(~prune_poses(true_areas, skus, theta)[1], unnatural)
        mark = "**" if theta == 0.45 else ""
        print(f"| {mark}{theta}{mark} | {pr['precision']:.3f} | {pr['recall']:.3f} | "
              f"{pr['pruned']} | {tr['precision']:.3f} | {tr['recall']:.3f} |")


def _large(image, box):
    """The image and box upscaled to RPC's resolution (aspect ratio not kept)."""
    fx, fy = RPC_SIZE[0] / image.shape[1], RPC_SIZE[1] / image.shape[0]
    big = cv2.resize(image, RPC_SIZE, interpolation=cv2.INTER_CUBIC)
    return big, [box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy]


def bench_speed(args):
    import torch

    torch.set_num_threads(1)  # as prepare_rpc.py masks (--threads 1)
    json_file, image_root = _paths(args.dataset)
    with open(json_file) as f:
        data = json.load(f)
    state = torch.load(os.path.join(work_dir(os.path.join(args.out, "saliency")), "saliency.pth"),
                       map_location="cpu", weights_only=True)  # fmt: skip
    model = SaliencyNet()
    model.load_state_dict(state["model"])
    step = max(1, len(data["images"]) // args.images)
    tmp = tempfile.mkdtemp()
    t_read, t_coarse, t_refine, t_grabcut, sides = [], [], [], [], []
    for im, ann in list(zip(data["images"], data["annotations"]))[::step][: args.images]:
        big, box = _large(cv2.imread(os.path.join(image_root, im["file_name"])), ann["bbox"])
        sides.append(max(box[2], box[3]))
        path = os.path.join(tmp, "big.jpg")
        cv2.imwrite(path, big, [cv2.IMWRITE_JPEG_QUALITY, 95])
        t0 = time.perf_counter()
        image = cv2.imread(path)
        t1 = time.perf_counter()
        coarse = coarse_mask(image, box)
        t2 = time.perf_counter()
        x, _, window = crop_inputs(image, box, 128, 0.1)
        prob = predict_saliency(model, x[None], batch_size=1)[0]
        mask = refine_masks(prob, window, box, image.shape[0], image.shape[1])
        encode_rle(mask)
        t3 = time.perf_counter()
        t_read.append(t1 - t0), t_coarse.append(t2 - t1), t_refine.append(t3 - t2)
        if len(t_grabcut) < 3:  # seconds each
            t4 = time.perf_counter()
            grabcut_mask(image, box)
            t_grabcut.append(time.perf_counter() - t4)
        del coarse
    med = {k: float(np.median(v)) for k, v in
           (("read", t_read), ("coarse", t_coarse), ("refine", t_refine),
            ("grabcut", t_grabcut))}  # fmt: skip
    per_image = med["read"] * 2 + med["coarse"] + med["refine"]  # each step reads the image
    hours = RPC_TRAIN_IMAGES * per_image / 8 / 3600
    print(f"{len(t_read)} images at {RPC_SIZE[0]}x{RPC_SIZE[1]}, box sides {min(sides):.0f}-"
          f"{max(sides):.0f} px, torch threads {torch.get_num_threads()}")  # fmt: skip
    print("| per image (median) | JPEG read | coarse mask | refinement (crop, net, paste, RLE) "
          f"| GrabCut, 5 iterations ({len(t_grabcut)} images) |")  # fmt: skip
    print("|---|---|---|---|---|")
    print(f"| seconds | {med['read']:.3f} | {med['coarse']:.3f} | {med['refine']:.3f} "
          f"| {med['grabcut']:.2f} |")  # fmt: skip
    print(f"\n{RPC_TRAIN_IMAGES} images x (2 reads + coarse + refine) = "
          f"{RPC_TRAIN_IMAGES * per_image / 3600:.1f} core-hours; on 8 cores {hours:.1f} h "
          "(+ the network's training, independent of the number of images)")  # fmt: skip


def bench_store(args):
    store = CutoutStore(args.store)
    rng = np.random.default_rng(0)
    kept = store.kept()  # the views whose pixels are stored
    order = rng.integers(len(kept), size=args.reads)
    tmp = tempfile.mkdtemp()
    pngs = []
    for i in kept:
        pngs.append(os.path.join(tmp, f"{i}.png"))
        cv2.imwrite(pngs[-1], cv2.cvtColor(store.get(int(i)), cv2.COLOR_RGBA2BGRA))
    store.get(int(kept[0]))  # map the file
    t0 = time.perf_counter()
    for i in order:
        store.get(int(kept[i]))
    t1 = time.perf_counter()
    for i in order:
        cv2.cvtColor(cv2.imread(pngs[int(i)], cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    t2 = time.perf_counter()
    sizes = np.array([store.records[int(i)]["shape"] for i in kept])
    mb = os.path.getsize(os.path.join(args.store, "pixels.bin")) / 2**20
    png_mb = sum(os.path.getsize(p) for p in pngs) / 2**20
    h, w = np.median(sizes, axis=0)
    print(f"{len(kept)} stored cut-outs, median {h:.0f}x{w:.0f} "
          f"px; {args.reads} random reads (files in the page cache)")  # fmt: skip
    print("| format | us per cut-out | size on disk (MiB) |")
    print("|---|---|---|")
    print(f"| store ({store.encoding}, memory-mapped) | {(t1 - t0) / args.reads * 1e6:.0f} | "
          f"{mb:.1f} |")
    png_us = (t2 - t1) / args.reads * 1e6
    print(f"| one PNG per cut-out (cv2.imread) | {png_us:.0f} | {png_mb:.1f} |")


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    for name in ("iou", "pruning", "speed"):
        q = sub.add_parser(name)
        q.add_argument("dataset", help="a synthetic RPC folder (with train2019_masks/)")
        q.add_argument("--out", required=True, help="working folder for the masks")
        q.add_argument("--workers", type=int, default=2)
        q.add_argument("--images", type=int, default=10, help="speed: images to time")
    q = sub.add_parser("store")
    q.add_argument("store", help="a cut-out store folder")
    q.add_argument("--reads", type=int, default=2000)
    args = p.parse_args()
    {"iou": bench_iou, "pruning": bench_pruning, "speed": bench_speed, "store": bench_store}[
        args.what
    ](args)


if __name__ == "__main__":
    main()
