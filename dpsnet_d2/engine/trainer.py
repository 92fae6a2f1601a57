"""The DPSNet trainer: DefaultTrainer with the mapper and evaluator chosen from the config."""
import os

from detectron2.data import DatasetMapper, MetadataCatalog, build_detection_train_loader
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import COCOEvaluator

from ..evaluation import RPCEvaluator

__all__ = ["DPSNetTrainer", "TRAIN_MAPPERS", "build_train_mapper"]

# cfg.INPUT.DATASET_MAPPER_NAME -> callable(cfg, is_train) returning a dataset mapper.
TRAIN_MAPPERS = {
    "d2": DatasetMapper,
}


def build_train_mapper(cfg):
    """Return the training mapper named by ``cfg.INPUT.DATASET_MAPPER_NAME``."""
    name = cfg.INPUT.DATASET_MAPPER_NAME
    if name not in TRAIN_MAPPERS:
        raise ValueError(
            f"cfg.INPUT.DATASET_MAPPER_NAME={name!r} is unknown; choose one of {sorted(TRAIN_MAPPERS)}"
        )
    return TRAIN_MAPPERS[name](cfg, True)


class DPSNetTrainer(DefaultTrainer):
    """
    DefaultTrainer for DPSNet. Differences, all through DefaultTrainer's ``build_*`` class methods:

    * ``build_train_loader``: the mapper named by ``cfg.INPUT.DATASET_MAPPER_NAME``;
    * ``build_evaluator``: chosen by the dataset's ``evaluator_type`` metadata
      (COCO's evaluator without compiled ops for "coco", :class:`RPCEvaluator` with the
      fixed threshold ``cfg.TEST.RPC_SCORE_THRESH`` and ``cfg.TEST.RPC_COMPUTE_MAP`` for "rpc").
    """

    @classmethod
    def build_train_loader(cls, cfg):
        return build_detection_train_loader(cfg, mapper=build_train_mapper(cfg))

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        evaluator_type = MetadataCatalog.get(dataset_name).get("evaluator_type", "coco")
        if evaluator_type == "coco":
            return COCOEvaluator(dataset_name, output_dir=output_folder, use_fast_impl=False)
        if evaluator_type == "rpc":
            return RPCEvaluator(
                dataset_name, output_folder, score_threshold=cfg.TEST.RPC_SCORE_THRESH,
                compute_map=cfg.TEST.RPC_COMPUTE_MAP,
            )
        raise ValueError(
            f"no evaluator for dataset {dataset_name!r} with evaluator_type={evaluator_type!r}"
        )
