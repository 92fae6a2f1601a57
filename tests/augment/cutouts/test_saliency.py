"""The saliency network: shapes, training lowers the loss, masks back in the image."""
import numpy as np
import torch

from dpsnet_d2.augment.cutouts.saliency import (
    SaliencyNet,
    crop_inputs,
    predict_saliency,
    refine_masks,
    train_saliency,
)


def _crops(n=6, size=32, seed=0):
    """n crops of a bright disc on a dark noisy background, with their masks."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        img = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
        yy, xx = np.mgrid[:64, :64]
        r = rng.integers(12, 20)
        mask = (yy - 32) ** 2 + (xx - 32) ** 2 < r * r
        img[mask] = (200, 180, 60)
        box = [32 - r, 32 - r, 2 * r, 2 * r]
        x, t, _ = crop_inputs(img, box, size, 0.1, mask)
        xs.append(x)
        ys.append(t)
    return np.stack(xs), np.stack(ys)


def test_net_shapes():
    net = SaliencyNet()
    assert net(torch.zeros(2, 4, 64, 64)).shape == (2, 1, 64, 64)


def test_crop_inputs():
    img = np.zeros((40, 60, 3), np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:20, 20:40] = True
    x, t, window = crop_inputs(img, [20, 10, 20, 10], 16, 0.1, mask)
    assert x.shape == (4, 16, 16) and x.dtype == np.float32 and t.shape == (16, 16)
    assert window == (18, 8, 42, 22)
    assert x[3].max() == 1.0 and x[3].min() == 0.0  # box prior
    assert 0.4 < t.mean() < 0.9
    x, t, window = crop_inputs(img, [59.5, 10, 0.3, 5], 16, 0.0)
    assert window[2] - window[0] < 2 and not x.any()


def test_training_lowers_the_loss():
    x, y = _crops()
    _, losses = train_saliency(x, y, steps=12, batch_size=4, lr=1e-2, seed=0)
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_refine_masks_pastes_into_the_box():
    prob = np.zeros((32, 32), np.float32)
    prob[4:28, 4:28] = 0.9
    prob[0:2, 0:2] = 0.9  # a speck: dropped as a small component
    m = refine_masks(prob, (10, 10, 42, 42), [12, 12, 28, 28], 60, 60)
    assert m.shape == (60, 60)
    assert not m[:12].any() and not m[:, :12].any()
    assert m[20:35, 20:35].all()
    probs = predict_saliency(SaliencyNet(), np.zeros((3, 4, 32, 32), np.float32))
    assert probs.shape == (3, 32, 32) and (probs >= 0).all() and (probs <= 1).all()
