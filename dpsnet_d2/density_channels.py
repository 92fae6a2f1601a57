"""
The counting view's channels: which density channel each class is counted in.

C = 1 ("agnostic", every product one class, the published default), C = number of
super-categories ("supercategory") or C = K ("category", one channel per SKU). The head reads C
from here, the dataset mappers the class -> channel map, the consistency check both. A neutral
module: :mod:`dpsnet_d2.modeling` and :mod:`dpsnet_d2.data` both import it, not each other.
"""
from typing import List, Tuple

from detectron2.data import MetadataCatalog

__all__ = ["density_channel_map"]


def density_channel_map(cfg) -> Tuple[int, List[int]]:
    """
    The class -> density channel map of ``cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE``.

    * "agnostic": every class -> channel 0, C = 1;
    * "category": class k -> channel k, C = K (``MODEL.ROI_HEADS.NUM_CLASSES``);
    * "supercategory": class k -> metadata ``thing_class_to_supercategory[k]`` and
      C = ``len(supercategories)``, read from the training datasets that have class metadata
      (``DATASETS.TEST`` when none has, e.g. ``("synth_scenes",)`` alone); every dataset read
      must carry the same map.

    Returns:
        (C, class_to_channel): int and a list of K ints in [0, C).
    """
    mode = cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if mode == "agnostic":
        return 1, [0] * num_classes
    if mode == "category":
        return num_classes, list(range(num_classes))
    if mode != "supercategory":
        raise ValueError(
            f"MODEL.DENSITY_HEAD.CHANNEL_MODE={mode!r}; choose agnostic, category or supercategory"
        )
    # a training dataset without any class metadata (the synth_scenes pseudo-dataset, pasted
    # from a cut-out store) takes its map from the other datasets
    train = list(cfg.DATASETS.TRAIN)
    described = [
        n for n in train
        if any(MetadataCatalog.get(n).get(k, None) for k in ("thing_classes", "supercategories"))
    ]
    names = described or list(cfg.DATASETS.TEST) or train
    if not names:
        raise ValueError("CHANNEL_MODE 'supercategory' needs a dataset in DATASETS.TRAIN or TEST")
    maps = []
    for name in names:
        meta = MetadataCatalog.get(name)
        supercategories = meta.get("supercategories", None)
        class_to_super = meta.get("thing_class_to_supercategory", None)
        if supercategories is None or class_to_super is None:
            raise ValueError(
                f"dataset {name!r}: metadata has no 'supercategories' / "
                "'thing_class_to_supercategory', needed by CHANNEL_MODE 'supercategory'"
            )
        if len(class_to_super) != num_classes:
            raise ValueError(
                f"dataset {name!r}: thing_class_to_supercategory has {len(class_to_super)} "
                f"entries, MODEL.ROI_HEADS.NUM_CLASSES is {num_classes}"
            )
        if not all(0 <= int(c) < len(supercategories) for c in class_to_super):
            raise ValueError(f"dataset {name!r}: thing_class_to_supercategory out of range")
        maps.append((len(supercategories), [int(c) for c in class_to_super]))
    if any(m != maps[0] for m in maps[1:]):
        raise ValueError(f"datasets {names} have different super-category maps")
    return maps[0]
