"""
Synthesized scenes as training data that mixes with ordinary datasets in one loader.

* ``synth_scenes`` is a pseudo-dataset name: put it in ``DATASETS.TRAIN`` beside ordinary
  datasets (e.g. ``("synth_scenes", "synth_rpc_train")``). Its records are lightweight
  ``{"synthesis_index": i, ...}`` dicts; :class:`~.mapper.SynthesisDatasetMapper`
  composes scene i when it maps one.
* Ratio: with ordinary records present, ``synth_scenes`` gets ``round(R / (1 - R) x
  #ordinary)`` records (R = ``INPUT.SYNTHESIS.RATIO``), so a uniform sampler draws a synthesized
  scene with probability R; alone it gets ``INPUT.SYNTHESIS.EPOCH_SIZE`` records per epoch.
* Endless variety, reproducible: :class:`EpochTrainingSampler` (D2's ``TrainingSampler`` that
  also tells the epoch) and :class:`EpochMappedDataset` give synthesized record i in epoch e the
  scene index ``e * n + i`` (n records in all), so each (seed, sample) has its own scene and no
  scene repeats across epochs. The index comes from the sampler, so multi-worker loading
  (``DATALOADER.NUM_WORKERS``) gives the same scenes as one process.

:func:`build_synthesis_train_loader` builds such a loader from a config; extra dataset dicts (e.g.
pseudo-labelled target images) can join the ordinary ones.
"""
import copy
import logging
from typing import Dict, List, Sequence

import torch
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_train_loader
from detectron2.data import get_detection_dataset_dicts
from detectron2.data.samplers import TrainingSampler

from ..cutouts.store import CutoutStore
from .mapper import SYNTHESIS_KEY

__all__ = [
    "SYNTH_SCENES",
    "EpochMappedDataset",
    "EpochTrainingSampler",
    "build_epoch_loader",
    "build_synthesis_train_loader",
    "mixed_train_dicts",
    "synthesis_records",
    "uses_synthesis",
]

logger = logging.getLogger(__name__)

# The pseudo-dataset name of synthesized scenes in DATASETS.TRAIN.
SYNTH_SCENES = "synth_scenes"
_DEFAULT_EPOCH = 1000


def synthesis_records(num: int) -> List[Dict]:
    """``num`` synthesis records: ``{"synthesis_index": i, "image_id": "synth_<i>", ...}``."""
    return [{SYNTHESIS_KEY: i, "image_id": f"synth_{i}", "file_name": f"<{SYNTH_SCENES} {i}>"}
            for i in range(num)]


def uses_synthesis(cfg) -> bool:
    """Whether ``cfg.DATASETS.TRAIN`` holds the ``synth_scenes`` pseudo-dataset."""
    return SYNTH_SCENES in cfg.DATASETS.TRAIN


def mixed_train_dicts(cfg, extra_dicts: Sequence[Dict] = ()) -> List[Dict]:
    """
    The training records of ``cfg.DATASETS.TRAIN`` with ``synth_scenes`` expanded (see the
    module docstring): ordinary datasets loaded as D2 does, then ``extra_dicts``, then the
    synthesis records.

    Raises:
        ValueError: INPUT.SYNTHESIS.RATIO outside (0, 1], or ordinary datasets whose classes
            differ from the cut-out store's.
    """
    ratio = float(cfg.INPUT.SYNTHESIS.RATIO)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"INPUT.SYNTHESIS.RATIO={ratio}: need 0 < ratio <= 1")
    names = [n for n in cfg.DATASETS.TRAIN if n != SYNTH_SCENES]
    dicts = list(get_detection_dataset_dicts(
        names, filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)) if names else []
    dicts += list(extra_dicts)
    if SYNTH_SCENES not in cfg.DATASETS.TRAIN:
        return dicts
    if names and cfg.INPUT.SYNTHESIS.CUTOUT_STORE:
        classes = CutoutStore(cfg.INPUT.SYNTHESIS.CUTOUT_STORE).thing_classes
        for name in names:
            theirs = MetadataCatalog.get(name).get("thing_classes", None)
            if theirs is not None and list(theirs) != classes:
                raise ValueError(
                    f"dataset {name!r} has classes {theirs[:3]}... but the cut-out store "
                    f"{cfg.INPUT.SYNTHESIS.CUTOUT_STORE} has {classes[:3]}...: they must be the "
                    "same"
                )
    if dicts and ratio < 1.0:
        num = max(1, round(ratio / (1.0 - ratio) * len(dicts)))
    else:
        num = int(cfg.INPUT.SYNTHESIS.EPOCH_SIZE)
        if dicts:
            logger.warning("INPUT.SYNTHESIS.RATIO is 1: ordinary training records are dropped")
            dicts = []
    logger.info(f"Training on {num} synthesized + {len(dicts)} ordinary records per epoch")
    return dicts + synthesis_records(num)


class EpochTrainingSampler(TrainingSampler):
    """
    D2's :class:`TrainingSampler` (infinite, shuffled per epoch, sharded by rank) whose indices
    also carry the epoch: it yields ``e * size + i`` for record i in epoch e.
    """

    def _infinite_indices(self):
        g = torch.Generator()
        g.manual_seed(self._seed)
        epoch = 0
        while True:
            if self._shuffle:
                order = torch.randperm(self._size, generator=g)
            else:
                order = torch.arange(self._size)
            yield from (order + epoch * self._size).tolist()
            epoch += 1


class EpochMappedDataset(torch.utils.data.Dataset):
    """
    Map-style dataset over ``dicts`` that maps record ``k % n`` with ``mapper``; a synthesis
    record gets ``"synthesis_index" = k`` (its scene for this epoch). Index with the
    indices of :class:`EpochTrainingSampler`.
    """

    def __init__(self, dicts: Sequence[Dict], mapper):
        self.dicts = list(dicts)
        self.mapper = mapper

    def __len__(self) -> int:
        return len(self.dicts)

    def __getitem__(self, k: int):
        k = int(k)
        for step in range(len(self.dicts)):  # a record the mapper skips (None): the next one
            record = self.dicts[(k + step) % len(self.dicts)]
            if SYNTHESIS_KEY in record:
                record = {**record, SYNTHESIS_KEY: k + step, "image_id": f"synth_{k + step}"}
            else:
                record = copy.deepcopy(record)
            mapped = self.mapper(record)
            if mapped is not None:
                return mapped
        raise ValueError(f"none of the {len(self.dicts)} training records could be mapped")


def build_synthesis_train_loader(cfg, mapper, extra_dicts: Sequence[Dict] = ()):
    """
    D2's training loader over :func:`mixed_train_dicts` with :class:`EpochTrainingSampler`
    (batch size, aspect-ratio grouping and workers from ``cfg`` as D2 reads them).

    Args:
        mapper: maps both kinds of record (e.g. :class:`SynthesisDatasetMapper`).
        extra_dicts: more training records (e.g. pseudo-labelled images) beside the datasets.
    """
    dicts = mixed_train_dicts(cfg, extra_dicts)
    if not dicts:
        raise ValueError(f"DATASETS.TRAIN={cfg.DATASETS.TRAIN} gives no training records")
    return build_epoch_loader(cfg, dicts, mapper, cfg.SOLVER.IMS_PER_BATCH,
                              aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING)


def build_epoch_loader(cfg, dicts: Sequence[Dict], mapper, batch_size: int, *,
                       aspect_ratio_grouping: bool):
    """
    D2's training loader over ``dicts`` mapped by :class:`EpochMappedDataset` with
    :class:`EpochTrainingSampler` (seed ``cfg.SEED``, ``cfg.DATALOADER.NUM_WORKERS`` workers),
    ``batch_size`` records per step.
    """
    seed = cfg.SEED if cfg.SEED >= 0 else None
    return build_detection_train_loader(
        EpochMappedDataset(dicts, mapper),
        mapper=None,
        sampler=EpochTrainingSampler(len(dicts), seed=seed),
        total_batch_size=batch_size,
        aspect_ratio_grouping=aspect_ratio_grouping,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
    )


def _register():
    if SYNTH_SCENES not in DatasetCatalog.list():
        DatasetCatalog.register(SYNTH_SCENES, lambda: synthesis_records(_DEFAULT_EPOCH))


_register()
