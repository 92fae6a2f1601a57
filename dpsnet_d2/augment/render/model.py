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

from ...config import defaults_from_config, settings_from_node
from .losses import discriminator_loss, generator_losses
from .networks import PatchDiscriminator, ResnetGenerator, default_num_blocks, init_weights

__all__ = ["CycleGANConfig", "CycleGAN", "ARCH_FIELDS", "lr_factor"]

# Fields that fix the shapes of the weights: a checkpoint must agree on them.
ARCH_FIELDS = ("num_blocks", "gen_channels", "disc_channels")


@dataclass
@defaults_from_config("RENDER")
class CycleGANConfig:
    """
    Settings of a CycleGAN training: the keys of the ``RENDER`` config node, lower-cased, with
    their defaults (published values, except sizes and length) and meanings in
    dpsnet_d2/config.py. ``__post_init__`` resolves ``num_blocks`` 0 (6 if image_size <= 256,
    else 9) and ``decay_start`` -1 (max_iter // 2, as the published 100 + 100 epochs).
    """

    image_size: int
    load_size: int
    num_blocks: int
    gen_channels: int
    disc_channels: int
    lambda_cycle: float
    lambda_identity: float
    pool_size: int
    lr: float
    beta1: float
    max_iter: int
    decay_start: int
    batch_size: int
    seed: int

    @classmethod
    def from_config(cls, cfg) -> "CycleGANConfig":
        """The settings in ``cfg.RENDER`` (its periods and APPLY node are not training settings)."""
        return settings_from_node(cls, cfg.RENDER)

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
