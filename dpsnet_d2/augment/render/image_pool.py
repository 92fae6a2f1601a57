"""The history of generated images that CycleGAN's discriminators see (Shrivastava et al. 2017)."""
import random
from typing import List

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """
    A buffer of up to ``size`` earlier generated images. Each query returns, per image, with
    probability 0.5 the new image (which then replaces a random stored one) or else a stored
    one; until the buffer is full the new images are stored and returned. A discriminator fed
    from it sees the generator's recent history, not only its last step, which damps
    oscillation. ``size`` 0 returns the input unchanged.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        self.size = int(size)
        self.images: List[torch.Tensor] = []
        self._rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W (detached) -> N x 3 x H x W, drawn as described above."""
        if self.size == 0:
            return images
        if self.images and self.images[0].device != images.device:  # e.g. restored on CPU
            self.images = [t.to(images.device) for t in self.images]
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.random() < 0.5:
                k = self._rng.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self):
        """The stored images (on CPU) and the random state, for checkpoints."""
        return {
            "size": self.size,
            "images": [t.cpu() for t in self.images],
            "rng": self._rng.getstate(),
        }

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`; the images move to the device of the next query."""
        self.size = int(state["size"])
        self.images = list(state["images"])
        self._rng.setstate(state["rng"])
