"""
The cut-out store: product cut-outs (tight RGBA crops, alpha = mask) with one index.

Layout of a store folder::

    index.json    {"version": 1, "thing_classes": [...], "items": [record, ...], "info": {...}}
    pixels.bin    every cut-out's RGBA bytes (uint8, row-major h x w x 4), one after another

A record: ``sku`` (contiguous class id), ``category_id`` (the dataset's id), ``image_id``,
``file_name`` (source image), ``view`` (viewpoint index within the SKU, or -1), ``area`` (mask
area normalised for image scale), ``ratio`` (pose-pruning R), ``kept`` (bool), ``offset`` and
``shape`` [h, w] into ``pixels.bin``. ``info`` is free-form (the writer's settings, e.g. the
pose-pruning threshold and a signature of the inputs).

Why raw bytes: the synthesis mapper reads ~10-20 cut-outs per scene, so a read must cost
microseconds, not the milliseconds of a PNG decode. ``pixels.bin`` is memory-mapped lazily (in
each data-loader worker after fork), so a read is a slice and a copy. Measured read costs are in
BENCHMARKS.md (``tools/benchmark_cutouts.py``).
"""
import json
import os
import shutil
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ...utils.cli import read_json

__all__ = ["CutoutStore", "write_cutout_store", "INDEX_FILE", "PIXELS_FILE"]

INDEX_FILE = "index.json"
PIXELS_FILE = "pixels.bin"
_VERSION = 1
_RECORD_KEYS = ("sku", "category_id", "image_id", "file_name", "view", "area", "ratio", "kept")


def write_cutout_store(
    folder: str,
    items: Iterable[Tuple[Dict, np.ndarray]],
    thing_classes: Sequence[str],
    info: Optional[Dict] = None,
) -> int:
    """
    Write a store to ``folder`` atomically (a temporary folder beside it, then a rename; an
    existing store is replaced only once the new one is complete).

    Args:
        folder: the store folder.
        items: (record, rgba) pairs; record has the keys of the module docstring (without
            ``offset`` / ``shape``); rgba is h x w x 4 uint8 (RGB + alpha mask, 0 or 255).
        thing_classes: the class names, indexed by ``sku``.
        info: JSON-serialisable dict stored as the index's ``info`` (default empty).
    Returns:
        number of cut-outs written.
    """
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(folder) + "-", dir=parent)
    try:
        records, offset = [], 0
        with open(os.path.join(tmp, PIXELS_FILE), "wb") as f:
            for record, rgba in items:
                rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
                if rgba.ndim != 3 or rgba.shape[2] != 4 or 0 in rgba.shape:
                    raise ValueError(
                        f"cut-out of {record.get('file_name')!r} has shape {rgba.shape}, "
                        "expected h x w x 4 with h, w > 0"
                    )
                missing = [k for k in _RECORD_KEYS if k not in record]
                if missing:
                    raise ValueError(f"cut-out record {record!r} lacks {missing}")
                f.write(rgba.tobytes())
                records.append(
                    {**{k: record[k] for k in _RECORD_KEYS},
                     "offset": offset, "shape": [int(rgba.shape[0]), int(rgba.shape[1])]}
                )
                offset += rgba.nbytes
        index = {"version": _VERSION, "thing_classes": list(thing_classes), "items": records,
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
    Read access to a store written by :func:`write_cutout_store`. Picklable (the memory map is
    opened lazily per process), so a mapper holding it works in D2's multi-worker loader.
    """

    def __init__(self, folder: str):
        index_file = os.path.join(folder, INDEX_FILE)
        if not os.path.isfile(index_file) or not os.path.isfile(os.path.join(folder, PIXELS_FILE)):
            raise FileNotFoundError(f"{folder}: not a cut-out store (no {INDEX_FILE} / {PIXELS_FILE})")
        index = read_json(index_file)  # a FileFormatError (ValueError) naming file and line
        if not isinstance(index, dict) or index.get("version") != _VERSION:
            version = index.get("version") if isinstance(index, dict) else None
            raise ValueError(f"{index_file}: store version {version}, expected {_VERSION}")
        self.folder = folder
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

    def get(self, i: int) -> np.ndarray:
        """Cut-out ``i``: h x w x 4 uint8 (RGB, alpha 0/255), a copy."""
        if self._pixels is None:
            self._pixels = np.memmap(os.path.join(self.folder, PIXELS_FILE), dtype=np.uint8, mode="r")
        r = self.records[i]
        h, w = r["shape"]
        return np.array(self._pixels[r["offset"] : r["offset"] + h * w * 4]).reshape(h, w, 4)
