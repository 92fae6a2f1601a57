"""
CycleGAN between synthesized scenes (domain A) and target checkout images (domain B): its
settings, its four networks and one optimisation step.

Shapes: N images, 3 x H x W pixels in [-1, 1] (H, W multiples of 4).

One step (Zhu et al. 2017): G: A -> B and F: B -> A are updated together on the generator loss
(losses.py), then D_A and D_B on their own losses, each against a fake drawn from its image pool
of 50. Adam (lr 2e-4, beta1 0.5) for both groups, the learning rate constant for the first
``decay_start`` steps, then linearly down to 0 at ``max_iter``.
"""
import dataclasses
from dataclasses import dataclass
from typing import Dict

import torch
from torch import nn

from .image_pool import ImagePool
from .losses import discriminator_loss, generator_losses
from .networks import PatchDiscriminator, ResnetGenerator, default_num_blocks, init_weights

__all__ = ["CycleGANConfig", "CycleGAN", "CycleGANSolver", "ARCH_FIELDS"]

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


class CycleGANSolver:
    """
    Optimisers, learning-rate schedules and image pools of a :class:`CycleGAN`; ``step`` runs one
    update of the generators and the discriminators.
    """

    def __init__(self, model: CycleGAN):
        cfg = model.cfg
        self.model = model
        betas = (cfg.beta1, 0.999)
        gen_params = list(model.g_ab.parameters()) + list(model.g_ba.parameters())
        disc_params = list(model.d_a.parameters()) + list(model.d_b.parameters())
        self.opt_g = torch.optim.Adam(gen_params, lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(disc_params, lr=cfg.lr, betas=betas)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, lambda i: self.lr_factor(i))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, lambda i: self.lr_factor(i))
        self.pool_a = ImagePool(cfg.pool_size, seed=cfg.seed)
        self.pool_b = ImagePool(cfg.pool_size, seed=cfg.seed + 1)
        self.iter = 0

    def lr_factor(self, step: int) -> float:
        """1 up to decay_start, then linearly to 0 at max_iter."""
        cfg = self.model.cfg
        span = max(1, cfg.max_iter - cfg.decay_start)
        return max(0.0, 1.0 - max(0, step - cfg.decay_start) / span)

    def step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> Dict[str, float]:
        """
        One update on a batch of each domain (N x 3 x H x W in [-1, 1], N may differ).

        Returns:
            {loss_gan_ab, loss_gan_ba, loss_cycle_a, loss_cycle_b, loss_idt_a, loss_idt_b,
            loss_d_a, loss_d_b, lr} as floats.
        """
        m, cfg = self.model, self.model.cfg
        m.train()
        fake_b, fake_a = m.g_ab(real_a), m.g_ba(real_b)
        identity = cfg.lambda_identity > 0
        for d in (m.d_a, m.d_b):
            d.requires_grad_(False)
        g_losses = generator_losses(
            real_a=real_a, real_b=real_b, fake_b=fake_b, fake_a=fake_a,
            rec_a=m.g_ba(fake_b), rec_b=m.g_ab(fake_a),
            idt_a=m.g_ba(real_a) if identity else None,
            idt_b=m.g_ab(real_b) if identity else None,
            score_fake_b=m.d_b(fake_b), score_fake_a=m.d_a(fake_a),
            lambda_cycle=cfg.lambda_cycle, lambda_identity=cfg.lambda_identity,
        )  # fmt: skip
        self.opt_g.zero_grad(set_to_none=True)
        sum(g_losses.values()).backward()
        self.opt_g.step()

        for d in (m.d_a, m.d_b):
            d.requires_grad_(True)
        pooled_b, pooled_a = self.pool_b.query(fake_b), self.pool_a.query(fake_a)
        loss_d_b = discriminator_loss(m.d_b(real_b), m.d_b(pooled_b))
        loss_d_a = discriminator_loss(m.d_a(real_a), m.d_a(pooled_a))
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()
        self.opt_d.step()

        lr = self.opt_g.param_groups[0]["lr"]
        self.sched_g.step()
        self.sched_d.step()
        self.iter += 1
        out = {k: float(v.detach()) for k, v in g_losses.items()}
        out.update(loss_d_a=float(loss_d_a.detach()), loss_d_b=float(loss_d_b.detach()), lr=lr)
        return out

    def state_dict(self) -> Dict:
        return {
            "iter": self.iter,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict(),
        }  # fmt: skip

    def load_state_dict(self, state: Dict) -> None:
        device = next(self.model.parameters()).device
        self.iter = int(state["iter"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.pool_a.load_state_dict(state["pool_a"], device)
        self.pool_b.load_state_dict(state["pool_b"], device)
