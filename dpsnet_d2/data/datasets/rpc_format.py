"""
The RPC annotation format (COCO style, Retail Product Checkout 2019): reading a JSON file into
Detectron2 dataset dicts, with every record checked.

An ``instances_*.json`` file holds three lists (docs/method.md §1.1):

* ``images``: ``id, file_name, width, height`` and, on checkout splits, ``level``;
* ``annotations``: ``id, image_id, category_id, bbox [x, y, w, h]`` and optionally ``point_xy``,
  ``iscrowd`` (``area`` and ``segmentation`` are not used);
* ``categories``: ``id, name, supercategory``.

Bad input raises :class:`RPCFormatError` naming the file, the record and the fault. Checks run on
whole columns at once (see rpc_records.py); per-record Python work is only building the output
dicts.
"""
import itertools
import logging
import mmap
import os
import reprlib
import time

import numpy as np
from PIL import Image
from tqdm import tqdm
from detectron2.data import MetadataCatalog
from detectron2.structures import BoxMode

from ...utils.cli import read_json
from .rpc_records import (
    INT,
    STR,
    RPCFormatError,
    Section,
    find_list,
    float_array,
    gc_paused,
)

__all__ = [
    "BOX_TOLERANCE",
    "RPC_LEVELS",
    "RPC_SPLITS",
    "RPC_SUPERCATEGORIES",
    "RPCFormatError",
    "image_folder",
    "json_name",
    "load_rpc_categories",
    "load_rpc_images",
    "load_rpc_json",
    "load_rpc_json_with_metadata",
]

logger = logging.getLogger(__name__)

# The official RPC layout and vocabulary (docs/method.md §1), defined here only: the loader, the
# registration, the synthetic generator and the tools import them.
#
# The splits of a dataset folder: <root>/instances_<split>2019.json and <root>/<split>2019/.
RPC_SPLITS = ("train", "val", "test")
# The 17 super-categories of RPC, in the order used for metadata.
RPC_SUPERCATEGORIES = (
    "alcohol", "candy", "canned_food", "chocolate", "dessert", "dried_food", "dried_fruit",
    "drink", "gum", "instant_drink", "instant_noodles", "milk", "personal_hygiene",
    "puffed_food", "seasoner", "stationery", "tissue",
)  # fmt: skip
# Difficulty levels of checkout images (val/test), easiest first.
RPC_LEVELS = ("easy", "medium", "hard")
# How far (pixels) a box may reach past the image border before it is an error (rounding).
BOX_TOLERANCE = 1.0
# The EXIF tag of the image orientation (values 5-8: the image is stored turned by 90 degrees).
_EXIF_ORIENTATION = 0x0112


def json_name(split):
    """The annotation file of ``split`` in the official layout: ``"instances_val2019.json"`` etc."""
    return f"instances_{split}2019.json"


def image_folder(split):
    """The image folder of ``split`` in the official layout: ``"train2019"`` etc."""
    return f"{split}2019"


def _category_metadata(json_file, data):
    """
    Check the ``categories`` of a parsed file and return the metadata they define
    (docs/method.md §1.3): thing_classes, thing_dataset_id_to_contiguous_id, supercategories,
    thing_class_to_supercategory.
    Contiguous ids follow the RPC ids in increasing order. Super-categories are those present,
    in the order of RPC_SUPERCATEGORIES, then any others sorted by name.
    """
    section = Section(json_file, data, "categories")
    if not len(section):
        section.fail_top("'categories' is empty")
    ids = section.column("id", INT, "an integer")
    section.unique(ids, "id")
    names = section.column("name", STR, "a string")
    section.unique(names, "name")
    supers = section.column("supercategory", STR, "a string")
    order = sorted(range(len(ids)), key=ids.__getitem__)
    present = set(supers)
    known = [s for s in RPC_SUPERCATEGORIES if s in present]
    supercategories = known + sorted(present - set(known))
    super_index = {s: i for i, s in enumerate(supercategories)}
    return {
        "thing_classes": [names[i] for i in order],
        "thing_dataset_id_to_contiguous_id": {ids[i]: k for k, i in enumerate(order)},
        "supercategories": supercategories,
        "thing_class_to_supercategory": [super_index[supers[i]] for i in order],
    }


def load_rpc_categories(json_file):
    """
    Read only the ``categories`` of an RPC file and return their metadata (docs/method.md §1.3:
    thing_classes, thing_dataset_id_to_contiguous_id, supercategories,
    thing_class_to_supercategory).

    The file is memory-mapped and searched for the ``"categories":`` key, and only the list after
    it is parsed, so this takes milliseconds even for a large file. If that list cannot be found or
    parsed, the whole file is read (and any error in it reported).
    """
    try:
        with open(json_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            categories = find_list(m, b'"categories"')
    except (OSError, ValueError):
        categories = None
    if categories is not None:
        data = {"categories": categories}
    else:
        data = read_json(json_file, RPCFormatError, object_only=True)
    return _category_metadata(json_file, data)


def load_rpc_images(json_file, image_root, check_files=False):
    """
    Read only the ``images`` list of an RPC file (memory-mapped, as :func:`load_rpc_categories`):
    the ``annotations`` are never parsed, so code that needs the images of an unlabelled split
    cannot see its labels. Every image record is checked as :func:`load_rpc_json` checks it.

    Returns:
        list[dict]: one per image, in file order, as :func:`load_rpc_json` returns them but
        without ``annotations``.

    Raises:
        RPCFormatError: unreadable file, no ``images`` list, or a bad image record.
    """
    try:
        with open(json_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            images = find_list(m, b'"images"')
    except OSError as e:
        raise RPCFormatError(json_file, "file", f"cannot be read ({e.strerror or e})") from e
    except ValueError as e:  # mmap of an empty file
        raise RPCFormatError(json_file, "file", f"cannot be read ({e})") from e
    if images is None:
        raise RPCFormatError(json_file, "top level", "has no 'images' list")
    records, _ = _load_images(json_file, {"images": images}, image_root, check_files)
    return records


def load_rpc_json(json_file, image_root, dataset_name=None, check_files=False):
    """
    Load an RPC annotation file (COCO style) into Detectron2 dataset dicts, checking every record.

    Args:
        json_file (str): path to ``instances_{train,val,test}2019.json`` (or a file of that form).
        image_root (str): the folder of the images; ``file_name`` entries are relative to it.
        dataset_name (str or None): when given, the category metadata is set on (or checked
            against) ``MetadataCatalog.get(dataset_name)``.
        check_files (bool): also check every image file: it exists and its header decodes to an
            image of the record's size (zero-byte, non-image and unreadable files are errors).
            Off by default: a bad image is then reported when it is read, with its path.

    Returns:
        list[dict]: one per image, in file order: ``file_name`` (absolute path), ``height``,
        ``width``, ``image_id``, ``level`` (only when the file has levels) and ``annotations``, a
        list of ``{"bbox": [x, y, w, h], "bbox_mode": BoxMode.XYWH_ABS, "category_id": contiguous
        0..K-1}`` with ``point_xy`` ([x, y]) when the file has it and ``iscrowd`` when it is 1.

    Raises:
        RPCFormatError: unreadable or invalid JSON, a missing key or wrong type, a duplicate id,
            a ``file_name`` outside ``image_root`` (absolute, or leaving it with ".."), an
            annotation of an unknown image or category, a box of non-positive size or more than
            ``BOX_TOLERANCE`` pixels outside its image, a level not in ``RPC_LEVELS`` (or levels on
            only some images), a missing, unreadable or wrongly sized image file (with
            ``check_files``); with ``dataset_name``, categories that differ from the metadata
            already set for it.
    """
    images, meta = load_rpc_json_with_metadata(json_file, image_root, check_files)
    if dataset_name is not None:
        _set_category_metadata(json_file, dataset_name, meta)
    return images


def load_rpc_json_with_metadata(json_file, image_root, check_files=False):
    """
    Load and check an RPC annotation file once, returning both what :func:`load_rpc_json` returns
    and what :func:`load_rpc_categories` returns (from the same parse); sets no metadata.

    Returns:
        (list[dict], dict): the dataset dicts and the category metadata (docs/method.md §1.3).
    """
    start = time.perf_counter()
    with gc_paused():
        data = read_json(json_file, RPCFormatError, object_only=True)
        meta = _category_metadata(json_file, data)
        images, image_fields = _load_images(json_file, data, image_root, check_files)
        annotations, image_index = _load_annotations(json_file, data, image_fields, meta)
        del data
        for k, image in enumerate(images):
            image["annotations"] = annotations[image_index[k] : image_index[k + 1]]
    logger.info(
        f"Loaded {len(images)} images, {image_index[-1]} boxes in RPC format from {json_file} "
        f"in {time.perf_counter() - start:.2f}s"
    )
    return images, meta


def _set_category_metadata(json_file, dataset_name, meta):
    """
    Set the category metadata ``meta`` of ``json_file`` on ``dataset_name``, or check it against
    what is already set there (an RPCFormatError naming the file, the dataset and the first
    differing key, rather than Detectron2's bare AssertionError).
    """
    metadata = MetadataCatalog.get(dataset_name)
    for key, value in meta.items():
        old = metadata.get(key, None)
        if old is not None and old != value:
            raise RPCFormatError(
                json_file,
                "categories",
                f"{key} {reprlib.repr(value)} differs from {reprlib.repr(old)}, already set "
                f"for dataset {dataset_name!r}",
            )
    metadata.set(**meta)


def _load_images(json_file, data, image_root, check_files):
    """
    Check the ``images`` section; return (image dicts without annotations, fields), where fields
    holds ``ids`` (list) and ``size`` (float64 array, N x 2: width, height) for the boxes' check.
    """
    section = Section(json_file, data, "images")
    ids = section.column("id", INT, "an integer")
    section.unique(ids, "id")
    file_names = section.column("file_name", STR, "a string")
    section.check(np.array(list(map(bool, file_names)), bool), lambda j: "empty 'file_name'")
    columns = {}
    for key in ("width", "height"):
        values = columns[key] = section.column(key, INT, "an integer")
        section.check(
            float_array(values) > 0, lambda j: f"{key!r} must be positive, got {values[j]}"
        )
    # file names stay inside the image folder: relative, no ".." out of it
    outside = [j for j, f in enumerate(file_names) if (f[:1] == "/" or ".." in f) and (
        os.path.isabs(f) or os.path.normpath(f).split(os.sep)[0] == "..")]
    if outside:
        j = outside[0]
        section.fail(j, f"'file_name' {file_names[j]!r} must be a path inside the image folder "
                        "(relative, not leaving it with '..')")
    levels = _levels(section)
    root = os.path.abspath(image_root)
    paths = [os.path.join(root, f) for f in file_names]
    if check_files:
        logger.info(f"Checking that {len(paths)} image files exist under {root} ...")
        exists = np.array(list(map(os.path.isfile, paths)), bool)
        missing = np.count_nonzero(~exists)
        section.check(
            exists, lambda j: f"image file {paths[j]} does not exist ({missing} missing in all)"
        )
        _check_image_headers(section, paths, columns["width"], columns["height"])
    images = [
        {"file_name": p, "height": h, "width": w, "image_id": i}
        for p, h, w, i in zip(paths, columns["height"], columns["width"], ids)
    ]
    if levels is not None:
        for image, level in zip(images, levels):
            image["level"] = level
    size = np.stack([float_array(columns["width"]), float_array(columns["height"])], axis=1)
    return images, {"ids": ids, "size": size.reshape(-1, 2)}


def _check_image_headers(section, paths, widths, heights):
    """
    Decode the header of every image file: it must be an image of the record's width x height
    (after its EXIF orientation, as Detectron2 reads it). Zero-byte, non-image and unreadable
    files are errors.
    """
    for j, path in enumerate(tqdm(paths, desc="image headers", unit="img", leave=False,
                                  disable=len(paths) < 2000)):
        try:
            with Image.open(path) as image:
                width, height = image.size
                if image.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):  # turned 90 degrees
                    width, height = height, width
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            reason = "empty file" if os.path.getsize(path) == 0 else (
                getattr(e, "strerror", None) or str(e))
            section.fail(j, f"image file {path} cannot be read as an image ({reason})")
        if (width, height) != (widths[j], heights[j]):
            section.fail(j, f"image file {path} is {width}x{height} pixels, the record says "
                            f"width {widths[j]}, height {heights[j]}")


def _levels(section):
    """The ``level`` of every image, or None when no image has one (train split)."""
    rows = section.rows_with("level")
    if not rows:
        return None
    if len(rows) < len(section):
        missing = next(i for i, row in enumerate(rows + [len(section)]) if i != row)
        section.fail(missing, "missing key 'level' (other images have one)")
    levels = section.column("level", STR, "a string")
    allowed = frozenset(RPC_LEVELS)
    section.check(
        np.array([level in allowed for level in levels], bool),
        lambda j: f"'level' must be one of {', '.join(RPC_LEVELS)}, got {levels[j]!r}",
    )
    return levels


def _load_annotations(json_file, data, image_fields, meta):
    """
    Check the ``annotations`` section and build their dicts grouped by image.

    Returns: (annotation dicts sorted by image, offsets): the annotations of image k are
    ``dicts[offsets[k] : offsets[k + 1]]``, in file order.
    """
    section = Section(json_file, data, "annotations")
    num_images = len(image_fields["ids"])
    ids = section.column("id", INT, "an integer")
    section.unique(ids, "id")
    image_index = dict(zip(image_fields["ids"], range(num_images)))
    image_of = _lookup(section, "image_id", image_index, "an image")
    id_map = meta["thing_dataset_id_to_contiguous_id"]
    contiguous = _lookup(section, "category_id", id_map, "a category")
    boxes = section.numbers("bbox", 4)
    for axis, name in ((2, "width"), (3, "height")):
        section.check(
            boxes[:, axis] > 0, lambda j: f"bbox {boxes[j].tolist()} has non-positive {name}"
        )
    size = image_fields["size"][image_of]
    inside = (boxes[:, :2] >= -BOX_TOLERANCE).all(axis=1) & (
        (boxes[:, :2] + boxes[:, 2:]) <= size + BOX_TOLERANCE
    ).all(axis=1)
    section.check(
        inside,
        lambda j: f"bbox {boxes[j].tolist()} lies outside its image "
        f"(width {size[j, 0]:g}, height {size[j, 1]:g})",
    )
    point_rows = section.rows_with("point_xy")
    points = section.numbers("point_xy", 2, point_rows).tolist()
    crowd_rows = section.rows_with("iscrowd")
    crowd = section.column("iscrowd", INT, "0 or 1", crowd_rows)
    if set(crowd) - {0, 1}:
        j = next(j for j, c in enumerate(crowd) if c not in (0, 1))
        section.fail(crowd_rows[j], f"'iscrowd' must be 0 or 1, got {crowd[j]}")

    order = np.argsort(image_of, kind="stable")
    dicts = [
        {"bbox": box, "bbox_mode": BoxMode.XYWH_ABS, "category_id": category}
        for box, category in zip(boxes[order].tolist(), contiguous[order].tolist())
    ]
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    for row, point in zip(position[point_rows].tolist(), points):
        dicts[row]["point_xy"] = point
    for row, c in zip(position[crowd_rows].tolist(), crowd):
        if c:
            dicts[row]["iscrowd"] = 1
    offsets = np.concatenate([[0], np.cumsum(np.bincount(image_of, minlength=num_images))])
    return dicts, offsets.tolist()


def _lookup(section, key, table, what):
    """
    Map the integer ``key`` of every record through ``table`` (id -> index).

    Returns: int64 array, R (R: records); an id missing from ``table`` is an error.
    """
    values = section.column(key, INT, "an integer")
    index = np.fromiter(map(table.get, values, itertools.repeat(-1)), np.int64, len(values))
    section.check(
        index >= 0, lambda j: f"{key} {reprlib.repr(values[j])} is not {what} of this file"
    )
    return index
