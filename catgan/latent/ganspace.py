"""GANSpace directions (Härkönen et al. 2020) for a generator without a mapping network: PCA of the
generator's first hidden activations over many random latents, then a linear regression that carries
each principal axis back into z. A unit direction moves a latent by one prior standard deviation per
slider unit."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from torch import nn

from .sampling import latents, move


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
