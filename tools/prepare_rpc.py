#!/usr/bin/env python
"""
Prepare DPSNet's source-side training data (the paper's augmentation steps), one sub-command
per step:

    python tools/prepare_rpc.py masks synth_rpc_train [--out DIR] [--workers 2] [--device cuda]
    python tools/prepare_rpc.py prune synth_rpc_train [--out DIR] [--theta 0.45] [--preview P]

    python tools/prepare_rpc.py synthesize --store CUTOUT_STORE --categories TRAIN_JSON \\
        --num 1000 --out datasets/synth_scenes [--workers 2 --seed 0]
    # embedded synthetic RPC only: build the store from its TRUE masks first (--num 0: only that)
    python tools/prepare_rpc.py synthesize --store output/synthetic/cutouts \\
        --true-masks datasets/synthetic_rpc --num 100 --out output/synthetic/scenes

    python tools/prepare_rpc.py train-render --domain-a SYNTH_SET_JSON_OR_FOLDER \\
        --domain-b synth_rpc_test --out output/render [--device cuda] [--resume]
    python tools/prepare_rpc.py render --checkpoint output/render/model_final.pth \\
        --input SYNTH_SET_JSON --out datasets/render_set

Every sub-command also takes ``--config-file`` and trailing ``KEY VALUE`` overrides (as
tools/train_net.py); its setting flags are shortcuts of config keys (``CUTOUTS.*``,
``INPUT.SYNTHESIS.*``, ``RENDER.*``; a flag given wins), the table of
:mod:`dpsnet_d2.augment.prepare_options`. ``synthesize`` reads the store, canvas and scale range
from ``INPUT.SYNTHESIS``; ``masks`` / ``prune`` without ``--out`` write the store where a set
``INPUT.SYNTHESIS.CUTOUT_STORE`` names it:

    python tools/prepare_rpc.py masks rpc_2019_train --config-file configs/RPC/dpsnet_R_50_FPN.yaml
    python tools/prepare_rpc.py synthesize --config-file configs/RPC/dpsnet_R_50_FPN.yaml \\
        --categories RPC_TRAIN_JSON --num 1000 --out datasets/rpc_scenes INPUT.SYNTHESIS.SEED 1

Each sub-command is a block ``add_<name>_parser`` + ``run_<name>``, registered in
``SUBCOMMANDS``; the logic lives in the dpsnet_d2 package, the tool parses, checks and calls.
Bad input stops with one line naming the file and a non-zero exit, before any long work
(:func:`dpsnet_d2.utils.cli.run_cli`): numeric options out of range, a cut-out store that is not
whole, images that are missing, empty, not images or truncated, file names leaving their folder.
Finished outputs of other settings (masks, store, scene set, render model, rendered set) are
replaced only with ``--overwrite`` (``train-render --resume`` continues its run).
"""
import argparse
import json
import logging
import os
import sys

from detectron2.utils.logger import setup_logger

from dpsnet_d2.augment.prepare_options import (
    add_config_arguments,
    config_from_args,
    config_overrides,
    cutouts_output,
    device_type,
)
from dpsnet_d2.utils.cli import (
    UserError,
    add_debug_flag,
    check_output_dir,
    check_output_file,
    error_line,
    float_in,
    int_at_least,
    run_cli,
)


# ------------------------------------------------------------------------------------------- #
# masks / prune: background removal (coarse -> saliency), pose pruning, the cut-out store
# ------------------------------------------------------------------------------------------- #
def _train_set(dataset):
    """(json_file, image_root) of a registered dataset name (e.g. synth_rpc_train) or of the
    train split of a folder in RPC layout."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from dpsnet_d2.data.datasets.rpc_format import image_folder, json_name

    if os.path.isdir(dataset):
        return (os.path.join(dataset, json_name("train")),
                os.path.join(dataset, image_folder("train")))  # fmt: skip
    if dataset in DatasetCatalog.list():
        meta = MetadataCatalog.get(dataset)
        if meta.get("json_file") and meta.get("image_root"):
            return meta.json_file, meta.image_root
    raise UserError(f"{dataset!r} is neither a registered RPC-format dataset nor a folder "
                    "(set DETECTRON2_DATASETS, or give the dataset's folder)")  # fmt: skip


def _add_cutout_args(p, command):
    p.add_argument("dataset", help="registered name (rpc_2019_train, synth_rpc_train) or a "
                   "folder in RPC layout (its train split is used)")  # fmt: skip
    p.add_argument("--out", help="output folder (default: the folder of the config's "
                   "INPUT.SYNTHESIS.CUTOUT_STORE when set, else the dataset's, beside its JSON)")
    p.add_argument("--workers", type=int_at_least(1), default=min(os.cpu_count() or 1, 8),
                   help="processes for image work (default: %(default)s)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs made from other inputs or settings")
    add_config_arguments(p, command)


def _cutouts_inputs(args, command):
    """(config, json_file, image_root, out folder) of a masks / prune command line."""
    cfg = config_from_args(args, command)
    json_file, image_root = _train_set(args.dataset)
    out = check_output_dir(cutouts_output(cfg, args.out, json_file), "--out")
    return cfg, json_file, image_root, out


def add_masks_parser(subparsers):
    p = subparsers.add_parser("masks", help="product masks: coarse, saliency network, final RLE")
    _add_cutout_args(p, "masks")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int_at_least(1), default=1,
                   help="torch threads of the network on CPU (default: %(default)s)")  # fmt: skip


def run_masks(args):
    from dpsnet_d2.augment.cutouts.prepare_masks import MaskSettings, run_masks as run

    cfg, json_file, image_root, out = _cutouts_inputs(args, "masks")
    settings = MaskSettings.from_config(cfg, device=args.device, threads=args.threads)
    print(json.dumps(run(json_file, image_root, out, settings, workers=args.workers,
                         overwrite=args.overwrite)))


def add_prune_parser(subparsers):
    p = subparsers.add_parser("prune", help="pose pruning and the cut-out store (after masks)")
    _add_cutout_args(p, "prune")
    p.add_argument("--max-scale", type=float_in(0.0, 1.0, low_open=True), default=None,
                   help="store cut-outs at this fraction of their size (default: with "
                   "--config-file the largest scale its synthesis uses, SCALE_RANGE[1] x "
                   "max(CANVAS_SIZE, MIN_SIZE_TRAIN) / REFERENCE_SIZE, 0.31 for configs/RPC; "
                   "without, 1: full size)")
    p.add_argument("--preview", metavar="PATH",
                   help="also save a picture (.jpg/.png): image, coarse and refined masks, "
                   "cut-out")  # fmt: skip


def run_prune(args):
    from dpsnet_d2.augment.cutouts.prepare_cutouts import run_prune as run
    from dpsnet_d2.augment.cutouts.prepare_masks import masks_file
    from dpsnet_d2.augment.cutouts.store import cutout_scale_cap

    cfg, json_file, image_root, out = _cutouts_inputs(args, "prune")
    if args.preview:
        check_output_file(args.preview, "--preview", (".jpg", ".jpeg", ".png"))
    masks = masks_file(json_file, out)
    if not os.path.isfile(masks):
        raise UserError(f"{masks} does not exist: run `prepare_rpc.py masks` first")
    max_scale = args.max_scale
    if max_scale is None:
        max_scale = min(1.0, cutout_scale_cap(cfg)) if args.config_file else 1.0
    print(json.dumps(run(masks, image_root, out, theta=cfg.CUTOUTS.POSE_THETA,
                         max_scale=max_scale, encoding=cfg.CUTOUTS.ENCODING, workers=args.workers,
                         overwrite=args.overwrite)))  # fmt: skip
    if args.preview:
        from dpsnet_d2.augment.cutouts.preview import make_cutouts_preview

        print(f"preview: {make_cutouts_preview(out, image_root, args.preview)}")


# ------------------------------------------------------------------------------------------- #
# synthesize: an offline set of synthesized checkout scenes (RPC / COCO format)
# ------------------------------------------------------------------------------------------- #
def add_synthesize_parser(subparsers):
    p = subparsers.add_parser(
        "synthesize",
        help="write N synthesized checkout scenes (images + RPC json, RLE masks, levels)",
        description="Compose N checkout scenes from a cut-out store into OUT/train2019/ and "
        "OUT/instances_train2019.json (visible boxes, RLE masks, levels). Resumable: run it "
        "again to finish an interrupted set; scene i depends only on the seed and i.",
    )
    p.add_argument("--true-masks", metavar="EMBEDDED_ROOT", default="",
                   help="embedded synthetic RPC only: build --store from this set's TRUE masks "
                   "(train2019_masks/) when it does not exist yet")
    p.add_argument("--categories", default="",
                   help="RPC json whose categories the set uses (default with --true-masks: its "
                   "instances_train2019.json)")
    p.add_argument("--num", type=int_at_least(0), required=True,
                   help="number of scenes (0 with --true-masks: only build the store)")
    p.add_argument("--out", default="", help="output folder (needed when --num > 0)")
    p.add_argument("--overwrite", action="store_true", help="replace a complete set at --out")
    p.add_argument("--workers", type=int_at_least(1), default=1, help="processes")
    p.add_argument("--quality", type=int_at_least(1), default=90, help="JPEG quality (1-100)")
    add_config_arguments(p, "synthesize")


def _check_synthesize_out(args, store, what):
    """The store is whole, --out a folder; a complete set there is replaced only with
    --overwrite."""
    import shutil

    from dpsnet_d2.augment.synthesis.export import SPLIT
    from dpsnet_d2.data.datasets.rpc_format import image_folder, json_name
    from dpsnet_d2.engine.checks import check_store_integrity

    check_store_integrity(store, what)
    out = check_output_dir(args.out, "--out")
    if os.path.isfile(os.path.join(out, json_name(SPLIT))):
        if not args.overwrite:
            raise UserError(f"--out {out} holds a complete set ({json_name(SPLIT)}): pass "
                            "--overwrite to replace it")
        os.remove(os.path.join(out, json_name(SPLIT)))
        for name in (image_folder(SPLIT), "parts"):
            shutil.rmtree(os.path.join(out, name), ignore_errors=True)


def run_synthesize(args):
    from dpsnet_d2.augment import build_true_mask_store
    from dpsnet_d2.augment.synthesis.export import export_synthesized_set
    from dpsnet_d2.augment.synthesis.mapper import synthesis_seed, synthesizer_settings
    from dpsnet_d2.data.datasets.rpc_format import json_name

    cfg = config_from_args(args, "synthesize")
    store, categories = cfg.INPUT.SYNTHESIS.CUTOUT_STORE, args.categories
    what = "--store" if args.cfg_store else "INPUT.SYNTHESIS.CUTOUT_STORE"
    if not store:
        raise UserError("--store (or INPUT.SYNTHESIS.CUTOUT_STORE of --config-file) is needed")
    if args.out:  # before the store is built from true masks
        check_output_dir(args.out, "--out")
    if args.true_masks:
        categories = categories or os.path.join(args.true_masks, json_name("train"))
        if not os.path.isdir(store):
            n = build_true_mask_store(args.true_masks, store)
            logging.getLogger("dpsnet_d2.prepare_rpc").info(
                f"built {store}: {n} cut-outs (true masks)")
    if args.num == 0 and args.true_masks:
        print(json.dumps({"store": store, "scenes": 0}))
        return
    if not args.out:
        raise ValueError("--out is needed to write scenes")
    if not categories:
        raise ValueError("--categories is needed (an RPC json holding the store's categories)")
    for path, name in ((store, what), (categories, "--categories")):
        if not os.path.exists(path):
            raise ValueError(f"{name} {path}: does not exist")
    if args.quality > 100:
        raise UserError(f"--quality {args.quality}: must lie in 1..100")
    _check_synthesize_out(args, store, what)
    result = export_synthesized_set(
        store, args.out, args.num, categories_json=categories, seed=synthesis_seed(cfg),
        workers=args.workers, quality=args.quality, synthesizer_kwargs=synthesizer_settings(cfg),
    )  # fmt: skip
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------- #
# train-render / render: the CycleGAN that renders synthesized scenes in the target style
# ------------------------------------------------------------------------------------------- #
def add_train_render_parser(subparsers):
    p = subparsers.add_parser(
        "train-render",
        help="train the CycleGAN from synthesized scenes (A) to target images (B)",
        description="Train the render CycleGAN, unpaired: domain A = an offline synthesized set, "
        "domain B = target images (annotations never read). A domain is a folder of images, an "
        "RPC/COCO json (images from --domain-x-images or the RPC layout) or a registered "
        "dataset name (e.g. synth_rpc_test, rpc_2019_test).",
    )
    p.add_argument("--domain-a", required=True,
                   help="synthesized scenes: folder, json or dataset name")
    p.add_argument("--domain-a-images", default=None, help="image folder of a json --domain-a")
    p.add_argument("--domain-b", required=True, help="target images: folder, json or dataset name")
    p.add_argument("--domain-b-images", default=None, help="image folder of a json --domain-b")
    p.add_argument("--out", required=True,
                   help="output folder: checkpoints, metrics.json, samples/")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last_checkpoint")
    p.add_argument("--overwrite", action="store_true", help="train again into an OUT holding a run")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu or cuda[:k]")
    p.add_argument("--workers", type=int_at_least(0), default=2,
                   help="data-loader processes per domain")
    p.add_argument("--threads", type=int_at_least(0), default=0,
                   help="torch CPU threads (0: torch's default)")
    add_config_arguments(p, "train-render")


def _checked_images(paths, what):
    """``paths`` when every file passes the cheap image checks; else a UserError naming one."""
    from dpsnet_d2.utils.image_checks import image_problem

    for path in paths:
        problem = image_problem(path)
        if problem is not None:
            raise UserError(f"{what}: image {path} {problem}")
    return paths


def run_train_render(args):
    from dpsnet_d2.augment.render import CycleGANConfig, list_domain_images, train_cyclegan
    from dpsnet_d2.augment.render.train import FINAL_CHECKPOINT, LAST_CHECKPOINT
    from dpsnet_d2.utils.paths import check_run_folder

    cfg = config_from_args(args, "train-render")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    settings = CycleGANConfig.from_config(cfg)
    paths_a = _checked_images(list_domain_images(args.domain_a, args.domain_a_images), "--domain-a")
    paths_b = _checked_images(list_domain_images(args.domain_b, args.domain_b_images), "--domain-b")
    fewest = min(len(paths_a), len(paths_b))
    if settings.batch_size > fewest:
        raise UserError(f"--batch-size {settings.batch_size}: larger than the smaller domain "
                        f"({fewest} images); a step needs that many images of each domain")
    out = check_output_dir(args.out, "--out")
    check_run_folder(out, (FINAL_CHECKPOINT, LAST_CHECKPOINT), resume=args.resume,
                     overwrite=args.overwrite)
    logging.getLogger("dpsnet_d2.prepare_rpc").info(
        f"domain A: {len(paths_a)} images, domain B: {len(paths_b)} images; {settings}"
    )
    final = train_cyclegan(
        settings, paths_a, paths_b, args.out, resume=args.resume, device=args.device,
        num_workers=args.workers, checkpoint_period=cfg.RENDER.CHECKPOINT_PERIOD,
        sample_period=cfg.RENDER.SAMPLE_PERIOD, log_period=cfg.RENDER.LOG_PERIOD,
    )  # fmt: skip
    print(f"render model: {final}")


def add_render_parser(subparsers):
    p = subparsers.add_parser(
        "render",
        help="apply a trained render CycleGAN (A -> B) to an offline synthesized set",
        description="Translate every image of an RPC/COCO set; the json is copied with its "
        "boxes unchanged (images keep their size and names) into OUT.",
    )
    p.add_argument("--checkpoint", required=True, help="train-render's model_final.pth")
    p.add_argument("--input", required=True, help="the synthesized set's json")
    p.add_argument("--input-images", default=None,
                   help="its image folder (default: RPC layout / json folder)")
    p.add_argument("--out", required=True, help="output folder (json + image folder)")
    p.add_argument("--workers", type=int_at_least(0), default=2,
                   help="decoding processes and writer threads")
    p.add_argument("--device", type=device_type, default="cpu", help="cpu or cuda[:k]")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    add_config_arguments(p, "render")


def run_render(args):
    from dpsnet_d2.augment.render import render_offline_set

    apply = config_from_args(args, "render").RENDER.APPLY
    result = render_offline_set(
        args.checkpoint, args.input, args.out, image_root=args.input_images,
        size=apply.SIZE or None, batch_size=apply.BATCH_SIZE, num_workers=args.workers,
        device=args.device, overwrite=args.overwrite,
    )  # fmt: skip
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------- #
SUBCOMMANDS = [
    ("masks", add_masks_parser, run_masks),
    ("prune", add_prune_parser, run_prune),
    ("synthesize", add_synthesize_parser, run_synthesize),
    ("train-render", add_train_render_parser, run_train_render),
    ("render", add_render_parser, run_render),
]


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_debug_flag(parser)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for _name, add_parser, _run in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def parse_args(argv=None):
    """The command line's arguments; its trailing ``KEY VALUE`` words in ``args.opts``."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    args.opts = config_overrides(parser, extras)
    return args


def main(argv=None):
    args = parse_args(argv)
    setup_logger(name="dpsnet_d2")
    import dpsnet_d2  # noqa: F401  (registers the datasets a command may name)

    run = {name: fn for name, _add, fn in SUBCOMMANDS}[args.command]
    try:
        run(args)
    except UserError:
        raise  # run_cli prints it: one line, exit status 1
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"error: {error_line(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
