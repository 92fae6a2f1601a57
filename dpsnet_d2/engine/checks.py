"""
Checks of everything a training or evaluation run will read or write, in seconds, before the
model is built: the launch arguments, the device, the weights, the output folder and every
dataset of ``DATASETS.TRAIN`` and ``DATASETS.TEST`` (loaded and checked, classes against
``MODEL.ROI_HEADS.NUM_CLASSES``, image files present). Each failure is a
:class:`~dpsnet_d2.utils.cli.UserError` naming the config key, the file and the record.

    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    check_launch(cfg, num_gpus=args.num_gpus, num_machines=..., machine_rank=...)
    check_run_inputs(cfg, resume=args.resume, eval_only=args.eval_only)
"""
import logging
import os
import time
import zipfile

import torch
from detectron2.data import DatasetCatalog, MetadataCatalog

from ..augment.cutouts.store import INDEX_FILE, PIXELS_FILE, CutoutStore
from ..augment.synthesis.loader import SYNTH_SCENES
from ..augment.synthesis.scene_synthesis import list_background_images
from ..utils.cli import FileFormatError, UserError, check_input_file, check_output_dir, read_json
from ..utils.image_checks import image_problem
from ..utils.paths import finished_marker
from .checkpoint_checks import check_checkpoint_file

__all__ = [
    "check_cutout_store", "check_datasets", "check_image_files", "check_launch",
    "check_run_inputs", "check_store_integrity", "check_weights", "last_checkpoint",
]

logger = logging.getLogger(__name__)

# Exceptions a dataset loader raises on a bad file (Detectron2's COCO loader: json, KeyError,
# AssertionError ...); the RPC loader raises UserErrors.
_LOADER_ERRORS = (OSError, ValueError, KeyError, TypeError, AssertionError, IndexError)


def check_launch(cfg, *, num_gpus=1, num_machines=1, machine_rank=0):
    """The process layout (``tools/train_net.py --num-gpus ...``) and ``MODEL.DEVICE`` fit."""
    if num_gpus < 1:
        raise UserError(f"--num-gpus must be >= 1, got {num_gpus}")
    if num_machines < 1:
        raise UserError(f"--num-machines must be >= 1, got {num_machines}")
    if not 0 <= machine_rank < num_machines:
        raise UserError(f"--machine-rank must lie in 0..{num_machines - 1}, got {machine_rank}")
    device = str(cfg.MODEL.DEVICE)
    if device.startswith("cuda"):
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if found == 0:
            raise UserError(f"MODEL.DEVICE is {device!r} but no CUDA GPU is available "
                            "(train on CPU with MODEL.DEVICE cpu)")
        if num_gpus > found:
            raise UserError(f"--num-gpus {num_gpus}: only {found} CUDA GPU(s) are visible")
    elif num_gpus > 1:
        raise UserError(f"--num-gpus {num_gpus} needs MODEL.DEVICE cuda, got {device!r}")
    world = num_gpus * num_machines
    if cfg.SOLVER.IMS_PER_BATCH < world or cfg.SOLVER.IMS_PER_BATCH % world:
        raise UserError(f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} must be a positive "
                        f"multiple of the number of processes ({world})")


def check_weights(path, what="MODEL.WEIGHTS"):
    """
    ``path`` is "" (no weights), a URL (``detectron2://``, ``https://``: fetched when loaded), or
    a readable PyTorch checkpoint (a complete zip archive) or pickle file.
    """
    if not path or "://" in path:
        return
    check_input_file(path, what)
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path):  # reads the central directory at the end of the file
                return
        except (zipfile.BadZipFile, OSError) as e:
            raise UserError(f"{what} {path}: a damaged checkpoint ({e})") from e
    if head[:1] != b"\x80":  # pickle protocol 2+ (Detectron2's .pkl, legacy torch.save)
        raise UserError(f"{what} {path}: not a PyTorch checkpoint or pickle file")


def last_checkpoint(output_dir):
    """
    The file named by ``OUTPUT_DIR/last_checkpoint`` (what ``--resume`` loads), or None when
    there is no tag; a tag naming a missing file is a :class:`UserError`.
    """
    tag = os.path.join(output_dir, "last_checkpoint")
    if not os.path.isfile(tag):
        return None
    with open(tag) as f:
        name = f.read().strip()
    path = os.path.join(output_dir, name)
    if not name or not os.path.isfile(path):
        raise UserError(f"{tag} names {name!r}, which does not exist: remove the tag to start "
                        "again, or restore the checkpoint")
    return path


def check_image_files(records, source):
    """
    Every image of ``records`` (dataset dicts: ``file_name``, optional ``height`` / ``width``)
    passes :func:`~dpsnet_d2.utils.image_checks.image_problem`; else a UserError naming
    ``source``, the first bad file and its ``image_id``, and how many are bad.
    """
    bad = []
    for d in records:
        problem = image_problem(d["file_name"], d.get("height"), d.get("width"))
        if problem is not None:
            bad.append((d, problem))
    if bad:
        d, problem = bad[0]
        raise UserError(f"{source}: image file {d['file_name']} (image_id {d.get('image_id')}) "
                        f"{problem} ({len(bad)} of {len(records)} images bad)")


def check_datasets(names, *, key, num_classes=None, need_boxes=False, check_files=True):
    """
    Load each registered dataset of ``names`` and check it: not empty; with ``num_classes``, its
    ``thing_classes`` and every annotation's category fit ``num_classes``; with ``need_boxes``, at
    least one box; with ``check_files``, every image file passes :func:`check_image_files`
    (exists, not empty, a readable header of the stated size, not truncated). ``key`` names the
    config key ("DATASETS.TRAIN") in errors.

    Returns:
        dict: name -> number of images.
    """
    sizes = {}
    for name in names:
        if name not in DatasetCatalog.list():
            root = os.getenv("DETECTRON2_DATASETS", "datasets")
            raise UserError(f"{key}: dataset {name!r} is not registered (datasets are found "
                            f"under DETECTRON2_DATASETS={root})")
        meta = MetadataCatalog.get(name)
        json_file = meta.get("json_file", None)
        source = f"{key}: dataset {name!r}" + (f" ({json_file})" if json_file else "")
        try:
            dicts = DatasetCatalog.get(name)
        except UserError:
            raise
        except _LOADER_ERRORS as e:
            raise UserError(f"{source}: cannot be loaded ({type(e).__name__}: {e})") from e
        if not dicts:
            raise UserError(f"{source}: has no images")
        if need_boxes and not any(d.get("annotations") for d in dicts):
            raise UserError(f"{source}: has no boxes to train on")
        if num_classes is not None:
            _check_classes(dicts, meta, num_classes, source)
        if check_files:
            check_image_files(dicts, source)
        sizes[name] = len(dicts)
    return sizes


def _check_classes(dicts, meta, num_classes, source):
    classes = meta.get("thing_classes", None)
    if classes is not None and len(classes) != num_classes:
        raise UserError(f"MODEL.ROI_HEADS.NUM_CLASSES is {num_classes} but {source} has "
                        f"{len(classes)} categories")
    for d in dicts:
        for a in d.get("annotations", ()):
            if not 0 <= a["category_id"] < num_classes:
                raise UserError(f"{source}: image_id {d.get('image_id')} has a box of class "
                                f"{a['category_id']}, outside MODEL.ROI_HEADS.NUM_CLASSES "
                                f"{num_classes}")


def check_store_integrity(folder, what="cut-out store"):
    """
    A cut-out store is whole (see :mod:`dpsnet_d2.augment.cutouts.store`): ``index.json``
    parses, its version is one this reader knows, and every record has a ``shape`` and an
    ``offset`` whose bytes (``nbytes`` of an encoded image; h x w x 4 raw bytes in a first-format
    or "raw" store) lie inside ``pixels.bin``; a kept record has pixels. Errors name ``what``,
    the store's file and the record. Returns the opened :class:`CutoutStore`.
    """
    index, pixels = os.path.join(folder, INDEX_FILE), os.path.join(folder, PIXELS_FILE)
    for path in (index, pixels):
        if not os.path.isfile(path):
            raise UserError(f"{what} {folder}: not a cut-out store (no {os.path.basename(path)}; "
                            "tools/prepare_rpc.py prune writes one)")
    try:
        store = CutoutStore(folder)  # the version first: an unknown one is one clear line
        _check_store_records(index, pixels, store.version, store.encoding)
        return store
    except FileFormatError as e:
        raise UserError(f"{what}: {e}") from e
    except (OSError, ValueError) as e:
        raise UserError(f"{what} {folder}: {e}") from e


def _check_store_records(index, pixels, version, encoding):
    """Every record of the store's ``index`` has its bytes in ``pixels``; FileFormatError."""
    data = read_json(index, object_only=True)
    items, classes = data.get("items"), data.get("thing_classes")
    if not isinstance(items, list) or not isinstance(classes, list):
        raise FileFormatError(index, "file", "not a cut-out index (no 'items' / 'thing_classes')")
    size = os.path.getsize(pixels)
    for i, r in enumerate(items):
        try:
            h, w = (int(v) for v in r["shape"])
            start, sku = int(r["offset"]), int(r["sku"])
            nbytes = h * w * 4 if version == 1 else int(r["nbytes"])
            kept = bool(r["kept"])
        except (KeyError, TypeError, ValueError) as e:
            raise FileFormatError(index, f"items[{i}]", f"not a cut-out record ({e!r})") from e
        if h < 1 or w < 1 or start < 0 or nbytes < 0 or not 0 <= sku < len(classes):
            raise FileFormatError(index, f"items[{i}]", f"bad shape {r['shape']}, offset "
                                  f"{start}, nbytes {nbytes} or sku {sku}")
        if kept and not nbytes:
            raise FileFormatError(index, f"items[{i}]", "a kept cut-out without pixels")
        if encoding == "raw" and nbytes and nbytes != h * w * 4:
            raise FileFormatError(index, f"items[{i}]", f"{nbytes} raw bytes for a {h} x {w} "
                                  "RGBA cut-out")
        if start + nbytes > size:
            raise FileFormatError(pixels, f"items[{i}] ({r.get('file_name')})",
                                  f"bytes {start}..{start + nbytes} lie past the file's end "
                                  f"({size} bytes): the store is truncated")


def check_cutout_store(folder, num_classes):
    """
    The cut-out store that ``synth_scenes`` in DATASETS.TRAIN composes scenes from: it is whole
    (:func:`check_store_integrity`), has NUM_CLASSES classes and kept cut-outs
    (INPUT.SYNTHESIS.CUTOUT_STORE names it).
    """
    what = "INPUT.SYNTHESIS.CUTOUT_STORE"
    if not folder:
        raise UserError(f"DATASETS.TRAIN has {SYNTH_SCENES!r} but {what} is empty: give the "
                        "folder tools/prepare_rpc.py prune wrote")
    store = check_store_integrity(folder, what)
    if len(store.thing_classes) != num_classes:
        raise UserError(f"{what} {folder}: {len(store.thing_classes)} classes, "
                        f"MODEL.ROI_HEADS.NUM_CLASSES is {num_classes}")
    if not len(store.kept()):
        raise UserError(f"{what} {folder}: no cut-out is kept by pose pruning")


def check_background_dir(folder):
    """
    INPUT.SYNTHESIS.BACKGROUND_DIR, when set, is a folder holding images of the empty counter
    (the embedded set writes them to ``synthetic_rpc/counters/`` since its format 2).
    """
    what = "INPUT.SYNTHESIS.BACKGROUND_DIR"
    if not folder:
        return
    if not os.path.isdir(folder):
        raise UserError(
            f"{what} {folder}: no such folder (photos of the empty counter; the embedded set "
            "writes them to synthetic_rpc/counters/ since format 2: regenerate it with "
            "tools/make_synthetic_rpc.py --overwrite, or set it to \"\" for plain counters)")
    try:
        list_background_images(folder)
    except ValueError as e:
        raise UserError(f"{what}: {e}") from e


def check_run_inputs(cfg, *, resume=False, eval_only=False):
    """
    Check what a run of ``cfg`` reads and writes (see the module doc): ``OUTPUT_DIR`` writable;
    the weights it will load (the last checkpoint with ``resume`` when there is one, else
    ``MODEL.WEIGHTS``; evaluation needs one of them), which parse, hold finite values and fit
    NUM_CLASSES (an error for the last checkpoint and for evaluation; for initialisation from
    ``MODEL.WEIGHTS`` the class-dependent tensors are listed and skipped); ``DATASETS.TRAIN``
    (unless ``eval_only``) and ``DATASETS.TEST``. A new training into an ``OUTPUT_DIR`` holding
    checkpoints goes on as Detectron2's does, with a warning.
    """
    start = time.perf_counter()
    check_output_dir(cfg.OUTPUT_DIR, "OUTPUT_DIR")
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    last = last_checkpoint(cfg.OUTPUT_DIR) if resume else None
    if last is not None:
        what = f"the last checkpoint of OUTPUT_DIR ({cfg.OUTPUT_DIR}/last_checkpoint)"
        check_weights(last, what)
        check_checkpoint_file(last, what, num_classes, strict=True)
    else:
        check_weights(cfg.MODEL.WEIGHTS)
        if eval_only and not cfg.MODEL.WEIGHTS:
            raise UserError("--eval-only needs trained weights: give MODEL.WEIGHTS path/to.pth")
        check_checkpoint_file(cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS", num_classes, strict=eval_only)
        earlier = finished_marker(cfg.OUTPUT_DIR, ("last_checkpoint", "model_final.pth"))
        if earlier is not None and not eval_only:
            logger.warning(f"OUTPUT_DIR {cfg.OUTPUT_DIR} already holds a run ({earlier}): its "
                           "checkpoints will be overwritten (--resume continues it instead)")
    if not eval_only:
        if not cfg.DATASETS.TRAIN:
            raise UserError("DATASETS.TRAIN is empty: name the datasets to train on")
        ordinary = [n for n in cfg.DATASETS.TRAIN if n != SYNTH_SCENES]
        if len(ordinary) < len(cfg.DATASETS.TRAIN):
            check_cutout_store(cfg.INPUT.SYNTHESIS.CUTOUT_STORE, num_classes)
            check_background_dir(cfg.INPUT.SYNTHESIS.BACKGROUND_DIR)
        check_datasets(ordinary, key="DATASETS.TRAIN", num_classes=num_classes, need_boxes=True)
    check_datasets(cfg.DATASETS.TEST, key="DATASETS.TEST", num_classes=num_classes)
    logger.info(f"Checked the run's inputs in {time.perf_counter() - start:.1f} s")
