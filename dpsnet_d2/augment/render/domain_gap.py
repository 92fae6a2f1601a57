"""
How far two image domains are apart (for judging a renderer: synthesized vs rendered vs target).

* :func:`colour_w2`: per-channel Gaussian 2-Wasserstein distance of the pixel colours;
* :func:`classifier_accuracy`: held-out accuracy of a small CNN that tells the domains apart
  (0.5: indistinguishable; 1.0: always told apart).

Shapes: images are H x W x 3 uint8 RGB (any sizes); the classifier sees N x 3 x 96 x 96 thumbnails
scaled to [-1, 1].
"""
import cv2
import numpy as np
import torch
from torch import nn

__all__ = ["DomainClassifier", "classifier_accuracy", "colour_w2"]

# Side of the classifier's thumbnails.
_THUMB = 96


def colour_w2(images_a, images_b):
    """Per-channel Gaussian 2-Wasserstein distance (0-255 units) between two lists of RGB images."""

    def stats(images):
        pixels = np.concatenate([im.reshape(-1, 3) for im in images]).astype(np.float64)
        return pixels.mean(0), pixels.std(0)

    (ma, sa), (mb, sb) = stats(images_a), stats(images_b)
    return np.sqrt((ma - mb) ** 2 + (sa - sb) ** 2)


class DomainClassifier(nn.Module):
    """N x 3 x 96 x 96 -> N logits (B vs A): four stride-2 conv + BN + ReLU, global average pool."""

    def __init__(self, width=16):
        super().__init__()
        layers, c = [], 3
        for k in range(4):
            layers += [nn.Conv2d(c, width << k, 3, 2, 1), nn.BatchNorm2d(width << k), nn.ReLU(True)]
            c = width << k
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1))

    def forward(self, x):
        return self.body(x).squeeze(1)


def _thumbs(images):
    arr = np.stack([cv2.resize(im, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def classifier_accuracy(images_a, images_b, seed, epochs=15):
    """Held-out accuracy of a DomainClassifier trained on 70 % of A and B (split by ``seed``)."""
    x = torch.cat([_thumbs(images_a), _thumbs(images_b)])
    y = torch.cat([torch.zeros(len(images_a)), torch.ones(len(images_b))])
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=g)
    cut = int(0.7 * len(x))
    train, test = order[:cut], order[cut:]
    torch.manual_seed(seed)
    model = DomainClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for idx in train[torch.randperm(len(train), generator=g)].split(32):
            xb = x[idx]
            xb = torch.where(torch.rand(len(xb), 1, 1, 1, generator=g) < 0.5, xb, xb.flip(3))
            loss = nn.functional.binary_cross_entropy_with_logits(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float(((model(x[test]) > 0).float() == y[test]).float().mean())
