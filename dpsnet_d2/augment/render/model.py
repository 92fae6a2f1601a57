"""
CycleGAN between synthesized scenes (domain A) and target checkout images (domain B): its
settings, its four networks, the losses of the two halves of a step and the learning-rate
schedule (``train.py`` runs the steps).

Shapes: N images, 3 x H x W pixels in [-1, 1] (H, W multiples of 4).

One step (Zhu et al. 2017): G: A -> B and F: B -> A are updated together on the generator loss
(:meth:`CycleGAN.generator_losses`), then D_A and D_B on their own losses
(:meth:`CycleGAN.discriminator_losses`), each against a fake drawn from its image pool of 50.
Adam (lr 2e-4, beta1 0.5) for both groups, the learning rate constant for the first
``decay_start`` steps, then linearly down to 0 at ``max_iter`` (:func:`lr_factor`).
"""
import dataclasses
from dataclasses import dataclass
from typing import Dict

import torch
from torch import nn

from .losses import discriminator_loss, generator_losses
from .networks import PatchDiscriminator, ResnetGenerator, default_num_blocks, init_weights

__all__ = ["CycleGANConfig", "CycleGAN", "ARCH_FIELDS", "lr_factor"]

# Fields that fix the shapes of the weights: a checkpoint must agree on them.
ARCH_FIELDS = ("num_blocks", "gen_channels", "disc_channels")


@dataclass
class CycleGANConfig:
    """
    Settings of a CycleGAN training (published values as defaults, except sizes and length).

    Attributes:
        image_size: side of the square training crops (px).
        load_size: images are resized so that their longer side is ``load_size`` before
            cropping; ``render`` translates at the same scale, then resizes back.
        num_blocks: generator residual blocks; 0 = 6 if image_size <= 256 else 9.
        gen_channels, disc_channels: first-layer widths (64 published).
        lambda_cycle: weight of the cycle-consistency terms (10).
        lambda_identity: weight of the identity terms relative to lambda_cycle (0.5).
        pool_size: fakes kept for the discriminators (50).
        lr, beta1: Adam settings (2e-4, 0.5).
        max_iter: optimisation steps in all.
        decay_start: step from which the learning rate decays linearly to 0 at max_iter
            (-1: max_iter // 2, as the published 100 + 100 epochs).
        batch_size: images per domain and step (1 published).
        seed: seed of initialisation, crops and pool.
    """

    image_size: int = 256
    load_size: int = 286
    num_blocks: int = 0
    gen_channels: int = 64
    disc_channels: int = 64
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    max_iter: int = 1000
    decay_start: int = -1
    batch_size: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.num_blocks == 0:
            self.num_blocks = default_num_blocks(self.image_size)
        if self.decay_start < 0:
            self.decay_start = self.max_iter // 2
        if self.image_size % 4 or self.image_size < 32:
            raise ValueError(f"image_size must be a multiple of 4 and >= 32, got {self.image_size}")
        if self.load_size < self.image_size:
            raise ValueError(
                f"load_size {self.load_size} is smaller than image_size {self.image_size}"
            )
        if not 0 <= self.decay_start <= self.max_iter:
            raise ValueError(
                f"decay_start {self.decay_start} is outside [0, max_iter {self.max_iter}]"
            )

    def as_dict(self) -> Dict:
        return dataclasses.asdict(self)


class CycleGAN(nn.Module):
    """The four networks: ``g_ab`` (A -> B, the renderer), ``g_ba``, ``d_a``, ``d_b``."""

    def __init__(self, cfg: CycleGANConfig):
        super().__init__()
        self.cfg = cfg
        gen = dict(num_blocks=cfg.num_blocks, base_channels=cfg.gen_channels)
        self.g_ab = ResnetGenerator(**gen)
        self.g_ba = ResnetGenerator(**gen)
        self.d_a = PatchDiscriminator(base_channels=cfg.disc_channels)
        self.d_b = PatchDiscriminator(base_channels=cfg.disc_channels)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            init_weights(self)

    def translate(self, images_a: torch.Tensor) -> torch.Tensor:
        """A -> B: N x 3 x H x W in [-1, 1] -> the same shape."""
        return self.g_ab(images_a)

    def generator_losses(self, real_a: torch.Tensor, real_b: torch.Tensor):
        """
        The generators' side of a step; the discriminators take no gradient from it.

        Args:
            real_a, real_b: N x 3 x H x W in [-1, 1] of each domain (N may differ).
        Returns:
            ({loss_gan_ab, loss_gan_ba, loss_cycle_a, loss_cycle_b, loss_idt_a, loss_idt_b}:
            weighted scalars whose sum the generators minimise, fake_a = F(real_b),
            fake_b = G(real_a)).
        """
        cfg = self.cfg
        fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
        identity = cfg.lambda_identity > 0
        for d in (self.d_a, self.d_b):
            d.requires_grad_(False)
        losses = generator_losses(
            real_a=real_a, real_b=real_b, fake_b=fake_b, fake_a=fake_a,
            rec_a=self.g_ba(fake_b), rec_b=self.g_ab(fake_a),
            idt_a=self.g_ba(real_a) if identity else None,
            idt_b=self.g_ab(real_b) if identity else None,
            score_fake_b=self.d_b(fake_b), score_fake_a=self.d_a(fake_a),
            lambda_cycle=cfg.lambda_cycle, lambda_identity=cfg.lambda_identity,
        )  # fmt: skip
        for d in (self.d_a, self.d_b):
            d.requires_grad_(True)
        return losses, fake_a, fake_b

    def discriminator_losses(self, real_a, real_b, fake_a, fake_b) -> Dict[str, torch.Tensor]:
        """
        The discriminators' side of a step.

        Args:
            real_a, real_b: N x 3 x H x W real images of each domain.
            fake_a, fake_b: N x 3 x H x W generated images (from the image pools), detached.
        Returns:
            {loss_d_a, loss_d_b}: scalars.
        """
        loss_d_b = discriminator_loss(self.d_b(real_b), self.d_b(fake_b))
        loss_d_a = discriminator_loss(self.d_a(real_a), self.d_a(fake_a))
        return {"loss_d_a": loss_d_a, "loss_d_b": loss_d_b}


def lr_factor(cfg: CycleGANConfig, step: int) -> float:
    """The learning-rate multiplier after ``step`` steps: 1 up to decay_start, then linearly to 0
    at max_iter."""
    span = max(1, cfg.max_iter - cfg.decay_start)
    return max(0.0, 1.0 - max(0, step - cfg.decay_start) / span)
