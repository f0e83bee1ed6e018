"""GAN inversion: the latent z whose G(z) looks most like a given cat, so a photo can be slid, morphed
and scored like a sample ("your own cat").

Two stages, as in in-domain inversion (Zhu et al. 2020): a start, either the encoder's guess
(encoder.py) or the best of ``starts`` seeded random latents, then Adam on z alone with

    loss(z) = pixel(G(z), x) + perceptual_weight * Lite1 distance(G(z), x) + prior_weight * (||z||^2/z_dim - 1)^2

The prior keeps z on the shell where N(0, I) puts its mass, so the sliders (directions found on
typical z) move a twin as they move a sample. Each image's z is its own Adam parameter, so a batch
inverts exactly as its images would one by one. The generator is not changed (only z gets gradients).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F

from ..images import to_float
from .encoder import Encoder, prior_penalty
from .perceptual import Perceptual

PIXEL_LOSSES = ("mse", "l1")


@dataclass(frozen=True)
class InvertConfig:
    steps: int = 300  # Adam steps on z (0: the start as it is)
    lr: float = 0.05  # Adam's step size on z; z's entries are ~N(0, 1)
    pixel_loss: str = "mse"  # "mse" or "l1", per pixel in [-1, 1]
    perceptual_weight: float = 0.3  # of the Lite1 distance, when a Perceptual is given
    prior_weight: float = 0.01  # of (||z||^2 / z_dim - 1)^2
    starts: int = 16  # without an encoder: random latents tried per image, the best one kept
    seed: int = 0  # the random starts' seed

    def __post_init__(self):
        if self.pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"pixel_loss must be one of {PIXEL_LOSSES}, got {self.pixel_loss!r}")
        if self.steps < 0 or self.starts < 1 or self.lr <= 0:
            raise ValueError("steps must be >= 0, starts >= 1 and lr > 0")


@dataclass(frozen=True)
class Inversion:
    z: torch.Tensor  # (N, z_dim) the twins' latents, on CPU
    image: torch.Tensor  # (N, 3, S, S) G(z) in [-1, 1], on CPU
    target: torch.Tensor  # (N, 3, S, S) the images inverted, at the generator's size, in [-1, 1]
    psnr: torch.Tensor  # (N,) dB of image against target (peak-to-peak 2)
    perceptual: torch.Tensor | None  # (N,) Lite1 distance of image to target (None without a Perceptual)
    losses: list[float]  # mean loss per step
    seconds: float  # wall time of the whole inversion


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,) PSNR in dB of [-1, 1] images (peak-to-peak range 2, so 20 log10(2) - 10 log10(MSE))."""
    mse = (a.float() - b.float()).pow(2).mean((1, 2, 3)).clamp_min(1e-10)
    return 20 * torch.log10(torch.tensor(2.0)) - 10 * torch.log10(mse)


def as_target(images, img_size: int) -> torch.Tensor:
    """uint8 or [-1, 1] images (N, 3, H, W) or (3, H, W) -> float (N, 3, img_size, img_size) in [-1, 1]
    (resized bilinearly, antialiased when shrinking; a non-square image is stretched, so crop first)."""
    x = to_float(images.detach().cpu())
    x = x[None] if x.dim() == 3 else x
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected RGB images (N, 3, H, W), got {tuple(images.shape)}")
    if x.shape[-2:] != (img_size, img_size):
        x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False,
                          antialias=max(x.shape[-2:]) > img_size)
    return x.clamp(-1, 1)


def _pixel(out: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    diff = out - target
    return (diff.abs() if kind == "l1" else diff.pow(2)).mean((1, 2, 3))  # (N,)


@torch.no_grad()
def starting_latents(generator, target: torch.Tensor, encoder: Encoder | None, config: InvertConfig) -> torch.Tensor:
    """(N, z_dim) starts: the encoder's guess, or per image the best (by pixel loss) of ``config.starts``
    seeded N(0, I) latents (the same candidates for every image, so a batch equals its parts)."""
    if encoder is not None:
        return encoder.eval()(target).float()
    z_dim, device = generator.config.z_dim, target.device
    candidates = torch.randn(config.starts, z_dim, generator=torch.Generator().manual_seed(config.seed)).to(device)
    rendered = generator(candidates)  # (K, 3, S, S)
    cost = torch.stack([_pixel(rendered, t[None].expand_as(rendered), config.pixel_loss) for t in target])  # (N, K)
    return candidates[cost.argmin(1)].clone()


def invert(generator, images, encoder: Encoder | None = None, *, config: InvertConfig = InvertConfig(),
           perceptual: Perceptual | None = None, callback: Callable[[int, int, float], object] | None = None,
           **overrides) -> Inversion:
    """Invert ``images`` (uint8 or [-1, 1], (N, 3, H, W) or one (3, H, W); resized to the generator's size)
    into ``generator``'s latent space. ``overrides`` replace fields of ``config`` (``steps=50``).
    ``callback(step, steps, mean_loss)`` is called after every step; returning True stops early.
    The best z seen per image (lowest loss) is returned, so more steps never give a worse twin."""
    if overrides:
        config = replace(config, **overrides)
    start = time.perf_counter()
    generator.eval()
    device = next(generator.parameters()).device
    target = as_target(images, generator.config.img_size).to(device)
    if perceptual is not None:
        perceptual.to(device)
    use_perceptual = perceptual is not None and config.perceptual_weight > 0
    with torch.no_grad():
        target_features = perceptual.embed(target) if use_perceptual else None

    def loss_of(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = generator(z)
        loss = _pixel(out, target, config.pixel_loss) + config.prior_weight * prior_penalty(z)
        if use_perceptual:
            loss = loss + config.perceptual_weight * perceptual.distance(out, target_features)
        return loss, out  # (N,), (N, 3, S, S)

    z = starting_latents(generator, target, encoder, config).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=config.lr)
    best_z, best_loss, losses = z.detach().clone(), torch.full((len(target),), float("inf"), device=device), []
    for step in range(config.steps + 1):  # the last pass only scores the final z
        loss, _ = loss_of(z)
        better = loss.detach() < best_loss
        best_loss = torch.where(better, loss.detach(), best_loss)
        best_z[better] = z.detach()[better]
        if step == config.steps:
            break
        (grad,) = torch.autograd.grad(loss.sum(), [z])  # the sum: each z's gradient is its own image's
        z.grad = grad
        opt.step()
        losses.append(loss.mean().item())
        if callback is not None and callback(step + 1, config.steps, losses[-1]) is True:
            break
    with torch.no_grad():
        image = generator(best_z)
        dist = perceptual.distance(image, target).cpu() if perceptual is not None else None
    return Inversion(z=best_z.cpu(), image=image.cpu(), target=target.cpu(), psnr=psnr(image, target).cpu(),
                     perceptual=dist, losses=losses, seconds=time.perf_counter() - start)


__all__ = ["PIXEL_LOSSES", "InvertConfig", "Inversion", "as_target", "invert", "psnr", "starting_latents"]
