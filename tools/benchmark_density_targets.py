#!/usr/bin/env python
"""
Speed of the ground-truth density maps (dpsnet_d2.data.DensityTargetGenerator), per image, for
a few object counts and channel counts, against a reference that adds one object at a time.

    python tools/benchmark_density_targets.py                    # 800 x 800 input, stride 8
    python tools/benchmark_density_targets.py --size 1333 --objects 20 200

Prints a markdown table of median milliseconds per image (--iters calls after one warm-up).
"""
import argparse

import torch

from dpsnet_d2.data import DensityTargetGenerator
from dpsnet_d2.data.density_targets import SIGMA_PER_HALF_SIDE, gaussian_profiles
from dpsnet_d2.utils import median_time


def per_object_reference(generator, boxes, classes, image_size):
    """The same map built one object at a time (an outer product per object): C x h x w."""
    h, w = generator.map_size(image_size)
    density = torch.zeros(generator.num_channels, h, w, dtype=torch.float64)
    for box, cls in zip(boxes.double() / generator.stride, classes):
        side = float((box[2:] - box[:2]).min())
        sigma = torch.tensor([max(generator.sigma_min, side / 2 * SIGMA_PER_HALF_SIDE)])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        py = gaussian_profiles(cy.reshape(1), sigma, h)[0]
        px = gaussian_profiles(cx.reshape(1), sigma, w)[0]
        density[generator.class_to_channel[cls]] += py[:, None] * px[None, :]
    return density.float()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=800, help="square input side in pixels")
    parser.add_argument("--objects", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 17, 200])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    size = (args.size, args.size)
    print(f"input {args.size}x{args.size} px, stride 8, {args.threads} thread(s), "
          f"median of {args.iters} calls")
    print("\n| objects | channels | vectorised (ms) | per-object loop (ms) | max abs difference |")
    print("|---|---|---|---|---|")
    for num_objects in args.objects:
        xy = torch.rand(num_objects, 2, generator=gen) * args.size * 0.8
        wh = (torch.rand(num_objects, 2, generator=gen) * 0.2 + 0.05) * args.size
        boxes = torch.cat([xy, xy + wh], dim=1).clamp(max=args.size)
        for channels in args.channels:
            classes = torch.randint(0, channels, (num_objects,), generator=gen)
            generator = DensityTargetGenerator(
                num_channels=channels, class_to_channel=list(range(channels))
            )
            fast = 1000 * median_time(
                lambda: generator(boxes, classes, size), args.iters, warmup=1
            )
            slow = 1000 * median_time(
                lambda: per_object_reference(generator, boxes, classes, size), args.iters, warmup=1
            )
            diff = (generator(boxes, classes, size)
                    - per_object_reference(generator, boxes, classes, size)).abs().max().item()
            print(f"| {num_objects} | {channels} | {fast:.2f} | {slow:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
