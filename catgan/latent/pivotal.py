"""Pivotal tuning (Roich et al. 2022, "PTI"): once inversion has found a twin's latent z (the pivot),
the generator's last layers are tuned for a few steps on that one image, with z fixed, so the twin
keeps the detail and colour no latent of the shared generator reaches.

Only a small tail is tuned (the last layers with weights, up to ``max_params``), and it is kept per
twin, as a dict of tensors; the shared generator is never changed. The sliders and walks still move
the twin through z, and the tuned tail draws its fine detail: on dcgan-64 a named direction moves a
tuned twin as it moves the untuned one (cosine 0.91-0.97 between the two changes, docs/your-cat.md).
A walk to another cat blends the tail back to the shared weights on the way, so both ends are exact.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .perceptual import Perceptual

TUNED_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


@dataclass(frozen=True)
class TuneConfig:
    steps: int = 30  # Adam steps on the tail (0: no tuning)
    lr: float = 1e-3
    perceptual_weight: float = 0.1  # of the Lite1 distance, when a Perceptual is given
    max_params: int = 1_000_000  # the tail's size at most: it is kept per twin (4 MB in float32)

    def __post_init__(self):
        if self.steps < 0 or self.lr <= 0 or self.max_params < 1:
            raise ValueError("steps must be >= 0, lr > 0 and max_params >= 1")


def tail_names(generator: nn.Module, max_params: int) -> list[str]:
    """The parameter names of ``generator``'s last layers with weights (convolutions and linear layers,
    in registration order), as many whole layers as fit in ``max_params``; [] if even the last does not."""
    layers = [(name, m) for name, m in generator.named_modules() if isinstance(m, TUNED_LAYERS)]
    names, total = [], 0
    for prefix, layer in reversed(layers):
        own = [(f"{prefix}.{n}", p) for n, p in layer.named_parameters()]
        total += sum(p.numel() for _, p in own)
        if total > max_params:
            break
        names = [n for n, _ in own] + names
    return names


def tune(generator: nn.Module, z: torch.Tensor, target: torch.Tensor, perceptual: Perceptual | None = None,
         config: TuneConfig = TuneConfig()) -> dict[str, torch.Tensor]:
    """The tuned tail {parameter name: tensor} that draws ``target`` (N, 3, S, S) in [-1, 1] from the
    pivots ``z`` (N, z_dim) more closely: pixel MSE + perceptual_weight x the Lite1 distance. Tuned on a
    private copy; {} when no layer fits ``config.max_params`` or steps is 0."""
    names = tail_names(generator, config.max_params) if config.steps else []
    if not names:
        return {}
    own = copy.deepcopy(generator).eval().requires_grad_(False)
    params = dict(own.named_parameters())
    tail = [params[n].requires_grad_(True) for n in names]
    opt = torch.optim.Adam(tail, lr=config.lr)
    use_perceptual = perceptual is not None and config.perceptual_weight > 0
    with torch.no_grad():
        target_features = perceptual.embed(target) if use_perceptual else None
    z = z.detach()
    for _ in range(config.steps):
        out = own(z)
        loss = (out - target).pow(2).mean()
        if use_perceptual:
            loss = loss + config.perceptual_weight * perceptual.distance(out, target_features).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {n: params[n].detach().clone() for n in names}


@torch.no_grad()
def draw_tuned(generator: nn.Module, tail: dict[str, torch.Tensor], z: torch.Tensor, weight=1.0) -> torch.Tensor:
    """(N, 3, S, S): ``z`` (N, z_dim) drawn by a private copy of ``generator`` whose tail is moved
    ``weight`` of the way to ``tail`` (0: the shared weights, 1: the tuned ones); ``weight`` may be one
    number, or one per latent (a walk that blends the tail away). The shared generator is untouched."""
    weights = torch.as_tensor(weight, dtype=torch.float32).expand(len(z))
    if not tail or not weights.any():
        return generator(z)
    own = copy.deepcopy(generator).eval()
    params = dict(own.named_parameters())
    base = {n: params[n].detach().clone() for n in tail}
    images = None
    for w in weights.unique():  # one pass per distinct blend
        for name, tuned in tail.items():
            params[name].copy_(torch.lerp(base[name], tuned.to(base[name]), float(w)))
        picked = weights == w
        x = own(z[picked])
        images = x.new_empty(len(z), *x.shape[1:]) if images is None else images
        images[picked] = x
    return images


__all__ = ["TuneConfig", "draw_tuned", "tail_names", "tune"]
