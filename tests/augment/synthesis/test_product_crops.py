"""Product crops for backbone pre-training: label = the pasted SKU, size, determinism, loader."""
import numpy as np
import pytest
import torch

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.augment import CutoutStore, write_cutout_store
from dpsnet_d2.augment.synthesis.product_crops import ProductCropMapper, build_product_crop_loader
from dpsnet_d2.augment.synthesis.scene_synthesis import SceneSynthesizer, scene_rng

# SKU -> the colour of its cut-outs (RGB), none of them near a counter's near-white grey
COLOURS = {0: (230, 20, 20), 1: (20, 200, 20), 2: (20, 20, 230)}


@pytest.fixture(scope="module")
def colour_store(tmp_path_factory):
    """A store of 3 SKUs x 2 cut-outs, each a solid 40 x 20 rectangle of its SKU's colour; SKU 2's
    cut-outs are not kept (never drawn)."""
    items = []
    for sku, colour in COLOURS.items():
        for view in range(2):
            rgba = np.zeros((40, 20, 4), np.uint8)
            rgba[..., :3], rgba[..., 3] = colour, 255
            record = {"sku": sku, "category_id": sku + 1, "image_id": 2 * sku + view,
                      "file_name": f"{sku}_{view}.jpg", "view": view, "area": 800.0,
                      "ratio": 1.0, "kept": sku != 2}
            items.append((record, rgba))
    folder = str(tmp_path_factory.mktemp("colour_store") / "store")
    write_cutout_store(folder, items, ["red", "green", "blue"])
    return CutoutStore(folder)


def _mapper(store, **kwargs):
    """Crops of 64 px on generated counters, no look and no augmentation unless given."""
    synthesizer = SceneSynthesizer(store, canvas_size=128, reference_size=128)
    return ProductCropMapper(synthesizer=synthesizer, crop_size=64, image_format="RGB", **kwargs)


def test_a_crop_holds_one_product_of_its_label_at_the_fill_size(colour_store):
    mapper = _mapper(colour_store, fill_range=(0.5, 0.8))
    labels = []
    for k in range(12):
        out = mapper({"synthesis_index": k})
        image, label = out["image"], out["label"]
        assert image.shape == (3, 64, 64) and image.dtype == torch.uint8 and out["crop_index"] == k
        pixels = image.permute(1, 2, 0).numpy().astype(int)
        near = {s: (np.abs(pixels - c).sum(axis=2) < 30).sum() for s, c in COLOURS.items()}
        # the label's colour, none of another SKU's; the product's area follows the fill range:
        # 40 x 20 scaled so its long side is 0.5-0.8 of 64 (shrunk only if rotated out of the crop)
        assert label in (0, 1) and max(near, key=near.get) == label, (k, near)
        assert 0.5 * (0.5 * 64) ** 2 * 0.8 <= near[label] <= 0.5 * (0.8 * 64) ** 2 * 1.1, near
        assert sum(v for s, v in near.items() if s != label) == 0
        labels.append(label)
    assert set(labels) == {0, 1}  # SKU 2 has no kept cut-out


def test_crop_k_is_always_the_same_and_the_format_is_followed(colour_store):
    rgb = _mapper(colour_store)
    first, again = rgb({"synthesis_index": 5}), rgb({"synthesis_index": 5})
    assert torch.equal(first["image"], again["image"])
    assert not torch.equal(first["image"], rgb({"synthesis_index": 6})["image"])
    bgr = ProductCropMapper(synthesizer=rgb.synthesizer, crop_size=64, image_format="BGR")
    assert torch.equal(bgr({"synthesis_index": 5})["image"], first["image"].flip(0))
    image, label = rgb.crop(scene_rng(0, 5))
    assert label == first["label"] and np.array_equal(image, first["image"].permute(1, 2, 0))


@pytest.mark.parametrize("kwargs", [{"fill_range": (0.9, 0.5)}, {"fill_range": (0.5, 1.2)},
                                    {"crop_size": 16}])
def test_bad_settings_are_refused(colour_store, kwargs):
    synthesizer = SceneSynthesizer(colour_store, canvas_size=128, reference_size=128)
    with pytest.raises(ValueError):
        ProductCropMapper(synthesizer=synthesizer, **{"crop_size": 64, **kwargs})


def test_loader_from_the_config_gives_batches_of_crops(true_store, tiny_embedded_root):
    """The config's store, counter photos, camera look and D2 augmentations; PRETRAIN's batch."""
    cfg = get_dpsnet_cfg(None, [
        "INPUT.SYNTHESIS.CUTOUT_STORE", true_store.folder,
        "INPUT.SYNTHESIS.BACKGROUND_DIR", f"{tiny_embedded_root}/counters",
        "INPUT.SYNTHESIS.CANVAS_SIZE", "128", "INPUT.SYNTHESIS.REFERENCE_SIZE", "128",
        "PRETRAIN.CROP_SIZE", "48", "PRETRAIN.IMS_PER_BATCH", "3",
        "INPUT.SYNTHESIS.EPOCH_SIZE", "4", "DATALOADER.NUM_WORKERS", "0", "SEED", "0",
    ])
    mapper = ProductCropMapper(cfg)
    assert mapper.camera is not None and len(mapper.augmentations.augs) == 5
    assert mapper.num_classes == len(true_store.thing_classes) == 10
    batches = iter(build_product_crop_loader(cfg, mapper))
    seen = [next(batches) for _ in range(3)]  # 9 crops: past the first epoch of 4
    assert all(len(b) == 3 and b[0]["image"].shape == (3, 48, 48) for b in seen)
    indices = [d["crop_index"] for b in seen for d in b]
    assert len(set(indices)) == 9  # every epoch draws new crops
    assert all(0 <= d["label"] < 10 for b in seen for d in b)
