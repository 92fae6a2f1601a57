"""
Predicting every target image at a round boundary, sharded over the processes of a
distributed run and gathered on the main one.

Shape shorthand — D: detections of one image, C: density channels.
"""
import logging
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from detectron2.data import transforms as T
from detectron2.data.common import DatasetFromList, MapDataset
from detectron2.evaluation.evaluator import inference_context
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

__all__ = ["ArrayImageMapper", "predict_images", "size_batches"]

logger = logging.getLogger(__name__)


def size_batches(records: Sequence[Dict], indices: Sequence[int], batch_size: int) -> List[List]:
    """
    Group ``indices`` into batches of at most ``batch_size`` images of one size (``height``,
    ``width``), in order of first appearance. Images of one size are resized alike, so a batch
    needs no padding between its images and an image's prediction does not depend on which other
    images share its batch.
    """
    buckets = OrderedDict()
    batches = []
    for i in indices:
        key = (records[i]["height"], records[i]["width"])
        bucket = buckets.setdefault(key, [])
        bucket.append(i)
        if len(bucket) == batch_size:
            batches.append(buckets.pop(key))
    return batches + [b for b in buckets.values() if b]


class ArrayImageMapper:
    """
    Inference mapper for images held in memory: a dict with ``image`` (H x W x 3 uint8 RGB)
    becomes the model input, resized as the test mapper resizes (INPUT.MIN/MAX_SIZE_TEST) and
    in the model's channel order (INPUT.FORMAT).
    """

    def __init__(self, cfg):
        self.resize = T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
        self.bgr = cfg.INPUT.FORMAT == "BGR"

    def __call__(self, record: Dict) -> Dict:
        image = record["image"][..., ::-1] if self.bgr else record["image"]
        image = self.resize.get_transform(image).apply_image(np.ascontiguousarray(image))
        return {"image": torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1))),
                "height": record["height"], "width": record["width"]}


def _trivial_collate(batch):
    return batch


def predict_images(
    model: torch.nn.Module,
    records: Sequence[Dict],
    mapper,
    *,
    batch_size: int = 1,
    num_workers: int = 0,
    desc: str = "predict",
    keep_density: bool = False,
) -> Optional[List[Dict]]:
    """
    Predict every image of ``records``; in a distributed run the batches (formed over all images,
    so an image meets the same batch companions whatever the number of processes) are dealt out
    to the processes in turn and the results gathered on the main process.

    Args:
        model: a DPSNet (or a DistributedDataParallel wrapping one, unwrapped here: the
            processes run different numbers of batches, so no collective may run per batch).
        records: image dicts (``file_name``, ``height``, ``width``, ...), the same list on
            every process.
        mapper: dataset dict -> model input (an inference mapper).
        batch_size: images per forward pass (of one size, see :func:`size_batches`).
        num_workers: data-loading worker processes.
        desc: tqdm label.
        keep_density: also return each image's density map.
    Returns:
        on the main process, one dict per record in order: ``boxes`` D x 4 float32 XYXY (image
        pixels), ``scores`` (D,) float32, ``classes`` (D,) int64, ``counts`` (C,) float32 (and
        with ``keep_density`` ``density`` C x h x w float32, at the network input's scale / s);
        None on the other processes.
    """
    if isinstance(model, DistributedDataParallel):
        model = model.module
    rank, world = comm.get_rank(), comm.get_world_size()
    batches = size_batches(records, range(len(records)), max(1, batch_size))[rank::world]
    dataset = MapDataset(DatasetFromList(list(records), copy=False, serialize=False), mapper)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, num_workers=num_workers, collate_fn=_trivial_collate
    )
    start = time.perf_counter()
    results = []
    with inference_context(model), torch.no_grad():
        for batch_indices, inputs in zip(
            batches, tqdm(loader, desc=desc, disable=not comm.is_main_process(), leave=False)
        ):
            for i, output in zip(batch_indices, model(inputs)):
                instances = output["instances"].to("cpu")
                result = {
                    "boxes": instances.pred_boxes.tensor.numpy().astype("float32"),
                    "scores": instances.scores.numpy().astype("float32"),
                    "classes": instances.pred_classes.numpy().astype("int64"),
                    "counts": output["counts"].detach().cpu().numpy().astype("float32"),
                }
                if keep_density:
                    result["density"] = output["density"].detach().cpu().numpy()
                results.append((i, result))
    seconds = time.perf_counter() - start
    logger.info(
        f"{desc}: {len(results)} images on process {rank} in {seconds:.1f}s "
        f"({len(results) / max(seconds, 1e-9):.2f} images/s)"
    )
    gathered = comm.gather(results, dst=0)
    if not comm.is_main_process():
        return None
    merged = dict(item for part in gathered for item in part)
    return [merged[i] for i in range(len(records))]
