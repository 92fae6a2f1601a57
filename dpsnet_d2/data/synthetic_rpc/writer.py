"""
The on-disk form of the synthetic RPC: RPC's official layout and JSON schema, written atomically.

Layout under ``--out`` (RPC's names, docs/method.md §1.1; the split, file and folder names
come from :mod:`dpsnet_d2.data.datasets.rpc_format`)::

    train2019/  val2019/  test2019/                 images (JPEG)
    instances_train2019.json  instances_val2019.json  instances_test2019.json
    train2019_masks/<train image stem>.png          true product masks (sidecar, see below)
    counters/counter_<index>.jpg                    empty-counter photos (unlabelled backgrounds)

JSON (COCO style):

* ``images``: ``id, file_name, width, height``; val/test images also ``level``
  ("easy" | "medium" | "hard").
* ``annotations``: ``id, image_id, category_id`` (1-based SKU id), ``bbox`` [x, y, w, h] (integer
  pixels, the product's mask extent; val/test: its *visible* extent), ``area``, ``iscrowd`` 0,
  ``segmentation``, ``point_xy`` [x, y] (the box centre). Train: ``segmentation`` is ``[]`` and
  ``area`` = w * h, as for boxes-only data - the true mask is *not* in the train JSON. Val/test:
  ``segmentation`` holds COCO polygons of the visible outline and ``area`` its pixel count.
* ``categories``: ``id, name`` (``"<id>_<supercategory>_<family>"``), ``supercategory``.
* ``info``: the generator's parameters (no dates, so equal seeds give equal bytes).

Mask sidecar: ``train2019_masks/<stem>.png`` for every train image ``<stem>.jpg``, uint8 0/255,
the image's size, 255 on the product. It exists for evaluating background removal and for tests;
the method itself never reads it.

Atomic write (:func:`dpsnet_d2.utils.file_io.atomic_output_dir`): everything is built in a temporary folder beside ``--out`` and moved into place with
``os.replace`` at the end; on any error the temporary folder is removed and nothing is left at
``--out`` (or, when overwriting, the old set is left there). An existing ``--out`` is refused
unless ``overwrite=True``.
"""

import json

__all__ = [
    "build_train_json",
    "build_checkout_json",
    "write_json",
]


def _categories(catalogue):
    return [{"id": s.sku_id, "name": s.name, "supercategory": s.supercategory} for s in catalogue]


def _annotation(ann_id, image_id, category_id, bbox, area, segmentation):
    x, y, w, h = (int(v) for v in bbox)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": int(category_id),
        "bbox": [x, y, w, h],
        "area": int(area),
        "iscrowd": 0,
        "segmentation": segmentation,
        "point_xy": [x + w / 2.0, y + h / 2.0],
    }


def _image_entry(image_id, record, **extra):
    entry = {
        "id": image_id,
        "file_name": record["file_name"],
        "width": record["width"],
        "height": record["height"],
    }
    entry.update(extra)
    return entry


def build_train_json(records, catalogue, info):
    """
    Args:
        records: per train image, in id order: dict ``file_name, width, height, sku_id, bbox``.
        catalogue: list of ProductSpec.
        info: dict stored as ``info``.

    Returns:
        the COCO-style dict of ``instances_train2019.json``.
    """
    images, annotations = [], []
    for image_id, r in enumerate(records, start=1):
        images.append(_image_entry(image_id, r))
        w, h = r["bbox"][2], r["bbox"][3]
        annotations.append(
            _annotation(len(annotations) + 1, image_id, r["sku_id"], r["bbox"], w * h, [])
        )
    return {
        "info": info,
        "images": images,
        "annotations": annotations,
        "categories": _categories(catalogue),
    }


def build_checkout_json(records, catalogue, info):
    """
    Args:
        records: per val/test image, in id order: dict ``file_name, width, height, level,
            instances`` (each ``category_index, bbox, area, segmentation``).

    Returns:
        the COCO-style dict of ``instances_{val,test}2019.json``.
    """
    images, annotations = [], []
    for image_id, r in enumerate(records, start=1):
        images.append(_image_entry(image_id, r, level=r["level"]))
        for inst in r["instances"]:
            sku_id = catalogue[inst["category_index"]].sku_id
            annotations.append(
                _annotation(
                    len(annotations) + 1,
                    image_id,
                    sku_id,
                    inst["bbox"],
                    inst["area"],
                    inst["segmentation"],
                )
            )
    return {
        "info": info,
        "images": images,
        "annotations": annotations,
        "categories": _categories(catalogue),
    }


def write_json(path: str, data) -> None:
    """Write ``data`` as compact JSON (deterministic key order as built)."""
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
