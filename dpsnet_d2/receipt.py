"""
The checkout receipt: what DPSNet's two views say about one photo of the counter, for the till.

* the shopping list: SKU -> count, from the detections with score > the threshold;
* the counting view's count per density channel (rounded density sums);
* "needs a look": the two views disagree (the distillation's consistency check, used at the till);
* a picture: boxes with SKU names (Detectron2's Visualizer) beside the density map overlaid.

Shape shorthand — D: detections, C: density channels, h x w: density map at stride s over the
network input (the resized image), H x W: the photo.
"""
import os
from collections import Counter
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch

from detectron2.utils.visualizer import Visualizer

from .distill.consistency import check_consistency
from .utils.file_io import atomic_write_bytes, write_json_atomic
from .utils.paths import path_inside

__all__ = ["default_channel_names", "make_receipt", "nonfinite_outputs", "receipt_text",
           "draw_receipt", "write_receipt", "write_receipt_index"]


def nonfinite_outputs(outputs: Dict) -> List[str]:
    """The fields of one image's output holding NaN or infinite values ("scores", "boxes",
    "counts"); [] when all are finite."""
    instances = outputs["instances"]
    fields = {"scores": instances.scores, "boxes": instances.pred_boxes.tensor}
    if "counts" in outputs:
        fields["counts"] = outputs["counts"]
    return [k for k, v in fields.items() if not bool(torch.isfinite(v).all())]


def make_receipt(
    outputs: Dict,
    thing_classes: Sequence[str],
    *,
    threshold: float,
    class_to_channel: Sequence[int],
    channel_names: Optional[Sequence[str]] = None,
) -> Dict:
    """
    Args:
        outputs: one image's DPSNet output ("instances"; "counts" (C,) when the counting view
            is on).
        thing_classes: K class names.
        threshold: detections with score > threshold are bought.
        class_to_channel: K ints in [0, C), the class -> density channel map.
        channel_names: C names for "look_reasons" (default :func:`default_channel_names`).
    Returns:
        dict: "items" {SKU name: count} (sorted by name), "total", "density_counts" and
        "detection_counts" (C ints each) and "density_total" (float) when the counting view is
        on, "needs_look" (bool: the views disagree; False without a counting view) and
        "look_reasons" (one line per channel where they disagree).
    Raises:
        ValueError: the outputs hold NaN or infinite values (never a receipt).
    """
    bad = nonfinite_outputs(outputs)
    if bad:
        raise ValueError(f"the model's {', '.join(bad)} hold NaN or infinite values: no receipt")
    instances = outputs["instances"].to("cpu")
    scores = instances.scores.float().numpy()  # bf16 under CPU autocast
    classes = instances.pred_classes.numpy()
    receipt = {"threshold": float(threshold)}
    if "counts" in outputs:
        counts = outputs["counts"].detach().cpu().float().numpy()
        check = check_consistency(
            scores, classes, counts, threshold=threshold, class_to_channel=class_to_channel
        )
        keep = check.keep
        names = channel_names or default_channel_names(len(check.density_counts))
        receipt.update(
            density_counts=[int(c) for c in check.density_counts],
            detection_counts=[int(c) for c in check.detection_counts],
            density_total=round(float(counts.sum()), 3),
            needs_look=not check.consistent,
            look_reasons=[
                f"{name}: {int(d)} detected vs {int(n)} counted"
                for name, d, n in zip(names, check.detection_counts, check.density_counts)
                if d != n
            ],
        )
    else:
        keep = scores > threshold
        receipt.update(needs_look=False, look_reasons=[])
    bought = Counter(thing_classes[int(c)] for c in classes[keep])
    receipt["items"] = dict(sorted(bought.items()))
    receipt["total"] = int(keep.sum())
    return receipt


def default_channel_names(num_channels: int) -> List[str]:
    """"all products" for the class-agnostic map (C = 1), else "channel 0" .. "channel C-1"."""
    return ["all products"] if num_channels == 1 else [f"channel {c}" for c in range(num_channels)]


def receipt_text(name: str, receipt: Dict) -> str:
    """The receipt as plain text (one line per SKU)."""
    lines = [f"Receipt for {name}", "-" * 40]
    width = max([len(k) for k in receipt["items"]] + [10])
    lines += [f"{sku:<{width}}  x{count}" for sku, count in receipt["items"].items()]
    lines.append("-" * 40)
    lines.append(f"{'items':<{width}}  {receipt['total']}")
    if "density_total" in receipt:
        lines.append(f"{'counting view':<{width}}  {receipt['density_total']:.1f}")
    if receipt["needs_look"]:
        lines.append("NEEDS A LOOK: the detection and counting views disagree")
        lines += [f"  {reason}" for reason in receipt.get("look_reasons", [])]
    return "\n".join(lines) + "\n"


def _density_overlay(image_rgb: np.ndarray, density: torch.Tensor, stride: int,
                     input_size) -> np.ndarray:
    """
    Args:
        image_rgb: H x W x 3 uint8.
        density: C x h x w (objects per cell) over the network input of ``input_size``.
        stride: s.
        input_size: (H_in, W_in) of the network input.
    Returns:
        H x W x 3 uint8: the photo darkened, the summed density in a colour map on top.
    """
    height, width = image_rgb.shape[:2]
    dmap = density.detach().cpu().float().sum(dim=0).numpy()  # h x w
    dmap = np.kron(dmap, np.ones((stride, stride), np.float32))[: input_size[0], : input_size[1]]
    dmap = cv2.resize(dmap, (width, height), interpolation=cv2.INTER_LINEAR)
    norm = np.clip(dmap / max(float(dmap.max()), 1e-6), 0, 1)
    heat = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    alpha = (0.25 + 0.6 * norm)[:, :, None]
    base = (image_rgb * 0.5).astype(np.float32)
    return (base * (1 - alpha) + heat * alpha).astype(np.uint8)


def draw_receipt(
    image_rgb: np.ndarray,
    outputs: Dict,
    metadata,
    receipt: Dict,
    *,
    stride: int,
    input_size,
) -> np.ndarray:
    """
    The receipt picture: the detections kept (boxes, SKU names, scores) | the density overlay
    (when the counting view is on) | the shopping list.

    Args:
        image_rgb: H x W x 3 uint8, the photo.
        outputs: its DPSNet output.
        metadata: the dataset metadata (``thing_classes``) for the Visualizer.
        receipt: :func:`make_receipt` of ``outputs``.
        stride, input_size: of the density map (see :func:`_density_overlay`).
    Returns:
        H x (2 or 3 panels) x 3 uint8 RGB.
    """
    instances = outputs["instances"].to("cpu")
    instances = instances[instances.scores > receipt["threshold"]]
    panels: List[np.ndarray] = [
        Visualizer(image_rgb, metadata).draw_instance_predictions(instances).get_image()
    ]
    if "density" in outputs:
        panels.append(_density_overlay(image_rgb, outputs["density"], stride, input_size))
    height = image_rgb.shape[0]
    panel = np.full((height, max(260, height // 2), 3), 255, np.uint8)
    scale = max(0.4, height / 1200)
    step = int(26 * scale / 0.6)
    flagged = False
    y = 0
    for line in receipt_text("", receipt).splitlines()[2:]:
        flagged = flagged or line.startswith("NEEDS")
        color = (200, 0, 0) if flagged else (20, 20, 20)
        for part in _wrap(line, panel.shape[1] - 16, scale):
            y += step
            cv2.putText(panel, part, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1,
                        cv2.LINE_AA)
    panels.append(panel)
    return np.concatenate(panels, axis=1)


def _wrap(line: str, width: int, scale: float) -> List[str]:
    """``line`` cut at spaces into parts at most ``width`` pixels wide in the receipt's font
    (a word wider than the panel stays whole); continuation parts are indented."""
    indent = line[: len(line) - len(line.lstrip())]
    parts, current = [], indent
    for word in line.split():
        candidate = f"{current} {word}" if current.strip() else current + word
        fits = cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] <= width
        if fits or not current.strip():
            current = candidate
        else:
            parts.append(current)
            current = indent + "  " + word
    return parts + [current]


def write_receipt(output: str, image_path: str, picture_rgb: np.ndarray, receipt: Dict) -> Dict:
    """
    Write one image's receipt into the folder ``output``, each file atomically and named by the
    image's whole file name (``a.jpg`` and ``a.png`` get receipts of their own):
    ``<name>.receipt.jpg`` (``picture_rgb``, H x W x 3 uint8, JPEG quality 90), ``<name>.json``
    (the image path and the receipt) and ``<name>.txt`` (:func:`receipt_text`); no name escapes
    ``output``.

    Returns:
        the receipt's entry of ``receipts.json``.
    """
    name, where = os.path.basename(image_path), f"--input {image_path}"
    _, jpg = cv2.imencode(".jpg", picture_rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    atomic_write_bytes(path_inside(output, name + ".receipt.jpg", where), jpg.tobytes())
    write_json_atomic(path_inside(output, name + ".json", where), {"image": image_path, **receipt},
                      indent=2)
    atomic_write_bytes(path_inside(output, name + ".txt", where),
                       receipt_text(name, receipt).encode())
    return {"image": image_path, "receipt": name + ".json", "total": receipt["total"],
            "needs_look": receipt["needs_look"]}


def write_receipt_index(output: str, index: List[Dict]) -> None:
    """``receipts.json`` in ``output``: the entries :func:`write_receipt` returned, and one
    ``{"image", "error"}`` entry per image that got no receipt."""
    write_json_atomic(os.path.join(output, "receipts.json"), index, indent=2)
