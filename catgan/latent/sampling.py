"""Sampling the latent space: seeded latents with truncation, moves along directions, images and
grids from a generator, and interpolation paths. Latents are float (N, z_dim) on CPU."""
from __future__ import annotations

import torch
from PIL import Image

from ..images import make_grid, to_pil
from .critic import Critic, critic_latents

METHODS = ("lerp", "slerp")
MODES = ("loop", "ping-pong")


def latents(z_dim: int, n: int, seed: int, truncation: float = 1.0) -> torch.Tensor:
    """(n, z_dim) standard-normal latents from ``seed``, pulled toward the prior's mean (0) by
    ``truncation`` (psi: 1 = untouched, 0 = the mean cat). Latent i is the same for every n."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, z_dim, generator=gen) * float(truncation)


def move(z: torch.Tensor, vectors: torch.Tensor, amounts) -> torch.Tensor:
    """``z`` moved by ``amounts[i]`` along row i of ``vectors`` (missing amounts count as 0)."""
    a = torch.zeros(len(vectors))
    given = torch.as_tensor(list(amounts)[:len(vectors)], dtype=torch.float32)
    a[:len(given)] = given
    return z + a @ vectors


@torch.no_grad()
def sample(generator, n: int = 16, *, seed: int = 0, z: torch.Tensor | None = None) -> list[Image.Image]:
    """``n`` PIL images from ``generator`` (or from explicit latents ``z``), seeded."""
    device = next(generator.parameters()).device
    if z is None:
        z = latents(generator.config.z_dim, n, seed)
    return to_pil(generator.eval()(z.to(device)))


@torch.no_grad()
def sample_grid(generator, n: int = 64, seed: int = 0, critic: Critic | None = None) -> Image.Image:
    """A model card's samples.png: ``n`` seeded samples tiled 8 per row (those ``critic`` keeps, if given)."""
    generator = generator.cpu().eval()
    z = critic_latents(generator, critic.cpu(), n, seed)[0] if critic else latents(generator.config.z_dim, n, seed)
    return make_grid(generator(z), nrow=8)


# ---------------------------------------------------------------- interpolation

def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows ``a`` and ``b`` (z_dim,) at times ``t`` (T,) -> (T, z_dim)."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega.abs() < 1e-4:  # (nearly) parallel: slerp is lerp
        return lerp(a, b, t)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + t[:, None] * (b - a)


def path(a: torch.Tensor, b: torch.Tensor, frames: int, *, method: str = "slerp", mode: str = "loop") -> torch.Tensor:
    """(T, z_dim) latents from ``a`` to ``b`` in ``frames`` steps; "ping-pong" comes back to ``a``
    (2 * frames - 2 latents in all, so a looping player never shows an endpoint twice)."""
    if method not in METHODS or mode not in MODES:
        raise ValueError(f"method must be one of {METHODS} and mode one of {MODES}")
    return (slerp if method == "slerp" else lerp)(a.flatten().float(), b.flatten().float(), schedule(frames, mode))


def schedule(frames: int, mode: str = "loop") -> torch.Tensor:
    """(T,) where each frame of a walk stands, from 0 (its start) to 1 (its end): ``frames`` evenly
    spaced, and for "ping-pong" back again without repeating an end."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    t = torch.linspace(0, 1, frames)
    return torch.cat([t, t.flip(0)[1:-1]]) if mode == "ping-pong" else t
