"""
An offline set of synthesized checkout scenes in RPC / COCO format (the published work wrote its
scenes to disk once; training normally composes them on the fly, :mod:`.mapper`).

Layout under ``out`` (RPC's train layout, so ``register_rpc_splits(out, ...)`` registers it)::

    train2019/synth_<i>.jpg          scene i = scene_rng(seed, i)
    instances_train2019.json         images (with "level"), annotations, categories
    parts/<i>.json                   per-scene annotations while the set is being written

Annotations: ``bbox`` [x, y, w, h] tight to the visible pixels, ``area`` the visible pixel count,
``segmentation`` the visible mask as COCO RLE, ``point_xy`` the box centre, ``iscrowd`` 0.

Resumable: a scene whose image and part both exist is not composed again; the JSON is written
(atomically) once every scene is done, and ``parts/`` is then removed. The bytes of scene i
depend only on (seed, i, the store and the settings), not on the number of processes.
"""
import json
import multiprocessing as mp
import os
from typing import Dict, List, Optional

import cv2
import numpy as np
import pycocotools.mask as mask_util
from tqdm import tqdm

from ...data.datasets.rpc_format import image_folder, json_name, load_rpc_categories
from ...utils import atomic_write_bytes
from ..cutouts.store import CutoutStore
from .scene_synthesis import SceneSynthesizer, scene_rng

__all__ = ["export_synthesized_set", "SPLIT"]

# The split name the offline set is written as.
SPLIT = "train"
_PARTS = "parts"


def _categories(store: CutoutStore, categories_json: str) -> List[Dict]:
    """The store's categories (ids, names, supercategories) checked against ``categories_json``."""
    with open(categories_json) as f:
        known = {int(c["id"]): c for c in json.load(f)["categories"]}
    load_rpc_categories(categories_json)  # checks the file's categories
    out = {}
    for r in store.records:
        cid, name = int(r["category_id"]), store.thing_classes[int(r["sku"])]
        if cid not in known or known[cid]["name"] != name:
            raise ValueError(
                f"{categories_json}: no category id {cid} named {name!r} (cut-out store "
                f"{store.folder}, record of {r['file_name']!r})"
            )
        out[cid] = {k: known[cid][k] for k in ("id", "name", "supercategory")}
    return [out[k] for k in sorted(out)]


def _scene_record(synthesizer: SceneSynthesizer, store: CutoutStore, seed: int, index: int,
                  quality: int):
    """(jpeg bytes, {"image": ..., "annotations": [...]}) of scene ``index``."""
    scene = synthesizer(scene_rng(seed, index), with_masks=True)
    ok, buf = cv2.imencode(".jpg", scene.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"scene {index}: JPEG encoding failed")
    h, w = scene.image.shape[:2]
    name = f"synth_{index:06d}.jpg"
    anns = []
    for box, cutout, mask in zip(scene.boxes.tolist(), scene.cutouts, scene.masks):
        rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        anns.append({
            "category_id": int(store.records[int(cutout)]["category_id"]),
            "bbox": [x0, y0, x1 - x0, y1 - y0], "area": int(mask.sum()), "iscrowd": 0,
            "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
            "point_xy": [(x0 + x1) / 2, (y0 + y1) / 2],
        })
    image = {"id": index + 1, "file_name": name, "width": w, "height": h, "level": scene.level}
    return buf.tobytes(), {"image": image, "annotations": anns}


_WORKER: Dict = {}


def _init(store_folder: str, kwargs: Dict, seed: int, quality: int, out: str):
    store = CutoutStore(store_folder)
    _WORKER.update(store=store, synthesizer=SceneSynthesizer(store, **kwargs), seed=seed,
                   quality=quality, out=out)


def _write_scene(index: int) -> int:
    w = _WORKER
    data, part = _scene_record(w["synthesizer"], w["store"], w["seed"], index, w["quality"])
    atomic_write_bytes(os.path.join(w["out"], image_folder(SPLIT), part["image"]["file_name"]),
                       data)
    atomic_write_bytes(os.path.join(w["out"], _PARTS, f"{index:06d}.json"),
                       json.dumps(part).encode())
    return index


def export_synthesized_set(
    store_folder: str,
    out: str,
    num: int,
    *,
    categories_json: str,
    seed: int = 0,
    workers: int = 1,
    quality: int = 90,
    synthesizer_kwargs: Optional[Dict] = None,
    progress: bool = True,
) -> Dict:
    """
    Write ``num`` synthesized scenes to ``out`` (see the module docstring); resumes a partial
    ``out``. Refuses an ``out`` whose finished JSON already exists.

    Args:
        store_folder: the cut-out store.
        categories_json: an RPC-format JSON holding the store's categories (e.g. the train
            JSON the cut-outs came from); its ``categories`` are copied.
        seed: scene i is composed from ``scene_rng(seed, i)``.
        workers: processes (<= 1: this one).
        quality: JPEG quality.
        synthesizer_kwargs: keyword arguments of :class:`SceneSynthesizer` (level weights,
            scale range, canvas size, rule, backgrounds, ...).
    Returns:
        {"json": path, "images": num, "annotations": count, "composed": scenes composed now}.
    """
    if num < 1:
        raise ValueError(f"--num {num}: need at least 1 scene")
    kwargs = dict(synthesizer_kwargs or {})
    store = CutoutStore(store_folder)
    SceneSynthesizer(store, **kwargs)  # validate the settings before any work
    categories = _categories(store, categories_json)
    json_file = os.path.join(out, json_name(SPLIT))
    if os.path.exists(json_file):
        raise FileExistsError(f"{json_file} exists: the set at {out} is complete")
    parts = os.path.join(out, _PARTS)
    os.makedirs(parts, exist_ok=True)
    os.makedirs(os.path.join(out, image_folder(SPLIT)), exist_ok=True)
    todo = [i for i in range(num)
            if not (os.path.isfile(os.path.join(parts, f"{i:06d}.json")) and os.path.isfile(
                os.path.join(out, image_folder(SPLIT), f"synth_{i:06d}.jpg")))]
    init = (store_folder, kwargs, seed, quality, out)
    bar = tqdm(total=len(todo), desc="synthesize", disable=not progress)
    if workers <= 1:
        _init(*init)
        for i in todo:
            _write_scene(i)
            bar.update()
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init, initargs=init) as pool:
            for _ in pool.imap_unordered(_write_scene, todo, chunksize=4):
                bar.update()
    bar.close()
    images, annotations = [], []
    for i in range(num):
        with open(os.path.join(parts, f"{i:06d}.json")) as f:
            part = json.load(f)
        images.append(part["image"])
        for a in part["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": part["image"]["id"], **a})
    info = {"description": "dpsnet_d2 synthesized checkout scenes", "seed": seed, "num": num,
            "cutout_store": os.path.abspath(store_folder),
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}}
    data = {"info": info, "images": images, "annotations": annotations, "categories": categories}
    atomic_write_bytes(json_file, json.dumps(data).encode())
    for i in range(num):
        os.remove(os.path.join(parts, f"{i:06d}.json"))
    os.rmdir(parts)
    return {"json": json_file, "images": num, "annotations": len(annotations),
            "composed": len(todo)}
