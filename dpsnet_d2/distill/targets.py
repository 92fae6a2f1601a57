"""
The unlabelled target images of distillation, loaded so that their labels cannot be read.

Distillation must never see target-domain ground truth. For an RPC-format dataset (its metadata
has ``json_file``) only the ``images`` and ``categories`` lists of the file are parsed
(:func:`load_rpc_images`, :func:`load_rpc_categories`); the ``annotations`` list is never read.
Any other registered dataset is loaded through ``DatasetCatalog`` and every key but the image
fields below is dropped before the records leave this module.
"""
import os
from typing import Dict, List

from detectron2.data import DatasetCatalog, MetadataCatalog

from ..data.datasets.rpc_format import RPCFormatError, load_rpc_categories, load_rpc_images

__all__ = ["TargetError", "IMAGE_KEYS", "load_target_images", "target_classes"]

# The only keys of a target record distillation may see.
IMAGE_KEYS = ("file_name", "height", "width", "image_id", "level")


class TargetError(ValueError):
    """A target dataset that distillation cannot use (one line naming the dataset and fault)."""


def target_classes(dataset_name: str) -> Dict:
    """
    The category metadata of a target dataset without reading its annotations: for an
    RPC-format file its ``categories`` list only, otherwise the registered metadata.

    Returns:
        dict with ``thing_classes`` and ``thing_dataset_id_to_contiguous_id`` (None when the
        dataset has no such map).
    """
    meta = MetadataCatalog.get(dataset_name)
    json_file = meta.get("json_file", None)
    if json_file and meta.get("evaluator_type", None) == "rpc":
        try:
            return load_rpc_categories(json_file)
        except RPCFormatError as e:
            raise TargetError(f"target dataset {dataset_name!r}: {e}") from e
    classes = meta.get("thing_classes", None)
    if classes is None:
        raise TargetError(f"target dataset {dataset_name!r} has no thing_classes metadata")
    return {
        "thing_classes": list(classes),
        "thing_dataset_id_to_contiguous_id": meta.get("thing_dataset_id_to_contiguous_id", None),
    }


def load_target_images(dataset_name: str) -> List[Dict]:
    """
    The images of a registered target dataset, without labels.

    Returns:
        list[dict] in the dataset's order, each with only the keys of ``IMAGE_KEYS`` it has
        (``file_name`` absolute).

    Raises:
        TargetError: the dataset is not registered, its file cannot be read, or it has no image.
    """
    if dataset_name not in DatasetCatalog.list():
        raise TargetError(f"target dataset {dataset_name!r} is not registered")
    meta = MetadataCatalog.get(dataset_name)
    json_file = meta.get("json_file", None)
    try:
        if json_file and meta.get("evaluator_type", None) == "rpc":
            if not os.path.isfile(json_file):
                raise TargetError(f"target dataset {dataset_name!r}: {json_file} does not exist")
            records = load_rpc_images(json_file, meta.image_root)
        else:
            records = DatasetCatalog.get(dataset_name)
    except RPCFormatError as e:
        raise TargetError(f"target dataset {dataset_name!r}: {e}") from e
    images = [{k: r[k] for k in IMAGE_KEYS if k in r} for r in records]
    del records
    if not images:
        raise TargetError(f"target dataset {dataset_name!r} has no images")
    missing = [k for k in ("file_name", "height", "width", "image_id") if k not in images[0]]
    if missing:
        raise TargetError(f"target dataset {dataset_name!r}: records lack {missing}")
    return images
