#!/usr/bin/env python
"""
Measure the render CycleGAN: its speed, and the domain gap before and after rendering.

    # throughput only (no data, random weights): the generator at 800 x 800, images/s
    python tools/benchmark_render.py [--device cuda]
    # + the domain gap of a trained checkpoint: synthesized (A) vs target (B), then rendered A vs B
    python tools/benchmark_render.py --checkpoint output/render/model_final.pth \\
        --domain-a SYNTH_SET_JSON --domain-b synth_rpc_val

Throughput: forward passes of the A -> B generator on 800 x 800 inputs (the published render
size), batched, after warm-up; for the published generator (9 residual blocks, 64 channels)
and, with --checkpoint, the trained one. On CUDA also in fp16 autocast.

Domain gap, on the same images before and after rendering (rendered with ``render_offline_set``,
the ``prepare_rpc.py render`` path, into a temporary folder):

* domain classifier: a small CNN trained to tell A from B on 96 px thumbnails (as many A images
  as B images), accuracy on a held-out 30 % (the same split before and after), mean of --seeds
  runs; 50 % = no gap;
* colour statistics: per RGB channel the 2-Wasserstein distance between Gaussians fitted to the
  pixel values of each set, sqrt((mu_A - mu_B)^2 + (sigma_A - sigma_B)^2), in 0-255 units.

Domain B here should be target images the CycleGAN did not train on (e.g. synth_rpc_val when it
trained on synth_rpc_test). Prints one line per measurement and the machine.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

from dpsnet_d2.augment.render import (
    ResnetGenerator,
    classifier_accuracy,
    colour_w2,
    list_domain_images,
    load_renderer,
    render_offline_set,
)
from dpsnet_d2.augment.render.domains import default_image_root, read_rgb
from dpsnet_d2.utils import atomic_write_bytes
from dpsnet_d2.utils.images import encode



def throughput(generator, device, size=800, batch=1, iters=3, warmup=1, fp16=False):
    """
    (images per second of wall time, CPU seconds of this process per image) of ``generator`` on
    batch x 3 x size x size inputs. The CPU time tells what the work costs on a shared machine.
    """
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    generator = generator.to(device).eval()
    cuda = device.startswith("cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=fp16 and cuda):
        for _ in range(warmup):
            generator(x)
        if cuda:
            torch.cuda.synchronize()
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(iters):
            generator(x)
        if cuda:
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return batch * iters / wall, cpu / (batch * iters)


def _subset_json(json_file, count, folder):
    """The first ``count`` images of a json and their annotations, written to ``folder``."""
    with open(json_file) as f:
        data = json.load(f)
    keep = data["images"][:count]
    ids = {r["id"] for r in keep}
    data = {
        **data,
        "images": keep,
        "annotations": [a for a in data.get("annotations", []) if a["image_id"] in ids],
    }
    path = os.path.join(folder, os.path.basename(json_file))
    with open(path, "w") as f:
        json.dump(data, f)
    return path, keep


def _write_preview(path, images_a, rendered, images_b, rows=3, thumb=320):
    """Rows of (synthesized, rendered, target) thumbnails, spread over the sets, as a JPEG."""

    def cell(img, title):
        img = cv2.resize(img, (thumb, thumb), interpolation=cv2.INTER_AREA).copy()
        cv2.putText(img, title, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            img, title, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA
        )
        return img

    picks = np.linspace(0, len(images_a) - 1, rows).round().astype(int)
    targets = np.linspace(0, len(images_b) - 1, rows).round().astype(int)
    grid = np.concatenate([
        np.concatenate([cell(images_a[i], "synthesized"), cell(rendered[i], "rendered"),
                        cell(images_b[j], "target")], axis=1)
        for i, j in zip(picks, targets)
    ])  # fmt: skip
    atomic_write_bytes(path, encode(grid, ".jpg", quality=88))


def _gap_line(name, images_a, images_b, seeds):
    accs = [classifier_accuracy(images_a, images_b, seed) for seed in range(seeds)]
    w2 = colour_w2(images_a, images_b)
    print(
        f"{name}: domain classifier held-out accuracy {100 * np.mean(accs):.1f} % "
        f"(runs {', '.join(f'{100 * a:.1f}' for a in accs)}; 50 % = no gap) | colour W2 per "
        f"channel R {w2[0]:.1f} G {w2[1]:.1f} B {w2[2]:.1f}, mean {w2.mean():.1f}",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--size", type=int, default=800, help="throughput input side (px)")
    parser.add_argument(
        "--batch", type=int, default=0, help="throughput batch (0: 1 on CPU, 8 on CUDA)"
    )
    parser.add_argument(
        "--iters", type=int, default=0, help="timed batches (0: 2 on CPU, 20 on CUDA)"
    )
    parser.add_argument("--checkpoint", default=None, help="a train-render model_final.pth")
    parser.add_argument(
        "--domain-a", default=None, help="synthesized set json (rendered for the gap)"
    )
    parser.add_argument("--domain-a-images", default=None)
    parser.add_argument(
        "--domain-b", default=None, help="target images: folder, json or dataset name"
    )
    parser.add_argument(
        "--max-images",
        type=int,
        default=200,
        help="target images for the gap (the same number of synthesized ones)",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="classifier runs (splits) per measurement"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="decoding processes and writer threads of render"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--preview",
        default=None,
        help="also write a JPEG: rows of synthesized | rendered | a target image",
    )
    args = parser.parse_args(argv)
    import dpsnet_d2  # noqa: F401  (registers the datasets --domain-b may name)

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print(f"error: --device {args.device}, but no CUDA device is available", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = (
        torch.cuda.get_device_name(args.device)
        if cuda
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    batch, iters = args.batch or (8 if cuda else 1), args.iters or (20 if cuda else 2)
    trained = load_renderer(args.checkpoint)[0] if args.checkpoint else None
    if not args.skip_throughput:
        nets = [
            (
                "published generator (9 blocks, 64 ch)",
                ResnetGenerator(num_blocks=9, base_channels=64),
            )
        ]
        if trained is not None:
            nets.append(
                (
                    f"trained generator ({trained.num_blocks} blocks, {trained.base_channels} ch)",
                    trained,
                )
            )
        for name, net in nets:
            for fp16 in (False, True) if cuda else (False,):
                ips, cpu = throughput(
                    net,
                    args.device,
                    args.size,
                    batch,
                    iters,
                    warmup=1 if not cuda else 3,
                    fp16=fp16,
                )
                print(
                    f"throughput {name} at {args.size} px, batch {batch}{', fp16' if fp16 else ''}:"
                    f" {ips:.3g} images/s = {1 / ips:.3g} s/image wall, {cpu:.3g} CPU s/image"
                    f" ({machine})",
                    flush=True,
                )
    if args.checkpoint and args.domain_a and args.domain_b:
        paths_b = list_domain_images(args.domain_b)[: args.max_images]
        images_b = [read_rgb(p) for p in paths_b]
        root = args.domain_a_images or default_image_root(args.domain_a)
        with tempfile.TemporaryDirectory() as tmp:
            # as many A images as B images: chance level of the classifier stays 50 %
            subset, keep = _subset_json(args.domain_a, len(images_b), tmp)
            result = render_offline_set(
                args.checkpoint,
                subset,
                os.path.join(tmp, "out"),
                image_root=root,
                num_workers=args.workers,
                device=args.device,
                progress=False,
            )
            images_a = [read_rgb(os.path.join(root, r["file_name"])) for r in keep]
            rendered = [
                read_rgb(os.path.join(result["image_folder"], r["file_name"])) for r in keep
            ]
        h, w = images_a[0].shape[:2]
        print(
            f"render_offline_set: {result['images']} images of {w} x {h} px in"
            f" {result['seconds']:.1f} s = {result['images_per_second']:.2f} images/s,"
            f" decode + translate + encode ({machine})",
            flush=True,
        )
        if args.preview:
            _write_preview(args.preview, images_a, rendered, images_b)
        print(
            f"domain A: {len(images_a)} images ({args.domain_a}); "
            f"domain B: {len(images_b)} images ({args.domain_b})"
        )
        _gap_line("before render (A vs B)", images_a, images_b, args.seeds)
        _gap_line("after render (rendered A vs B)", rendered, images_b, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
