"""SynthesisDatasetMapper and the synth_scenes loader: targets, mixing, determinism, workers."""
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog

from dpsnet_d2 import DPSNetTrainer
from dpsnet_d2.augment import SynthesisDatasetMapper, mixed_train_dicts
from dpsnet_d2.augment.synthesis.loader import EpochMappedDataset, EpochTrainingSampler
from dpsnet_d2.data.datasets import register_rpc_splits
from dpsnet_d2.engine.trainer import build_train_mapper


@pytest.fixture
def tiny_embedded_registered(tiny_embedded_root):
    """The tiny embedded set registered as tinyembedded_{train,val,test}; catalogs restored."""
    datasets, metadata = dict(DatasetCatalog), dict(MetadataCatalog)
    register_rpc_splits(tiny_embedded_root, "tinyembedded_{split}")
    yield "tinyembedded_train"
    DatasetCatalog.clear()
    DatasetCatalog.update(datasets)
    MetadataCatalog.clear()
    MetadataCatalog.update(metadata)


@pytest.fixture
def cfg(tiny_dpsnet_cfg, true_store):
    cfg = tiny_dpsnet_cfg()
    cfg.merge_from_list([
        "MODEL.ROI_HEADS.NUM_CLASSES", "10",
        "DATASETS.TRAIN", "('synth_scenes',)",
        "INPUT.DATASET_MAPPER_NAME", "synthesis",
        "INPUT.SYNTHESIS.CUTOUT_STORE", true_store.folder,
        "INPUT.SYNTHESIS.REFERENCE_SIZE", "128",
        "INPUT.SYNTHESIS.EPOCH_SIZE", "6",
        "INPUT.RANDOM_FLIP", "none",
        "SOLVER.IMS_PER_BATCH", "2",
    ])
    return cfg


def test_synthesized_sample_has_instances_and_density_that_integrates_to_the_count(cfg):
    mapper = build_train_mapper(cfg)
    assert isinstance(mapper, SynthesisDatasetMapper)
    for k in range(6):
        out = mapper({"synthesis_index": k, "image_id": f"synth_{k}"})
        n = len(out["instances"])
        assert out["image"].shape == (3, 64, 64) and out["image"].dtype == torch.uint8
        assert 4 <= n <= 20 and out["level"] in ("easy", "medium", "hard")
        assert out["density"].shape == (1, 8, 8)
        assert out["density"].sum().item() == pytest.approx(n, abs=1e-3)
        assert (out["instances"].gt_classes < 10).all()


def test_same_index_same_sample_and_new_scenes_every_epoch(cfg):
    mapper = build_train_mapper(cfg)
    dataset = EpochMappedDataset([{"synthesis_index": 0}, {"synthesis_index": 1}], mapper)
    a, b = dataset[1], dataset[1]
    assert torch.equal(a["image"], b["image"])
    assert torch.equal(a["instances"].gt_boxes.tensor, b["instances"].gt_boxes.tensor)
    assert not torch.equal(a["image"], dataset[3]["image"])  # record 1 in epoch 1
    sampler = iter(EpochTrainingSampler(2, seed=0))
    first = [next(sampler) for _ in range(6)]
    assert sorted(first[:2]) == [0, 1] and sorted(first[2:4]) == [2, 3]


def _first_batches(cfg, workers, count=3):
    cfg = cfg.clone()
    cfg.merge_from_list(["DATALOADER.NUM_WORKERS", str(workers)])
    loader = iter(DPSNetTrainer.build_train_loader(cfg))
    return [next(loader) for _ in range(count)]


def test_multi_worker_loading_gives_the_same_scenes(cfg):
    one, two = _first_batches(cfg, 0), _first_batches(cfg, 2)
    for b1, b2 in zip(one, two):
        assert [d["image_id"] for d in b1] == [d["image_id"] for d in b2]
        for d1, d2 in zip(b1, b2):
            assert torch.equal(d1["image"], d2["image"])
            assert torch.equal(d1["density"], d2["density"])
    ids = [d["image_id"] for b in one for d in b]
    assert len(set(ids)) == len(ids)  # 6 records, 6 different scenes (incl. the next epoch)


def test_mixing_with_an_ordinary_dataset_by_ratio(cfg, tiny_embedded_registered):
    cfg.merge_from_list(["DATASETS.TRAIN", f"('synth_scenes', '{tiny_embedded_registered}')",
                         "INPUT.SYNTHESIS.RATIO", "0.75"])
    dicts = mixed_train_dicts(cfg)
    synth = [d for d in dicts if "synthesis_index" in d]
    assert len(dicts) - len(synth) == 20 and len(synth) == 60  # 3:1
    batches = _first_batches(cfg, 0, count=12)
    kinds = {("synthesis" if str(d["image_id"]).startswith("synth_") else "file")
             for b in batches for d in b}
    assert kinds == {"synthesis", "file"}
    for d in (d for b in batches for d in b):
        assert d["density"].sum().item() == pytest.approx(len(d["instances"]), abs=1e-3)


def test_classes_of_the_ordinary_dataset_must_match_the_store(cfg, tiny_coco):
    cfg.merge_from_list(["DATASETS.TRAIN", f"('synth_scenes', '{tiny_coco}')"])
    with pytest.raises(ValueError, match="must be the same"):
        mixed_train_dicts(cfg)


def test_synth_scenes_needs_the_synthesis_mapper_and_a_store(cfg):
    bad = cfg.clone()
    bad.merge_from_list(["INPUT.DATASET_MAPPER_NAME", "dpsnet"])
    with pytest.raises(ValueError, match="need the 'synthesis' mapper"):
        build_train_mapper(bad)
    bad = cfg.clone()
    bad.merge_from_list(["INPUT.SYNTHESIS.CUTOUT_STORE", ""])
    with pytest.raises(ValueError, match="CUTOUT_STORE is empty"):
        build_train_mapper(bad)
    bad = cfg.clone()
    bad.merge_from_list(["INPUT.SYNTHESIS.RATIO", "0.0"])
    with pytest.raises(ValueError, match="RATIO"):
        mixed_train_dicts(bad)
