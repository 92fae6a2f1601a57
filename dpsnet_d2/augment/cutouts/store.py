"""
The cut-out store: product cut-outs (RGBA crops, alpha = mask) with one index, compact enough for
RPC (53,739 turntable photos at 2592 x 1944).

Layout of a store folder::

    index.json    {"version": 2, "encoding": "webp", "max_scale": s, "thing_classes": [...],
                   "items": [record, ...], "info": {...}}
    pixels.bin    every stored cut-out as one encoded image (lossless WebP or PNG) or as its raw
                  RGBA bytes ("raw"), one after another

A record: ``sku`` (contiguous class id), ``category_id`` (the dataset's id), ``image_id``,
``file_name`` (source image), ``view`` (viewpoint index within the SKU, or -1), ``area`` (mask
area normalised for image scale), ``ratio`` (pose-pruning R), ``kept`` (bool); then ``offset`` and
``nbytes`` of its encoded image in ``pixels.bin``, ``shape`` [h, w] of the stored cut-out,
``source_shape`` [h, w] of its crop in the source image and ``scale`` (stored / source pixels).
``info`` is free-form (the writer's settings, e.g. the pose-pruning threshold and a signature of
the inputs).

What makes it compact (measured in BENCHMARKS.md, "The compact cut-out store"):

* **crop**: each cut-out is cropped to its mask's bounding box;
* **kept views only**: a view that pose pruning drops keeps its record (``kept`` false, for the
  report) but no pixels (``nbytes`` 0);
* **capped resolution**: synthesis scales a cut-out by at most ``hi x S / REFERENCE_SIZE``
  (``hi`` = SCALE_RANGE[1], S = the largest scene short side it composes: CANVAS_SIZE, or the
  largest INPUT.MIN_SIZE_TRAIN since the mapper composes at the input size), never up: pixels
  beyond that scale are never seen. :func:`cutout_scale_cap` computes it from a config; a cut-out
  is stored at ``scale = min(1, cap)`` of its source size and synthesis scales it by
  ``drawn scale / scale``, so a scene keeps its geometry;
* **lossless compression** (``CUTOUTS.ENCODING``): WebP lossless through OpenCV (or PNG), or none
  ("raw": ~5x the bytes, no decoding on read, the faster synthesis). Colour is defined where alpha
  is 255 only; readers get RGB 0 under alpha 0 (the encoder may change those hidden pixels).

Reads decode one small image (~0.8 ms as WebP for an 800 px scene's cut-out; "raw" is a copy)
from the memory-mapped ``pixels.bin``; the map is opened lazily in each data-loader worker after
fork. A store of the first format (version 1: raw RGBA bytes, every view, full resolution)
still loads.
"""
import json
import os
import shutil
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ...utils.cli import read_json
from ...utils.images import mask_box

__all__ = ["CutoutStore", "ENCODINGS", "INDEX_FILE", "PIXELS_FILE", "compact_cutout",
           "cutout_scale_cap", "scale_cap", "write_cutout_store"]

INDEX_FILE = "index.json"
PIXELS_FILE = "pixels.bin"
_VERSION = 2
_RAW_VERSION = 1  # the first format: raw RGBA, still read
_RECORD_KEYS = ("sku", "category_id", "image_id", "file_name", "view", "area", "ratio", "kept")
# encoding -> (OpenCV extension, encoder flags); WebP quality > 100 is lossless; "raw": the
# RGBA bytes as they are (h x w x 4), no decoding on read
ENCODINGS = {"webp": (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
             "png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]),
             "raw": None}


def scale_cap(scale_range: Sequence[float], reference_size: int, scene_sizes: Iterable[int]) -> float:
    """
    The largest scale synthesis applies to a cut-out: ``scale_range[1] x max(scene_sizes) /
    reference_size`` (a scene of short side S scales cut-outs by ``scale_range x S /
    reference_size``; placement only shrinks them further).
    """
    return float(scale_range[1]) * max(int(s) for s in scene_sizes) / float(reference_size)


def cutout_scale_cap(cfg) -> float:
    """:func:`scale_cap` of ``cfg.INPUT.SYNTHESIS``: scenes of CANVAS_SIZE (offline sets,
    held-out scenes) and of every INPUT.MIN_SIZE_TRAIN (the mapper composes at the input size)."""
    syn = cfg.INPUT.SYNTHESIS
    return scale_cap(syn.SCALE_RANGE, syn.REFERENCE_SIZE,
                     [syn.CANVAS_SIZE, *cfg.INPUT.MIN_SIZE_TRAIN])


def compact_cutout(rgba: np.ndarray, max_scale: float = 1.0) -> Tuple[np.ndarray, float]:
    """
    A cut-out as the store keeps it: cropped to its mask's box, scaled by ``min(1, max_scale)``
    (area interpolation on alpha-premultiplied colour, so no counter colour bleeds into the
    product's edge; alpha thresholded at 128 back to 0 / 255) and RGB 0 under alpha 0.

    Args:
        rgba: h x w x 4 uint8, alpha 0 / 255 (not all 0).
    Returns:
        (h' x w' x 4 uint8, the scale applied); h', w' >= 1.
    """
    alpha = rgba[..., 3] > 0
    x, y, w, h = mask_box(alpha)
    out = rgba[y : y + h, x : x + w].copy()
    np.bitwise_and(out[..., :3], out[..., 3:], out=out[..., :3])  # alpha is 0 / 255
    scale = min(1.0, float(max_scale))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(out, size, interpolation=cv2.INTER_AREA)
        a = small[..., 3:].astype(np.float32)
        keep = a >= 128
        if not keep.any():  # a sliver: keep its most opaque pixel
            keep = a == a.max()
        rgb = np.where(keep, small[..., :3] * (255.0 / np.maximum(a, 1.0)), 0.0)
        out = np.dstack([np.clip(np.rint(rgb), 0, 255).astype(np.uint8),
                         np.where(keep[..., 0], 255, 0).astype(np.uint8)])
    return np.ascontiguousarray(out), scale


def _encode(rgba: np.ndarray, encoding: str) -> bytes:
    if encoding == "raw":
        return np.ascontiguousarray(rgba).tobytes()
    ext, flags = ENCODINGS[encoding]
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA), flags)
    if not ok:
        raise ValueError(f"OpenCV cannot encode {encoding} (built without it?)")
    return buf.tobytes()


def _checked(record: Dict, rgba: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """The record has every key; ``rgba`` (None allowed for a pruned view) is an RGBA cut-out."""
    missing = [k for k in _RECORD_KEYS if k not in record]
    if missing:
        raise ValueError(f"cut-out record {record!r} lacks {missing}")
    if rgba is None and not record["kept"]:
        return None
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4 or 0 in rgba.shape:
        raise ValueError(f"cut-out of {record.get('file_name')!r} has shape {rgba.shape} "
                         f"({rgba.dtype}), expected h x w x 4 uint8 with h, w > 0")
    if not (rgba[..., 3] > 0).any():
        raise ValueError(f"cut-out of {record.get('file_name')!r} has an empty mask (alpha 0)")
    return rgba


def write_cutout_store(
    folder: str,
    items: Iterable[Tuple[Dict, np.ndarray]],
    thing_classes: Sequence[str],
    info: Optional[Dict] = None,
    *,
    max_scale: float = 1.0,
    encoding: str = "webp",
) -> int:
    """
    Write a store to ``folder`` atomically (a temporary folder beside it, then a rename; an
    existing store is replaced only once the new one is complete).

    Args:
        folder: the store folder.
        items: (record, rgba) pairs; record has the keys of the module docstring up to ``kept``;
            rgba is h x w x 4 uint8 (RGB + alpha mask, 0 or 255), cropped or not. Records with
            ``kept`` false are indexed without pixels; their rgba may be None (then the record's
            ``source_shape`` [h, w], if any, is indexed).
        thing_classes: the class names, indexed by ``sku``.
        info: JSON-serialisable dict stored as the index's ``info`` (default empty).
        max_scale: the largest scale synthesis will use (:func:`cutout_scale_cap`); cut-outs are
            stored at ``min(1, max_scale)`` of their size.
        encoding: "webp" (lossless, the smallest), "png" or "raw" (uncompressed RGBA: about 5x
            the bytes of WebP, read without decoding; BENCHMARKS.md has both).
    Returns:
        number of records written (kept and pruned).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r}: choose one of {sorted(ENCODINGS)}")
    if not max_scale > 0:
        raise ValueError(f"max_scale {max_scale}: must be > 0")
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(folder) + "-", dir=parent)
    try:
        records, offset = [], 0
        with open(os.path.join(tmp, PIXELS_FILE), "wb") as f:
            for record, rgba in items:
                rgba = _checked(record, rgba)
                if rgba is None:
                    source = [int(v) for v in record.get("source_shape", (1, 1))]
                else:
                    source = mask_box(rgba[..., 3] > 0)[2:][::-1]  # [h, w] of the mask's box
                data, scale = b"", min(1.0, float(max_scale))
                shape = [max(1, round(source[0] * scale)), max(1, round(source[1] * scale))]
                if record["kept"]:
                    small, scale = compact_cutout(rgba, max_scale)
                    data, shape = _encode(small, encoding), list(small.shape[:2])
                    f.write(data)
                records.append({**{k: record[k] for k in _RECORD_KEYS}, "offset": offset,
                                "nbytes": len(data), "shape": shape, "source_shape": source,
                                "scale": scale})  # fmt: skip
                offset += len(data)
        index = {"version": _VERSION, "encoding": encoding, "max_scale": float(max_scale),
                 "thing_classes": list(thing_classes), "items": records,
                 "info": dict(info or {})}  # fmt: skip
        with open(os.path.join(tmp, INDEX_FILE), "w") as f:
            json.dump(index, f)
        os.chmod(tmp, 0o755)
        if os.path.isdir(folder):
            old = folder + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(records)


class CutoutStore:
    """
    Read access to a store written by :func:`write_cutout_store` (or a first-format one).
    Picklable (the memory map is opened lazily per process), so a mapper holding it works in
    D2's multi-worker loader.
    """

    def __init__(self, folder: str):
        index_file = os.path.join(folder, INDEX_FILE)
        if not os.path.isfile(index_file) or not os.path.isfile(os.path.join(folder, PIXELS_FILE)):
            raise FileNotFoundError(f"{folder}: not a cut-out store (no {INDEX_FILE} / {PIXELS_FILE})")
        index = read_json(index_file)  # a FileFormatError (ValueError) naming file and line
        version = index.get("version") if isinstance(index, dict) else None
        if version not in (_RAW_VERSION, _VERSION) or index.get("encoding", "webp") not in ENCODINGS:
            raise ValueError(f"{index_file}: store version {version} (encoding "
                             f"{index.get('encoding') if isinstance(index, dict) else None}), "
                             f"this reader knows versions {_RAW_VERSION} and {_VERSION}: write it "
                             "again with tools/prepare_rpc.py prune")
        self.folder = folder
        self.version: int = version
        self.encoding: str = index.get("encoding", "raw") if version == _VERSION else "raw"
        self.max_scale: float = float(index.get("max_scale", 1.0))
        self.thing_classes: List[str] = list(index["thing_classes"])
        self.records: List[Dict] = index["items"]
        self.info: Dict = index.get("info", {})
        self._pixels: Optional[np.memmap] = None

    def __len__(self) -> int:
        return len(self.records)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pixels"] = None
        return state

    def kept(self) -> np.ndarray:
        """Indices of the cut-outs kept by pose pruning (int64 array)."""
        return np.array([i for i, r in enumerate(self.records) if r["kept"]], dtype=np.int64)

    def by_sku(self, kept_only: bool = True) -> Dict[int, np.ndarray]:
        """{sku: indices of its cut-outs} (kept ones only by default)."""
        out: Dict[int, List[int]] = {}
        for i, r in enumerate(self.records):
            if r["kept"] or not kept_only:
                out.setdefault(int(r["sku"]), []).append(i)
        return {k: np.asarray(v, dtype=np.int64) for k, v in sorted(out.items())}

    def has_pixels(self, i: int) -> bool:
        """Whether cut-out ``i``'s pixels are stored (not for views dropped by pose pruning)."""
        return self.version == _RAW_VERSION or self.records[i]["nbytes"] > 0

    def scale(self, i: int) -> float:
        """Stored / source pixels of cut-out ``i`` (1.0 in a first-format store)."""
        return float(self.records[i].get("scale", 1.0))

    def source_shape(self, i: int) -> Tuple[int, int]:
        """(h, w) of cut-out ``i`` in its source image."""
        r = self.records[i]
        return tuple(int(v) for v in r.get("source_shape", r["shape"]))

    def get(self, i: int) -> np.ndarray:
        """Cut-out ``i``: h x w x 4 uint8 (RGB, alpha 0/255, RGB 0 where alpha is 0), a new
        array. Raises ValueError for a view whose pixels were dropped by pose pruning."""
        if self._pixels is None:
            self._pixels = np.memmap(os.path.join(self.folder, PIXELS_FILE), dtype=np.uint8, mode="r")
        r = self.records[i]
        h, w = r["shape"]
        if not self.has_pixels(i):
            raise ValueError(f"{self.folder}: items[{i}] ({r['file_name']}) is a view pose pruning "
                             "dropped: its pixels are not stored")
        elif self.encoding == "raw":  # a first-format store, or version 2 without compression
            rgba = np.array(self._pixels[r["offset"] : r["offset"] + h * w * 4]).reshape(h, w, 4)
        else:
            bgra = cv2.imdecode(self._pixels[r["offset"] : r["offset"] + r["nbytes"]],
                                cv2.IMREAD_UNCHANGED)
            if bgra is not None and bgra.ndim == 3 and bgra.shape[2] == 3:
                bgra = cv2.cvtColor(bgra, cv2.COLOR_BGR2BGRA)  # an opaque WebP has no alpha
            if bgra is None or bgra.shape != (h, w, 4):
                raise ValueError(f"{os.path.join(self.folder, PIXELS_FILE)}: items[{i}] "
                                 f"({r['file_name']}) does not decode to {h} x {w} RGBA")
            rgba = cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
        # RGB 0 where alpha is 0 (the encoder may have changed hidden pixels)
        return cv2.bitwise_and(rgba, rgba, mask=cv2.extractChannel(rgba, 3))
