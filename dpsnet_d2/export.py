"""
DPSNet for deployment: both views (detections and density) traced into one TorchScript module
with Detectron2's :class:`~detectron2.export.TracingAdapter`, so a till runs the model without
dpsnet_d2's model code (``torch.jit.load``).

The traced module takes one network input and returns the raw outputs; :func:`exported_outputs`
turns them into what :class:`~dpsnet_d2.modeling.meta_arch.DPSNet` returns in Python
(instances rescaled to the photo, the density cropped to the unpadded input, the counts).

Shape shorthand — D: detections, C: density channels, H x W: network input (the photo resized
by ``ResizeShortestEdge``, in the model's INPUT.FORMAT), s: density stride,
h' x w': the density map of the padded input, h x w = ceil(H / s) x ceil(W / s).
"""
from typing import Dict, Tuple

import numpy as np
import torch
from detectron2.data.transforms import ResizeShortestEdge
from detectron2.export import TracingAdapter
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

__all__ = ["export_dpsnet", "exported_outputs", "network_input", "raw_outputs"]


def network_input(cfg, image_bgr: np.ndarray) -> torch.Tensor:
    """
    A photo as the network input, as :class:`~detectron2.engine.DefaultPredictor` makes it.

    Args:
        image_bgr: H0 x W0 x 3 uint8 BGR (OpenCV).
    Returns:
        3 x H x W float32 in INPUT.FORMAT, resized by ResizeShortestEdge(INPUT.MIN_SIZE_TEST,
        INPUT.MAX_SIZE_TEST).
    """
    if cfg.INPUT.FORMAT == "RGB":
        image_bgr = image_bgr[:, :, ::-1]
    resize = ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    image = resize.get_transform(image_bgr).apply_image(image_bgr)
    return torch.as_tensor(image.astype("float32").transpose(2, 0, 1))


def raw_outputs(model, image: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """
    Both views of DPSNet on one network input, before post-processing: the function
    :class:`TracingAdapter` traces.

    Args:
        model: a DPSNet in eval mode (with its counting view).
        image: 3 x H x W.
    Returns:
        (boxes D x 4 in input pixels, scores (D,), classes (D,) int64, density C x h' x w').
    """
    if model.density_head is None:
        raise ValueError("export_dpsnet needs the counting view (MODEL.DENSITY_HEAD.ENABLED)")
    with model._keep_backbone_features() as kept:
        instances = model.inference([{"image": image}], do_postprocess=False)[0]
    density, _ = model.density_head(kept["features"])
    return instances.pred_boxes.tensor, instances.scores, instances.pred_classes, density[0]


def export_dpsnet(model, image: torch.Tensor) -> torch.jit.ScriptModule:
    """
    Trace ``model`` (DPSNet, eval mode) on ``image`` (3 x H x W, a network input).

    Returns:
        a TorchScript module: ``module(image 3 x H' x W')`` -> the tuple of :func:`raw_outputs`.
        Detectron2's traceable code paths keep the image size dynamic.
    """
    adapter = TracingAdapter(model, image, inference_func=raw_outputs)
    with torch.no_grad():
        return torch.jit.trace(adapter, adapter.flattened_inputs, check_trace=False)


def exported_outputs(
    raw: Tuple[torch.Tensor, ...], *, input_size: Tuple[int, int], output_size: Tuple[int, int],
    stride: int,
) -> Dict:
    """
    Args:
        raw: a traced module's (or :func:`raw_outputs`') tuple.
        input_size: (H, W) of the network input.
        output_size: (height, width) of the photo.
        stride: s.
    Returns:
        as DPSNet in Python: "instances" (pred_boxes, scores, pred_classes in photo pixels),
        "density" C x h x w and "counts" (C,).
    """
    boxes, scores, classes, density = raw
    instances = Instances(tuple(input_size), pred_boxes=Boxes(boxes), scores=scores,
                          pred_classes=classes)
    height, width = input_size
    density = density[:, : -(-height // stride), : -(-width // stride)]
    return {
        "instances": detector_postprocess(instances, *output_size),
        "density": density,
        "counts": density.sum(dim=(1, 2)),
    }
