"""
The two image domains of the renderer, images only.

A domain is given as one of:

* a folder of images (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``; not recursive);
* an RPC / COCO json file: its ``images`` list, relative to an image folder (by default the RPC
  layout's ``<split>2019/`` beside ``instances_<split>2019.json``, else the json's folder);
* a registered dataset name (``synth_rpc_test``, ``rpc_2019_test``, ...), through the
  ``json_file`` / ``image_root`` of its metadata.

Only the ``images`` list of a json is read (found in the memory-mapped file): target
annotations are never parsed, so using a test split as domain B leaks no labels.
"""
import json
import logging
import mmap
import os
import re
from typing import List, Optional

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dpsnet_d2.data.datasets.rpc_records import find_list

__all__ = [
    "IMAGE_EXTENSIONS",
    "DomainError",
    "list_domain_images",
    "read_rgb",
    "to_tensor",
    "CropDataset",
    "resize_long_side",
    "scaled_hw",
    "default_image_root",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class DomainError(ValueError):
    """A domain that gives no usable images."""


def _json_images(json_file: str) -> List[dict]:
    try:
        with open(json_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            images = find_list(m, b'"images"')
    except (OSError, ValueError) as e:
        raise DomainError(f"{json_file}: cannot read ({e})") from e
    if images is None:
        raise DomainError(f"{json_file}: no 'images' list")
    bad = next(
        (r for r in images if not isinstance(r, dict) or not isinstance(r.get("file_name"), str)),
        None,
    )
    if bad is not None:
        raise DomainError(f"{json_file}: image record {json.dumps(bad)[:120]} has no file_name")
    return images


def default_image_root(json_file: str) -> str:
    """``.../instances_val2019.json`` -> ``.../val2019``; any other name -> the json's folder."""
    folder, base = os.path.split(os.path.abspath(json_file))
    match = re.fullmatch(r"instances_(\w+?)(2019)?\.json", base)
    if match:
        candidate = os.path.join(folder, match.group(1) + (match.group(2) or ""))
        if os.path.isdir(candidate):
            return candidate
    return folder


def list_domain_images(spec: str, image_root: Optional[str] = None) -> List[str]:
    """
    The image files of a domain (see the module docstring), as absolute paths in a stable order.

    Args:
        spec: a folder, a json file, or a registered dataset name.
        image_root: the image folder of a json ``spec`` (default: see ``default_image_root``).
    Raises:
        DomainError: nothing found under ``spec``, or no image listed / present (one line,
            naming the folder or file).
    """
    if os.path.isdir(spec):
        names = sorted(n for n in os.listdir(spec) if n.lower().endswith(IMAGE_EXTENSIONS))
        if not names:
            raise DomainError(f"{spec}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
        return [os.path.abspath(os.path.join(spec, n)) for n in names]
    if os.path.isfile(spec):
        json_file, root = spec, image_root or default_image_root(spec)
    else:
        from detectron2.data import DatasetCatalog, MetadataCatalog

        if spec not in DatasetCatalog.list():
            raise DomainError(f"{spec}: neither a folder, a json file nor a registered dataset")
        meta = MetadataCatalog.get(spec)
        json_file, root = meta.get("json_file"), image_root or meta.get("image_root")
        if not json_file or not root or not os.path.isfile(json_file):
            raise DomainError(f"{spec}: registered, but its json file {json_file} is not there")
    images = _json_images(json_file)
    if not images:
        raise DomainError(f"{json_file}: 'images' is empty")
    paths = [os.path.join(os.path.abspath(root), r["file_name"]) for r in images]
    missing = next((p for p in paths if not os.path.isfile(p)), None)
    if missing is not None:
        raise DomainError(f"{json_file}: image {missing} listed but not found")
    return paths


def read_rgb(path: str) -> np.ndarray:
    """H x W x 3 uint8 RGB; raises DomainError naming an unreadable file."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise DomainError(f"{path}: not a readable image")
    return np.ascontiguousarray(img[:, :, ::-1])


def scaled_hw(h: int, w: int, size: int):
    """(h', w') with max(h', w') == size and the aspect ratio of (h, w)."""
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_long_side(img: np.ndarray, size: int) -> np.ndarray:
    """Resize H x W x 3 so that max(H, W) == size (area filter down, bilinear up)."""
    h, w = img.shape[:2]
    nh, nw = scaled_hw(h, w, size)
    if (nh, nw) == (h, w):
        return img
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if nh < h else cv2.INTER_LINEAR)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x H x W float in [-1, 1]."""
    return (
        torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
    )


class CropDataset(Dataset):
    """
    Training samples of one domain: each image resized to ``load_size`` on its longer side
    (then padded by reflection to at least ``crop`` px), a random ``crop`` x ``crop`` window and a
    random horizontal flip; items are 3 x crop x crop in [-1, 1]. Decoding happens in loader
    workers; randomness comes from torch's per-worker generator (seeded by the loader).
    """

    def __init__(self, paths: List[str], *, load_size: int, crop: int):
        self.paths, self.load_size, self.crop = list(paths), load_size, crop

    def __len__(self):
        return len(self.paths)

    def _read(self, i):
        """Image i, or the next readable one: an image that fails to decode is reported (a
        warning naming the file) and skipped, not a crash of the loader's worker."""
        for k in range(len(self.paths)):
            path = self.paths[(i + k) % len(self.paths)]
            try:
                return read_rgb(path)
            except DomainError as e:
                logging.getLogger(__name__).warning(f"{e}: skipped")
        raise DomainError(f"none of the {len(self.paths)} images of the domain can be read")

    def __getitem__(self, i):
        img = resize_long_side(self._read(i), self.load_size)
        h, w = img.shape[:2]
        ph, pw = max(0, self.crop - h), max(0, self.crop - w)
        if ph or pw:
            img = cv2.copyMakeBorder(
                img, ph // 2, ph - ph // 2, pw // 2, pw - pw // 2, cv2.BORDER_REFLECT
            )
            h, w = img.shape[:2]
        y = int(torch.randint(0, h - self.crop + 1, ()))
        x = int(torch.randint(0, w - self.crop + 1, ()))
        img = img[y : y + self.crop, x : x + self.crop]
        if torch.rand(()) < 0.5:
            img = img[:, ::-1]
        return to_tensor(img)
