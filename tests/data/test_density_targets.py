"""Ground-truth density maps: mass per object, Gaussian width, flips and resizes, channel maps."""
import math

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.transforms import HFlipTransform, ResizeTransform

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.data import DensityTargetGenerator
from dpsnet_d2.density_channels import density_channel_map
from dpsnet_d2.data.density_targets import SIGMA_PER_HALF_SIDE


def _generator(num_channels=3, sigma_min=1.0):
    return DensityTargetGenerator(
        num_channels=num_channels, class_to_channel=list(range(num_channels)), stride=8,
        sigma_min=sigma_min,
    )


def _centroid(density):
    """C x h x w -> (y, x) mass centre in map coordinates (cell j at j + 0.5)."""
    d = density.double().sum(0)
    ys = torch.arange(d.shape[0], dtype=torch.float64) + 0.5
    xs = torch.arange(d.shape[1], dtype=torch.float64) + 0.5
    return (d.sum(1) * ys).sum() / d.sum(), (d.sum(0) * xs).sum() / d.sum()


def test_channel_sums_equal_object_counts_inside_and_at_borders():
    boxes = torch.tensor(
        [
            [10.0, 12.0, 60.0, 50.0],  # inside
            [100.0, 40.0, 180.0, 130.0],  # inside, large
            [-20.0, 5.0, 15.0, 40.0],  # straddles the left border
            [170.0, 100.0, 230.0, 160.0],  # straddles the right and bottom borders
            [0.0, 0.0, 3.0, 3.0],  # tiny, in the corner (sigma_min)
            [196.0, 140.0, 196.0, 150.0],  # zero width on the right border
        ]
    )
    classes = torch.tensor([0, 2, 2, 1, 0, 2])
    density = _generator()(boxes, classes, (150, 197))
    assert density.shape == (3, math.ceil(150 / 8), math.ceil(197 / 8))
    assert density.dtype == torch.float32
    assert (density >= 0).all()
    expected = torch.bincount(classes, minlength=3).float()
    assert torch.allclose(density.sum(dim=(1, 2)), expected, atol=1e-4)


def test_each_object_sums_to_one_at_the_border():
    gen = _generator(num_channels=1)
    for box in ([0.0, 0.0, 40.0, 40.0], [90.0, 50.0, 128.0, 64.0], [-30.0, -30.0, 10.0, 10.0]):
        density = gen(torch.tensor([box]), torch.tensor([0]), (64, 128))
        assert abs(density.sum().item() - 1.0) < 1e-4


def test_no_objects_gives_zeros():
    density = _generator()(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), (65, 64))
    assert density.shape == (3, 9, 8) and density.abs().sum() == 0


def test_gaussian_width_follows_box_size():
    gen = _generator(num_channels=1)
    # 160 x 240 px box = 20 x 30 map cells: sigma = min(20, 30) / 2 * 5/12 in map pixels
    box = torch.tensor([[200.0, 180.0, 440.0, 340.0]])
    density = gen(box, torch.tensor([0]), (512, 640))[0].double()
    xs = torch.arange(density.shape[1], dtype=torch.float64) + 0.5
    px = density.sum(0)
    mean = (px * xs).sum()
    var = (px * (xs - mean) ** 2).sum()
    assert mean.item() == pytest.approx(320 / 8, abs=1e-6)
    assert math.sqrt(var.item()) == pytest.approx(20 / 2 * SIGMA_PER_HALF_SIDE, rel=1e-3)
    box = torch.tensor([[120.0, 120.0, 128.0, 128.0]])
    small = gen(box, torch.tensor([0]), (256, 256))[0].double()
    # a 1-cell box gets sigma_min = 1: the centre cell holds 1 / (sum of exp(-d^2 / 2))^2
    ref = np.exp(-0.5 * np.arange(-20, 21) ** 2).sum()
    assert small.max().item() == pytest.approx(1 / ref**2, rel=1e-3)


def test_hflip_equivariance_when_width_is_a_multiple_of_the_stride():
    """W = 8 w: building from flipped boxes == flipping the map (cell j <-> w - 1 - j), exactly."""
    gen = _generator()
    boxes = torch.tensor(
        [[3.0, 4.0, 50.0, 30.0], [60.0, 20.0, 120.0, 70.0], [110.0, 0.0, 128.0, 9.0]]
    )
    classes = torch.tensor([0, 1, 2])
    flipped = torch.as_tensor(HFlipTransform(128).apply_box(boxes.numpy()), dtype=torch.float32)
    a = gen(flipped, classes, (72, 128))
    b = torch.flip(gen(boxes, classes, (72, 128)), dims=[-1])
    assert torch.allclose(a, b, atol=1e-7)


def test_hflip_mirrors_the_mass_centre_for_any_width():
    """W not a multiple of 8: the map is not mirrored cell for cell, but the mass centre x of an
    interior object moves to W/8 - x (map coordinates)."""
    gen = _generator(num_channels=1)
    box, width = torch.tensor([[30.0, 20.0, 70.0, 60.0]]), 123
    flipped = torch.as_tensor(HFlipTransform(width).apply_box(box.numpy()), dtype=torch.float32)
    y0, x0 = _centroid(gen(box, torch.tensor([0]), (80, width)))
    y1, x1 = _centroid(gen(flipped, torch.tensor([0]), (80, width)))
    assert x1.item() == pytest.approx(width / 8 - x0.item(), abs=1e-4)
    assert y1.item() == pytest.approx(y0.item(), abs=1e-6)


def test_resize_moves_the_gaussian_with_the_box():
    gen = _generator(num_channels=1)
    box = np.array([[40.0, 24.0, 88.0, 72.0]])
    resize = ResizeTransform(96, 128, 192, 256)
    y0, x0 = _centroid(gen(torch.tensor(box), torch.tensor([0]), (96, 128)))
    big = gen(torch.tensor(resize.apply_box(box)), torch.tensor([0]), (192, 256))
    y1, x1 = _centroid(big)
    assert big.shape == (1, 24, 32) and big.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (y1.item(), x1.item()) == pytest.approx((2 * y0.item(), 2 * x0.item()), abs=1e-4)


def _cfg(mode, num_classes=3, train=()):
    cfg = get_dpsnet_cfg(opts=["MODEL.DENSITY_HEAD.CHANNEL_MODE", mode])
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = num_classes
    cfg.DATASETS.TRAIN = train
    return cfg


def test_channel_maps():
    assert density_channel_map(_cfg("agnostic")) == (1, [0, 0, 0])
    assert density_channel_map(_cfg("category")) == (3, [0, 1, 2])
    name = "dpsnet_test_density_supercategories"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, list)
        MetadataCatalog.get(name).set(
            supercategories=["drink", "food"], thing_class_to_supercategory=[1, 0, 1]
        )
    assert density_channel_map(_cfg("supercategory", train=(name,))) == (2, [1, 0, 1])
    generator = DensityTargetGenerator(_cfg("supercategory", train=(name,)))
    boxes = torch.tensor([[0.0, 0.0, 30.0, 30.0]] * 3)
    density = generator(boxes, torch.tensor([0, 1, 2]), (64, 64))
    assert density.sum(dim=(1, 2)).tolist() == pytest.approx([1.0, 2.0], abs=1e-5)


def test_supercategory_without_metadata_names_the_dataset():
    name = "dpsnet_test_density_no_supercategories"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, list)
    with pytest.raises(ValueError, match=name):
        density_channel_map(_cfg("supercategory", train=(name,)))
    with pytest.raises(ValueError, match="CHANNEL_MODE"):
        density_channel_map(_cfg("per-pixel"))


def test_supercategory_map_of_synthesized_scenes_comes_from_the_other_datasets():
    name = "dpsnet_test_density_supercategories_val"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, list)
        MetadataCatalog.get(name).set(
            thing_classes=["a", "b", "c"], supercategories=["drink", "food"],
            thing_class_to_supercategory=[0, 0, 1],
        )
    cfg = _cfg("supercategory", train=("synth_scenes",))
    cfg.DATASETS.TEST = (name,)
    assert density_channel_map(cfg) == (2, [0, 0, 1])
    cfg.DATASETS.TEST = ()
    with pytest.raises(ValueError, match="synth_scenes"):
        density_channel_map(cfg)
