"""A critic for a trained generator, and sampling through it: discriminator rejection sampling
(Azadi et al. 2019, "Discriminator Rejection Sampling").

A GAN's own D is not kept with a release, and it is not the optimal D for the final G anyway. So a
critic is trained afresh against the frozen generator: a DCGAN discriminator with spectral norm (the
same network in training and at inference, no batch statistics) learns real faces from G's samples.
Its logits are then calibrated (Platt scaling on held-out real faces and fresh samples), so that

    s(x) = scale * logit(x) + bias  ~  log p_data(x) / p_G(x)

and a sample is kept with probability min(1, exp(strength * (s(x) - ceiling))): at strength 1,
rejection sampling from p_G toward p_data; below 1, toward p_G^(1 - strength) * p_data^strength, a
partial correction that keeps more samples (and so costs fewer forward passes). The ceiling is a high
quantile of s over G's samples, so a few of the most convincing samples are kept for certain. Latents
are drawn and judged in fixed batches from one seeded stream, so the k-th kept latent of a seed is the
same however many are asked for.

On disk, beside the generator in its weights folder: critic.json (CriticConfig, the calibration
included) and critic.safetensors (fp16); read back strictly, never unpickled.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..images import to_float
from ..models import ModelConfig, architecture
from ..weights import CRITIC_META, CRITIC_NAME, load_weights_strict, read_beside, save_beside

BATCH = 64  # candidates judged at a time; fixed, so a seed's kept latents do not depend on n


@dataclass(frozen=True)
class CriticConfig:
    img_size: int = 64  # the generator's image side
    input_size: int | None = None  # the side the critic looks at (None: img_size); images are area-averaged to it
    width: int = 64  # the DCGAN discriminator's base channels
    scale: float = 1.0  # calibration: s = scale * logit + bias estimates log p_data / p_G
    bias: float = 0.0
    ceiling: float = 0.0  # s at and above which a sample is always kept
    strength: float = 1.0  # 1: full rejection sampling toward the data; between 0 and 1, part of the way
    keep_rate: float = 1.0  # the share of the generator's samples kept at this strength (measured)

    def __post_init__(self):
        if self.input_size is None:
            object.__setattr__(self, "input_size", self.img_size)
        if self.img_size not in (32, 64) or self.input_size not in (32, 64) or self.input_size > self.img_size:
            raise ValueError(f"a critic needs img_size 32 or 64 and an input_size of 32 or 64 up to it, got {self}")
        if self.width < 1 or not 0 <= self.strength <= 1:
            raise ValueError(f"a critic needs a positive width and a strength in [0, 1], got {self}")


@dataclass(frozen=True)
class CriticTrainConfig:
    steps: int = 3000  # optimiser steps (max_seconds may stop it sooner)
    batch_size: int = 64  # real faces per step, and as many samples
    lr: float = 2e-4
    holdout: float = 0.1  # share of the real faces kept out of training, for calibration and checks
    check_every: int = 250  # held-out loss every this many steps; the best state is kept
    calibration_samples: int = 4096  # fresh samples for the calibration and the ceiling
    ceiling_quantile: float = 0.99  # the ceiling: this quantile of s over generated samples
    strength: float = 1.0  # how far sampling goes toward the data (CriticConfig.strength)
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.holdout < 1 or not 0 < self.ceiling_quantile <= 1:
            raise ValueError("holdout must be in (0, 1) and ceiling_quantile in (0, 1]")
        if min(self.steps, self.batch_size, self.check_every, self.calibration_samples) < 1:
            raise ValueError("steps, batch_size, check_every and calibration_samples must be positive")


class Critic(nn.Module):
    """(N, 3, S, S) in [-1, 1] -> (N,) calibrated log density ratios s(x)."""

    def __init__(self, config: CriticConfig):
        super().__init__()
        self.config = config
        arch = architecture("dcgan")
        self.net = arch.discriminator(ModelConfig(arch="dcgan", img_size=config.input_size, d_width=config.width,
                                                  d_spectral_norm=True))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.config.input_size:
            x = F.interpolate(x, size=(self.config.input_size,) * 2, mode="area")
        return self.net(x)

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        """Raw logits -> s, the calibrated log density ratios."""
        return self.config.scale * logits + self.config.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.calibrated(self.logits(x))

    def keep_probability(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) the chance that rejection sampling keeps each image."""
        return keep_probability(self(x), self.config.ceiling, self.config.strength)


def keep_probability(s: torch.Tensor, ceiling: float, strength: float) -> torch.Tensor:
    """min(1, exp(strength * (s - ceiling))) for calibrated log density ratios ``s``."""
    return torch.exp(strength * (s - ceiling).clamp(max=0))


@torch.no_grad()
def with_strength(generator, critic: Critic, strength: float, n: int = 4096, seed: int = 3) -> Critic:
    """``critic`` set to ``strength``, its keep rate measured again on ``n`` fresh samples of ``generator``."""
    config = replace(critic.config, strength=strength)  # a strength out of [0, 1] is refused before any work
    device = next(generator.parameters()).device
    logits = _sample_logits(generator, critic, n, torch.Generator().manual_seed(seed), device)
    keep = keep_probability(critic.calibrated(logits), config.ceiling, strength)
    critic.config = replace(config, keep_rate=round(float(keep.mean()), 4))
    return critic


# ---------------------------------------------------------------- sampling

@torch.no_grad()
def critic_latents(generator, critic: Critic, n: int, seed: int, *, truncation: float = 1.0,
                   max_batches: int | None = None) -> tuple[torch.Tensor, float]:
    """``n`` latents (n, z_dim) kept by rejection sampling, and the share of candidates kept.
    Candidates are N(0, I) latents scaled by ``truncation``, drawn BATCH at a time from ``seed``; a
    RuntimeError after ``max_batches`` (default: four times what the critic's keep rate needs)."""
    if max_batches is None:
        max_batches = math.ceil(4 * n / (BATCH * max(critic.config.keep_rate, 1e-3))) + 10
    device = next(generator.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    kept, drawn = [], 0
    generator.eval()
    critic.eval()
    while sum(len(k) for k in kept) < n:
        if drawn >= max_batches * BATCH:
            raise RuntimeError(f"the critic kept {sum(len(k) for k in kept)} of {drawn} samples; "
                               f"is it calibrated for this generator?")
        z = torch.randn(BATCH, generator.config.z_dim, generator=gen) * float(truncation)
        u = torch.rand(BATCH, generator=gen)
        p = critic.keep_probability(generator(z.to(device))).cpu()
        kept.append(z[u < p])
        drawn += BATCH
    z = torch.cat(kept)
    return z[:n], len(z) / drawn


# ---------------------------------------------------------------- training and calibration

def holdout_split(n: int, holdout: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) indices of ``n`` real faces: the critic never trains on the held-out share."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_held = max(1, int(n * holdout))
    return perm[n_held:], perm[:n_held]


def _flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(len(x), generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@torch.no_grad()
def _logits(net: Callable, images: torch.Tensor, device, batch: int = 256) -> torch.Tensor:
    return torch.cat([net(to_float(images[i:i + batch]).to(device)).float().cpu()
                      for i in range(0, len(images), batch)])


@torch.no_grad()
def _sample_logits(generator, critic: Critic, n: int, gen: torch.Generator, device) -> torch.Tensor:
    out = []
    for i in range(0, n, BATCH):
        z = torch.randn(min(BATCH, n - i), generator.config.z_dim, generator=gen).to(device)
        out.append(critic.logits(generator(z)).float().cpu())
    return torch.cat(out)


def _balanced_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    return float(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()) / 2


def fit_platt(real_logits: torch.Tensor, fake_logits: torch.Tensor, iters: int = 200) -> tuple[float, float]:
    """Platt scaling: (scale, bias) minimising the class-balanced logistic loss of
    sigmoid(scale * logit + bias) on held-out real (label 1) and generated (label 0) logits."""
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    r, f = real_logits.double(), fake_logits.double()
    opt = torch.optim.LBFGS([params], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.softplus(-(params[0] * r + params[1])).mean() + F.softplus(params[0] * f + params[1]).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return float(params[0].detach()), float(params[1].detach())


def train_critic(generator, real: torch.Tensor, *, config: CriticTrainConfig = CriticTrainConfig(), width: int = 64,
                 input_size: int = 64, max_seconds: float | None = None,
                 callback: Callable[[int, dict], None] | None = None) -> tuple[Critic, dict]:
    """Train and calibrate a critic for ``generator`` (frozen, eval mode) on uint8 real faces (N, 3, S, S)
    at its size. Returns the critic (eval mode) and a report: the loss per check, the held-out loss and
    accuracy before and after calibration, and the share of samples rejection sampling keeps."""
    c = generator.config
    device = next(generator.parameters()).device
    train, held = (real[i] for i in holdout_split(len(real), config.holdout, config.seed))
    critic = Critic(CriticConfig(img_size=c.img_size, input_size=min(input_size, c.img_size), width=width))
    critic.to(device).train()
    generator.eval()
    gen = torch.Generator().manual_seed(config.seed)
    check_gen = lambda: torch.Generator().manual_seed(config.seed + 1)  # the same samples at every check
    opt = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(0.5, 0.999))
    checks, best, start, step = [], None, time.perf_counter(), 0
    for step in range(1, config.steps + 1):
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
        x = _flip(to_float(train[torch.randint(len(train), (config.batch_size,), generator=gen)]), gen).to(device)
        with torch.no_grad():
            fake = _flip(generator(torch.randn(config.batch_size, c.z_dim, generator=gen).to(device)), gen)
        loss = F.softplus(-critic.logits(x)).mean() + F.softplus(critic.logits(fake)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % config.check_every == 0 or step == config.steps:
            critic.eval()
            held_loss = _balanced_bce(_logits(critic.logits, held, device),
                                      _sample_logits(generator, critic, len(held), check_gen(), device))
            critic.train()
            record = {"step": step, "loss": loss.item() / 2, "held_loss": held_loss,
                      "seconds": time.perf_counter() - start}
            checks.append(record)
            if best is None or held_loss < best[0]:
                best = (held_loss, step, {k: v.detach().clone() for k, v in critic.state_dict().items()})
            if callback:
                callback(step, record)
    if best is not None:
        critic.load_state_dict(best[2])
    critic.eval()
    # calibration on data the critic never trained on: the held-out faces and fresh samples
    cal_gen = torch.Generator().manual_seed(config.seed + 2)
    real_logits = _logits(critic.logits, held, device)
    fake_logits = _sample_logits(generator, critic, config.calibration_samples, cal_gen, device)
    scale, bias = fit_platt(real_logits, fake_logits)
    critic.config = replace(critic.config, scale=scale, bias=bias)
    s_fake = critic.calibrated(fake_logits)
    ceiling = float(torch.quantile(s_fake, config.ceiling_quantile))
    keep = keep_probability(s_fake, ceiling, config.strength)
    critic.config = replace(critic.config, ceiling=ceiling, strength=config.strength,
                            keep_rate=round(float(keep.mean()), 4))
    report = {"checks": checks, "best_step": best[1] if best else step, "steps": step,
              "held_loss": _balanced_bce(real_logits, fake_logits),
              "held_accuracy": float(((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2),
              "calibrated_held_loss": _balanced_bce(critic.calibrated(real_logits), s_fake),
              "scale": scale, "bias": bias, "ceiling": ceiling, "keep_rate": float(keep.mean()),
              "train_faces": len(train), "held_faces": len(held)}
    return critic, report


# ---------------------------------------------------------------- on disk

def save_critic(critic: Critic, folder: str | os.PathLike) -> Path:
    """Write critic.safetensors (fp16) + critic.json into ``folder`` (a generator's weights folder), atomically."""
    return save_beside(critic, critic.config, folder, CRITIC_NAME, CRITIC_META)


def has_critic(folder: str | os.PathLike) -> bool:
    return (Path(folder) / CRITIC_META).is_file() and (Path(folder) / CRITIC_NAME).is_file()


def load_critic(folder: str | os.PathLike, generator=None) -> Critic:
    """The critic saved in ``folder``, loaded strictly (every key and shape, finite values); with
    ``generator``, its img_size must match. FileNotFoundError if the folder has none."""
    config, weights = read_beside(folder, CRITIC_NAME, CRITIC_META, CriticConfig, "train one with bench/critic.py")
    if generator is not None and config.img_size != generator.config.img_size:
        raise ValueError(f"{Path(folder) / CRITIC_META} is for {config.img_size} px; the generator makes "
                         f"{generator.config.img_size} px")
    critic = Critic(config)
    load_weights_strict(critic, weights)
    return critic.eval()


__all__ = ["BATCH", "Critic", "CriticConfig", "CriticTrainConfig", "critic_latents", "fit_platt", "has_critic",
           "holdout_split", "keep_probability", "load_critic", "save_critic", "train_critic", "with_strength"]
