"""GAN losses as pure functions of discriminator logits, and the R1 penalty.

Each returns a scalar. ``real``/``fake`` are D's logits, shape (N,).
"""
import torch
import torch.nn.functional as F

LOSSES = ("bce", "hinge", "rals")


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor, *, real_label: float = 1.0,
           label_noise: float = 0.0) -> torch.Tensor:
    """Discriminator loss.

    ``real_label`` < 1 gives one-sided soft labels (the poster catgan reproduces used 0.9); ``label_noise`` flips
    that fraction of D's targets at random (the "noisy labels" trick). Both act on ``bce`` only.
    """
    real, fake = real.float(), fake.float()
    if kind == "bce":
        t_real = torch.full_like(real, real_label)
        t_fake = torch.zeros_like(fake)
        if label_noise > 0:
            t_real = torch.where(torch.rand_like(real) < label_noise, 1.0 - t_real, t_real)
            t_fake = torch.where(torch.rand_like(fake) < label_noise, 1.0 - t_fake, t_fake)
        return F.binary_cross_entropy_with_logits(real, t_real) + F.binary_cross_entropy_with_logits(fake, t_fake)
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "rals":  # relativistic average least squares (Jolicoeur-Martineau 2018)
        return ((real - fake.mean() - 1) ** 2).mean() / 2 + ((fake - real.mean() + 1) ** 2).mean() / 2
    raise ValueError(f"unknown loss {kind!r}; choose from {LOSSES}")


def g_loss(kind: str, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """Generator loss (non-saturating for ``bce``). ``rals`` also needs D's logits on real data."""
    fake = fake.float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "hinge":
        return -fake.mean()
    if kind == "rals":
        if real is None:
            raise ValueError("rals generator loss needs real logits")
        real = real.float()
        return ((fake - real.mean() - 1) ** 2).mean() / 2 + ((real - fake.mean() + 1) ** 2).mean() / 2
    raise ValueError(f"unknown loss {kind!r}; choose from {LOSSES}")


def r1_penalty(logits: torch.Tensor, inputs: torch.Tensor, loss_scale: float = 1.0) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): the mean over the batch of ``|| d logits / d inputs ||^2``, with a
    graph, so that adding it to D's loss penalises D's slope at the real images.

    ``inputs`` must require grad and ``logits`` come from them. ``loss_scale`` is a mixed-precision
    GradScaler's scale: the gradient is taken of the scaled sum, which keeps fp16 from underflowing,
    then unscaled. Under DDP the gradient is taken out of place in each process, so it reaches no
    all-reduce hook; D's weight gradients from the penalty are all-reduced by the ordinary backward.
    """
    grad, = torch.autograd.grad(logits.float().sum() * loss_scale, inputs, create_graph=True)
    return (grad.float() / loss_scale).square().sum(dim=tuple(range(1, grad.ndim))).mean()
