#!/usr/bin/env python
"""
The till: photos of the checkout counter in, receipts out.

    python tools/checkout.py --config-file CFG --weights model_final.pth --input IMG_OR_DIR \
        --output DIR [--threshold 0.5] [--bf16] [--layout channels_last] [KEY VALUE ...]

Per image, DIR gets ``<file name>.receipt.jpg`` (the detections with SKU names | the density map
overlaid | the shopping list), ``<file name>.json`` (the shopping list: SKU -> count, the counting
view's count, ``needs_look``) and ``<file name>.txt`` (``a.jpg`` -> ``a.jpg.json``: ``a.png``
beside it keeps its own receipt); ``receipts.json`` lists them all. An image whose detection
count and density count disagree (the distillation's consistency check) is flagged "needs a
look", with the channels where the views disagree. SKU names come from the checkpoint (the
trainer saves the training set's class names into it), so no dataset needs to be registered;
for older checkpoints from the config's datasets' metadata. --threshold defaults to
TEST.RPC_SCORE_THRESH. On a CPU the weights run in the channels-last layout (``--layout``: the
same outputs, about 1.2x faster in float32 and 2.3x in bf16 on a 2-core Xeon with AMX);
``--bf16`` runs the model under bfloat16 autocast where the CPU has bf16 units (0.62 s per
1815 px photo for the R-50 at 800 px; its accuracy cost on the embedded set's R-18 was under a
point of mCIoU and mAP50: BENCHMARKS.md, "Till options").

Bad input: the options, the config and the weights (readable, finite, of NUM_CLASSES classes)
are checked before the model is built. An image that cannot be read, or whose outputs are not
finite, gets no receipt: the till goes on with the others, ``receipts.json`` lists it with its
``error``, and the tool ends with one error line and exit status 1.
"""
import argparse
import os
import sys

import cv2
import tqdm

from detectron2.data.catalog import Metadata
from detectron2.data.transforms import ResizeShortestEdge
from detectron2.engine import DefaultPredictor

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine.checkpoint_checks import check_checkpoint_file
from dpsnet_d2.engine.checks import check_weights
from dpsnet_d2.engine import DPSNetCheckpointer, dataset_thing_classes
from dpsnet_d2.engine.checkpointer import THING_CLASSES_KEY
from dpsnet_d2.engine.cpu_autocast import LAYOUTS, inference_autocast, till_layout
from dpsnet_d2.modeling.density import density_channel_map
from dpsnet_d2.receipt import draw_receipt, make_receipt, write_receipt, write_receipt_index
from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_input_file,
    check_output_dir,
    run_cli,
)
from dpsnet_d2.utils.image_checks import image_problem

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def list_images(path):
    """An image file, or the images of a folder (sorted); UserError when there are none."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise UserError(f"--input {path}: no such file or folder")
    images = sorted(
        os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES)
    )
    if not images:
        raise UserError(f"--input {path}: no {'/'.join(IMAGE_SUFFIXES)} images in the folder")
    return images


def till_class_names(cfg, saved_names):
    """
    The SKU names: the checkpoint's (saved by the trainer), else the ``thing_classes`` of the
    config's datasets, else ``class_0`` ... (each only when it has one name per class).
    """
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if saved_names is not None and len(saved_names) == num_classes:
        return list(saved_names)
    return dataset_thing_classes(cfg) or [f"class_{k}" for k in range(num_classes)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", required=True, help="a trained model (.pth)")
    parser.add_argument("--input", required=True, help="an image or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the receipts")
    parser.add_argument("--threshold", type=float, help="default: TEST.RPC_SCORE_THRESH")
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast on the CPU (where it has bf16 units)")
    parser.add_argument("--layout", choices=LAYOUTS, default="channels_last",
                        help="memory layout of the weights (default: %(default)s)")
    add_debug_flag(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)

    cfg = get_dpsnet_cfg(check_input_file(args.config_file, "--config-file"), args.opts)
    cfg.MODEL.WEIGHTS = check_input_file(args.weights, "--weights")
    images = list_images(args.input)
    output = check_output_dir(args.output, "--output")
    threshold = cfg.TEST.RPC_SCORE_THRESH if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"--threshold {threshold}: must lie in [0, 1]")
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    check_weights(cfg.MODEL.WEIGHTS, "--weights")
    check_checkpoint_file(cfg.MODEL.WEIGHTS, "--weights", num_classes, strict=True)
    _, class_to_channel = density_channel_map(cfg)
    cfg.MODEL.WEIGHTS = ""  # loaded below by DPSNetCheckpointer, with the model's class names
    cfg.freeze()

    predictor = DefaultPredictor(cfg)
    saved = DPSNetCheckpointer(predictor.model).load(args.weights)
    till_layout(predictor.model, args.layout)
    autocast = inference_autocast(args.bf16 and str(cfg.MODEL.DEVICE).startswith("cpu"))
    thing_classes = till_class_names(cfg, saved.get(THING_CLASSES_KEY))
    metadata = Metadata(name="checkout").set(thing_classes=thing_classes)
    resize = ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    stride = cfg.MODEL.BIPYRAMID.COUNT_STRIDE
    index, failed = [], []
    for path in tqdm.tqdm(images, desc="receipts", unit="image"):
        problem = image_problem(path)
        image = cv2.imread(path, cv2.IMREAD_COLOR) if problem is None else None
        try:
            if image is None:
                raise ValueError(problem or "not a readable image")
            with autocast:  # DefaultPredictor takes BGR, converts to INPUT.FORMAT
                outputs = predictor(image)
            receipt = make_receipt(
                outputs, thing_classes, threshold=threshold, class_to_channel=class_to_channel
            )
        except ValueError as e:
            print(f"warning: {path}: {e}: skipped", file=sys.stderr)
            failed.append({"image": path, "error": str(e)})
            continue
        height, width = image.shape[:2]
        input_size = ResizeShortestEdge.get_output_shape(
            height, width, resize.short_edge_length[0], resize.max_size
        )
        picture = draw_receipt(
            image[:, :, ::-1], outputs, metadata, receipt, stride=stride, input_size=input_size
        )
        index.append(write_receipt(output, path, picture, receipt))
    write_receipt_index(output, index + failed)
    flagged = sum(r["needs_look"] for r in index)
    print(f"{len(index)} receipts in {output} ({flagged} flagged 'needs a look')")
    if failed:
        raise UserError(f"{len(failed)} of {len(images)} images got no receipt (first: "
                        f"{failed[0]['image']}: {failed[0]['error']}); receipts.json lists them")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
