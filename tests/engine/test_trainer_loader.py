"""DPSNetTrainer.build_train_loader: the mapper must build density targets for the counting view."""
import pytest
from detectron2.data import DatasetMapper

from dpsnet_d2 import DPSNetTrainer
from dpsnet_d2.engine.trainer import build_train_mapper


def test_d2_mapper_with_the_density_head_is_a_clear_error(tiny_dpsnet_cfg):
    cfg = tiny_dpsnet_cfg("INPUT.DATASET_MAPPER_NAME", "d2")
    with pytest.raises(ValueError, match="DATASET_MAPPER_NAME='d2'.*DENSITY_HEAD.ENABLED"):
        DPSNetTrainer.build_train_loader(cfg)


def test_d2_mapper_without_the_density_head_builds(tiny_dpsnet_cfg):
    cfg = tiny_dpsnet_cfg("INPUT.DATASET_MAPPER_NAME", "d2", "MODEL.DENSITY_HEAD.ENABLED", "False")
    assert type(build_train_mapper(cfg)) is DatasetMapper
    batch = next(iter(DPSNetTrainer.build_train_loader(cfg)))
    assert len(batch) == 2 and all("density" not in d and "instances" in d for d in batch)
