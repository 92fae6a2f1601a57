"""
CycleGAN's objective, apart from the networks: least-squares adversarial terms, cycle
consistency and identity.

Shapes: N images, 3 x H x W pixels in [-1, 1]; P = discriminator score maps (N x 1 x h x w).

With G: A -> B, F: B -> A and discriminators D_A, D_B (Zhu et al. 2017, LSGAN variant):

* generators minimise  (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2
  + lambda_cycle * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
  + lambda_identity * lambda_cycle * (|G(b) - b|_1 + |F(a) - a|_1);
* each discriminator minimises 0.5 * ((D(real) - 1)^2 + D(fake)^2), fakes drawn from an image pool.

The identity term keeps colours of an image already in the output domain, which matters here:
the counter and product colours must survive the translation.
"""
from typing import Dict

import torch
import torch.nn.functional as F

__all__ = ["lsgan_loss", "generator_losses", "discriminator_loss"]


def lsgan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Mean of (scores - 1)^2 if ``real`` else scores^2; scores P, returns a scalar."""
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.mse_loss(scores, target)


def generator_losses(
    *,
    real_a,
    real_b,
    fake_b,
    fake_a,
    rec_a,
    rec_b,
    idt_a,
    idt_b,
    score_fake_b,
    score_fake_a,
    lambda_cycle: float = 10.0,
    lambda_identity: float = 0.5,
) -> Dict[str, torch.Tensor]:
    """
    The generators' loss terms, already weighted (their sum is the loss to minimise).

    Args:
        real_a, real_b: N x 3 x H x W inputs of domain A and B.
        fake_b, fake_a: G(real_a), F(real_b).
        rec_a, rec_b: F(fake_b), G(fake_a).
        idt_a, idt_b: F(real_a), G(real_b) (None when lambda_identity is 0).
        score_fake_b, score_fake_a: D_B(fake_b), D_A(fake_a).
        lambda_cycle: weight of the cycle terms (10 published).
        lambda_identity: weight of the identity terms relative to lambda_cycle (0.5 published).
    Returns:
        {"loss_gan_ab", "loss_gan_ba", "loss_cycle_a", "loss_cycle_b", "loss_idt_a", "loss_idt_b"}:
        scalars (the identity terms are zeros when lambda_identity is 0, so the keys stay fixed).
    """
    losses = {
        "loss_gan_ab": lsgan_loss(score_fake_b, True),
        "loss_gan_ba": lsgan_loss(score_fake_a, True),
        "loss_cycle_a": lambda_cycle * F.l1_loss(rec_a, real_a),
        "loss_cycle_b": lambda_cycle * F.l1_loss(rec_b, real_b),
    }
    w = lambda_cycle * lambda_identity
    zero = real_a.new_zeros(())
    losses["loss_idt_a"] = w * F.l1_loss(idt_a, real_a) if w > 0 else zero
    losses["loss_idt_b"] = w * F.l1_loss(idt_b, real_b) if w > 0 else zero
    return losses


def discriminator_loss(score_real: torch.Tensor, score_fake: torch.Tensor) -> torch.Tensor:
    """0.5 * (LSGAN(real, 1) + LSGAN(fake, 0)); scores P (fakes detached by the caller). Scalar."""
    return 0.5 * (lsgan_loss(score_real, True) + lsgan_loss(score_fake, False))
