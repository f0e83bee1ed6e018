"""The latent space: seeded latents with truncation, GANSpace directions, interpolation, video.

Latents are float (N, z_dim) on CPU. Directions follow GANSpace (Härkönen et al. 2020) for a
generator without a mapping network: PCA of the generator's first hidden activations over many
random latents, then a linear regression that carries each principal axis back into z. A unit
direction moves a latent by one prior standard deviation per slider unit.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

METHODS = ("lerp", "slerp")
MODES = ("loop", "ping-pong")


def latents(z_dim: int, n: int, seed: int, truncation: float = 1.0) -> torch.Tensor:
    """(n, z_dim) standard-normal latents from ``seed``, pulled toward the prior's mean (0) by
    ``truncation`` (psi: 1 = untouched, 0 = the mean cat). Latent i is the same for every n."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, z_dim, generator=gen) * float(truncation)


# ---------------------------------------------------------------- GANSpace directions

@dataclass(frozen=True)
class Directions:
    vectors: torch.Tensor  # (k, z_dim), unit rows, best first
    explained: tuple[float, ...]  # share of the feature variance each component explains
    layer: str  # which activations the PCA ran on

    def __len__(self) -> int:
        return len(self.explained)

    def apply(self, z: torch.Tensor, amounts) -> torch.Tensor:
        return move(z, self.vectors, amounts)

    def labels(self) -> list[str]:
        return [f"PC{i + 1} ({100 * v:.1f} % of variance)" for i, v in enumerate(self.explained)]


def move(z: torch.Tensor, vectors: torch.Tensor, amounts) -> torch.Tensor:
    """``z`` moved by ``amounts[i]`` along row i of ``vectors`` (missing amounts count as 0)."""
    a = torch.zeros(len(vectors))
    given = torch.as_tensor(list(amounts)[:len(vectors)], dtype=torch.float32)
    a[:len(given)] = given
    return z + a @ vectors


@torch.no_grad()
def principal_directions(generator: nn.Module, k: int = 8, *, samples: int = 2048, seed: int = 0) -> Directions:
    """Top-``k`` GANSpace directions of ``generator`` (eval mode, CPU)."""
    z_dim = generator.config.z_dim
    head, layer = generator.eval().early_features()
    z = latents(z_dim, samples, seed)
    x = head(z).reshape(samples, -1).double()
    x = x - x.mean(0)
    total = float(x.pow(2).sum()) / (samples - 1)
    k = max(1, min(k, z_dim, x.shape[1], samples - 1))
    if x.shape[1] <= 1024:
        _, s, vh = torch.linalg.svd(x, full_matrices=False)
        v = vh.T
    else:  # wide features (DCGAN-64: 512 x 4 x 4): a randomised low-rank PCA is plenty for the top k
        _, s, v = torch.pca_lowrank(x, q=min(k + 8, x.shape[1]), center=False, niter=4)
    coords = x @ v[:, :k]  # (samples, k): each latent's position along the top principal axes
    u = torch.linalg.lstsq(coords, z.double()).solution  # (k, z_dim): z ~ coords @ u
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    explained = (s[:k] ** 2 / (samples - 1) / max(total, 1e-30)).tolist()
    return Directions(u.float(), tuple(float(e) for e in explained), layer)


_CACHE: dict[str, Directions] = {}
_LOCK = threading.Lock()


def cached_directions(key: str, generator: nn.Module, k: int = 8) -> Directions:
    """``principal_directions`` computed once per ``key`` (a model's identity) per process."""
    key = f"{key}|{k}"
    with _LOCK:  # held while computing: a second caller waits instead of repeating the work
        if key not in _CACHE:
            _CACHE[key] = principal_directions(generator, k)
        return _CACHE[key]


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
    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    z = (slerp if method == "slerp" else lerp)(a.flatten().float(), b.flatten().float(), torch.linspace(0, 1, frames))
    return torch.cat([z, z.flip(0)[1:-1]]) if mode == "ping-pong" else z


def write_mp4(frames, path: str | os.PathLike, fps: float) -> Path:
    """H.264 MP4 (yuv420p, faststart: plays in every browser) of PIL frames with even sides,
    written with imageio-ffmpeg's bundled ffmpeg."""
    import imageio.v2 as imageio
    import numpy as np

    from .fileio import atomic_path

    path = Path(path)
    options = dict(format="FFMPEG", mode="I", fps=float(fps), codec="libx264", pixelformat="yuv420p",
                   macro_block_size=2, ffmpeg_log_level="error", output_params=["-movflags", "+faststart", "-crf", "18"])
    with atomic_path(path, suffix=".mp4") as tmp, imageio.get_writer(tmp, **options) as writer:
        for frame in frames:
            writer.append_data(np.asarray(frame.convert("RGB")))
    return path


__all__ = ["METHODS", "MODES", "Directions", "latents", "move", "principal_directions",
           "cached_directions", "lerp", "slerp", "path", "write_mp4"]
