"""
The ``masks`` step of ``tools/prepare_rpc.py``: coarse masks -> saliency network -> final masks
for every box of an RPC-format single-product set, written as COCO RLE.

Outputs, in ``out`` (the dataset's folder unless told otherwise)::

    <json stem>_masks.json      the dataset's JSON with every annotation's ``segmentation`` a COCO
                                RLE (pycocotools, ``counts`` as a string) and ``area`` its pixels
    cutouts_work/coarse.json    step 1: coarse masks (RLE) and their confidence, per annotation id
                                (``grabcut.json`` with ``--method grabcut``)
    cutouts_work/saliency.pth   step 2: the saliency network and its training log
    step 3 (refinement) writes the masks file; where the network finds nothing in a box, the
    coarse mask is kept.

Resuming: every output records a signature of its inputs and settings; a step whose output exists
with the same signature is skipped, any other is computed again from scratch. Every file is
written through a temporary file and renamed, so a killed step leaves either nothing or the
previous complete file.

Bad input: a missing image file stops the run before any work (one line naming the file and the
annotation); an unreadable image, an empty crop or a box in which no product is found gives one
warning naming the file and the annotation, and that annotation is left out of the masks file
(listed in its ``info["cutouts_skipped"]``).
"""
import hashlib
import io
import json
import logging
import os
from typing import Dict, List, Optional

import cv2
import numpy as np
import pycocotools.mask as mask_util
import torch
from tqdm import tqdm

from ...data.datasets.rpc_format import load_rpc_json
from ...data.datasets.rpc_records import RPCFormatError
from ...utils.cli import UserError, read_json
from ...utils.file_io import atomic_write_bytes
from ...utils.parallel import imap_tasks
from .background_removal import coarse_confidence, coarse_mask, grabcut_mask
from .saliency import crop_inputs, predict_saliency, refine_masks, train_saliency
from .settings import MaskSettings

__all__ = [
    "MaskSettings",
    "decode_rle",
    "encode_rle",
    "file_digest",
    "masks_file",
    "read_image",
    "run_masks",
    "work_dir",
]

logger = logging.getLogger(__name__)

WORK_DIR = "cutouts_work"


def masks_file(json_file: str, out: str) -> str:
    """Where the final masks of ``json_file`` go: ``out/<stem>_masks.json``."""
    stem = os.path.splitext(os.path.basename(json_file))[0]
    return os.path.join(out, f"{stem}_masks.json")


def work_dir(out: str) -> str:
    return os.path.join(out, WORK_DIR)


def encode_rle(mask: np.ndarray) -> Dict:
    """H x W bool -> COCO RLE dict with ``counts`` a str (JSON-ready)."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: Dict) -> np.ndarray:
    """COCO RLE dict (``counts`` str or bytes) -> H x W bool."""
    counts = rle["counts"]
    counts = counts.encode("ascii") if isinstance(counts, str) else counts
    return mask_util.decode({"size": rle["size"], "counts": counts}).astype(bool)


def _signature(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:16]


def file_digest(path: str) -> str:
    """A short SHA-1 of a file's bytes."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _write_json(path: str, data) -> None:
    atomic_write_bytes(path, json.dumps(data).encode())


def _read_if_signed(path: str, signature: str) -> Optional[Dict]:
    """The JSON at ``path`` when it exists and carries ``signature``, else None."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if data.get("signature") == signature else None


def _tasks(json_file: str, image_root: str):
    """Check the dataset (loader checks, then every image file exists) and list one task per
    annotation: dict ``ann_id, image_id, path, box, height, width``."""
    load_rpc_json(json_file, image_root)  # every record checked (boxes inside images, ...)
    data = read_json(json_file, RPCFormatError, object_only=True)
    images = {im["id"]: im for im in data["images"]}
    tasks = []
    for ann in data["annotations"]:
        im = images[ann["image_id"]]
        path = os.path.join(image_root, im["file_name"])
        if not os.path.isfile(path):
            raise UserError(
                f"{json_file}: annotations (id={ann['id']}): image file {path} does not exist"
            )
        tasks.append({"ann_id": ann["id"], "image_id": im["id"], "path": path, "box": ann["bbox"],
                      "height": im["height"], "width": im["width"]})  # fmt: skip
    return data, tasks


def read_image(task: Dict):
    """The task's image (H x W x 3 uint8 BGR), or (None, warning) when it cannot be used."""
    image = cv2.imread(task["path"], cv2.IMREAD_COLOR)
    where = f"{task['path']} (annotation id {task['ann_id']}, image_id {task['image_id']})"
    if image is None:
        return None, f"cannot read image {where}: skipped"
    if image.shape[:2] != (task["height"], task["width"]):
        return None, (f"image {where} is {image.shape[1]}x{image.shape[0]}, the JSON says "
                      f"{task['width']}x{task['height']}: skipped")  # fmt: skip
    x, y, w, h = task["box"]
    if min(x + w, task["width"]) - max(x, 0) < 2 or min(y + h, task["height"]) - max(y, 0) < 2:
        return None, f"empty crop: box {task['box']} of {where} holds under 2x2 pixels: skipped"
    return image, None


def _coarse_task(args):
    task, params, method = args
    image, warning = read_image(task)
    if image is None:
        return task["ann_id"], None, 0.0, warning
    if method == "grabcut":
        m = grabcut_mask(image, task["box"])
    else:
        m = coarse_mask(image, task["box"], params)
    return task["ann_id"], encode_rle(m), coarse_confidence(m, task["box"]), None


def _step_coarse(tasks, path, signature, params, method, workers) -> Dict:
    done = _read_if_signed(path, signature)
    if done is not None:
        logger.info(f"coarse masks: {path} is up to date, skipped")
        return done
    masks, warnings = {}, []
    jobs = [(t, params, method) for t in tasks]
    for ann_id, rle, conf, warning in tqdm(imap_tasks(_coarse_task, jobs, workers),
                                           total=len(jobs), desc="coarse masks"):  # fmt: skip
        if warning:
            logger.warning(warning)
            warnings.append(warning)
        else:
            masks[str(ann_id)] = {"rle": rle, "confidence": round(conf, 4)}
    result = {"signature": signature, "method": method, "masks": masks, "warnings": warnings}
    _write_json(path, result)
    return result


def _train_task(args):
    task, rle, size, margin = args
    image, _ = read_image(task)
    return crop_inputs(image, task["box"], size, margin, decode_rle(rle))[:2]


def _step_saliency(tasks, coarse, path, signature, s: MaskSettings, workers):
    if os.path.isfile(path):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("signature") == signature:
            logger.info(f"saliency network: {path} is up to date, skipped")
            return state
    masks = coarse["masks"]
    confident = [t for t in tasks if str(t["ann_id"]) in masks
                 and masks[str(t["ann_id"])]["confidence"] >= s.min_confidence]  # fmt: skip
    logger.info(f"saliency network: {len(confident)} of {len(tasks)} coarse masks are confident "
                f"(box IoU >= {s.min_confidence}); training on up to {s.max_train}")  # fmt: skip
    if not confident:
        raise UserError(f"no coarse mask reaches confidence {s.min_confidence}: nothing to train "
                        "the saliency network on (try a lower --min-confidence)")  # fmt: skip
    num_confident = len(confident)
    rng = np.random.default_rng(s.seed)
    if len(confident) > s.max_train:
        picked = sorted(rng.choice(len(confident), s.max_train, replace=False))
        confident = [confident[i] for i in picked]
    jobs = [(t, masks[str(t["ann_id"])]["rle"], s.input_size, s.margin) for t in confident]
    pairs = list(tqdm(imap_tasks(_train_task, jobs, workers), total=len(jobs),
                      desc="training crops"))  # fmt: skip
    bar = tqdm(total=s.steps, desc="saliency training")

    def progress(step, loss):
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    model, losses = train_saliency(
        np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), steps=s.steps,
        batch_size=s.batch_size, device=s.device, seed=s.seed, progress=progress)  # fmt: skip
    bar.close()
    state = {"signature": signature, "model": {k: v.cpu() for k, v in model.state_dict().items()},
             "losses": losses, "confident": num_confident, "trained_on": len(confident),
             "annotations": len(tasks)}  # fmt: skip
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return state


def _prepare_task(args):
    task, size, margin = args
    image, _ = read_image(task)
    if image is None:
        return None, None
    x, _, window = crop_inputs(image, task["box"], size, margin)
    return x, window


def _refine_task(args):
    task, prob, window = args
    m = refine_masks(prob, window, task["box"], task["height"], task["width"])
    return encode_rle(m) if m.any() else None


def _step_refine(tasks, coarse, state, s: MaskSettings, workers, batch=256):
    """Final masks {ann_id str: rle} from the trained network (only where step 1 had an image);
    where the network finds nothing in the box, the coarse mask is kept. Returns (masks, number
    of such fallbacks)."""
    from .saliency import SaliencyNet

    model = SaliencyNet()
    model.load_state_dict(state["model"])
    model.to(s.device)
    todo = [t for t in tasks if str(t["ann_id"]) in coarse["masks"]]
    out, fallbacks = {}, 0
    bar = tqdm(total=len(todo), desc="saliency refinement")
    for i in range(0, len(todo), batch):
        chunk = todo[i : i + batch]
        jobs = [(t, s.input_size, s.margin) for t in chunk]
        prepared = list(imap_tasks(_prepare_task, jobs, workers))
        probs = predict_saliency(model, np.stack([p[0] for p in prepared]), s.device)
        jobs = [(t, p, w) for t, p, (_, w) in zip(chunk, probs, prepared)]
        for t, rle in zip(chunk, imap_tasks(_refine_task, jobs, workers)):
            key = str(t["ann_id"])
            if rle is None and _rle_area(coarse["masks"][key]["rle"]) > 0:
                rle, fallbacks = coarse["masks"][key]["rle"], fallbacks + 1
            out[key] = rle
        bar.update(len(chunk))
    bar.close()
    if fallbacks:
        logger.info(f"saliency refinement: {fallbacks} empty network masks replaced by the "
                    "coarse ones")  # fmt: skip
    return out, fallbacks


def _rle_area(rle: Optional[Dict]) -> int:
    if rle is None:
        return 0
    return int(mask_util.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))


def _write_masks(data, tasks, coarse, final, path, signature) -> Dict:
    """The dataset's JSON with RLE ``segmentation`` and mask ``area``; annotations without a mask
    (and images left without annotations) are left out and listed in ``info``."""
    warnings, skipped = list(coarse["warnings"]), []
    area = {t["ann_id"]: _rle_area(final.get(str(t["ann_id"]))) for t in tasks}
    for t in tasks:
        if area[t["ann_id"]] == 0:
            skipped.append({"id": t["ann_id"], "file_name": os.path.basename(t["path"])})
            if str(t["ann_id"]) in coarse["masks"]:  # else step 1 has warned already
                warnings.append(f"no product found in the box {t['box']} of {t['path']} "
                                f"(annotation id {t['ann_id']}): skipped")  # fmt: skip
                logger.warning(warnings[-1])
    annotations = [{**ann, "segmentation": final[str(ann["id"])], "area": area[ann["id"]]}
                   for ann in data["annotations"] if area[ann["id"]] > 0]  # fmt: skip
    if not annotations:
        raise UserError(f"{path}: not written: no annotation of {len(tasks)} got a mask (first "
                        f"reason: {warnings[0] if warnings else 'no product found'})")
    image_ids = {a["image_id"] for a in annotations}
    info = {**data.get("info", {}), "cutouts_signature": signature,
            "cutouts_skipped": skipped, "cutouts_warnings": warnings}  # fmt: skip
    out = {**data, "info": info, "annotations": annotations,
           "images": [im for im in data["images"] if im["id"] in image_ids]}  # fmt: skip
    _write_json(path, out)
    return {"written": len(annotations), "skipped": len(skipped)}


def _signatures(json_file, image_root, params, s: MaskSettings):
    """(coarse, saliency or None, final) signatures of a run's steps, computed before any."""
    coarse_method = "grabcut" if s.method == "grabcut" else "coarse"
    sig = _signature(file_digest(json_file), os.path.abspath(image_root), coarse_method,
                     vars(params))  # fmt: skip
    saliency = _signature(sig, s.saliency_key()) if s.method == "saliency" else None
    final = _signature(saliency or sig, "final", "coarse where the network finds nothing")
    return sig, saliency, final


def _check_not_other_run(path, signature):
    """A masks file at ``path`` from other inputs or settings is not replaced silently."""
    if os.path.isfile(path):
        info = read_json(path, object_only=True).get("info", {})
        if info.get("cutouts_signature") != signature:
            raise UserError(f"{path} holds masks of other inputs or settings: pass --overwrite "
                            "to replace them")


def run_masks(json_file: str, image_root: str, out: str, settings: MaskSettings,
              workers: int = 1, overwrite: bool = False) -> Dict:  # fmt: skip
    """
    Compute the masks of every annotation of ``json_file`` (see the module docstring) and write
    ``masks_file(json_file, out)``. Returns a summary: ``masks_file, method, annotations,
    written, skipped`` and, with the saliency method, ``confident``, ``trained_on`` and
    ``coarse_fallbacks`` (empty network masks replaced by the coarse ones; absent when skipped).
    A masks file of other inputs or settings is replaced only with ``overwrite``.
    """
    s = settings
    data, tasks = _tasks(json_file, image_root)
    params = s.coarse
    coarse_method = "grabcut" if s.method == "grabcut" else "coarse"
    sig, saliency_sig, final_sig = _signatures(json_file, image_root, params, s)
    if not overwrite:
        _check_not_other_run(masks_file(json_file, out), final_sig)
    if s.device == "cpu":
        torch.set_num_threads(s.threads)
    work = work_dir(out)
    coarse = _step_coarse(tasks, os.path.join(work, f"{coarse_method}.json"), sig, params,
                          coarse_method, workers)  # fmt: skip
    summary = {"masks_file": masks_file(json_file, out), "method": s.method,
               "annotations": len(tasks)}  # fmt: skip
    state = None
    if s.method == "saliency":
        state = _step_saliency(tasks, coarse, os.path.join(work, "saliency.pth"), saliency_sig, s,
                               workers)  # fmt: skip
        summary.update(confident=state["confident"], trained_on=state["trained_on"])
    sig = final_sig
    if os.path.isfile(summary["masks_file"]):
        with open(summary["masks_file"]) as f:
            info = json.load(f).get("info", {})
        if info.get("cutouts_signature") == sig:
            logger.info(f"final masks: {summary['masks_file']} is up to date, skipped")
            return {**summary, "written": None, "skipped": len(info.get("cutouts_skipped", []))}
    if state is None:
        final = {k: v["rle"] for k, v in coarse["masks"].items()}
    else:
        final, summary["coarse_fallbacks"] = _step_refine(tasks, coarse, state, s, workers)
    summary.update(_write_masks(data, tasks, coarse, final, summary["masks_file"], sig))
    return summary
