"""A small learned encoder image -> z: the fast first guess that latent optimisation (inversion.py) refines.

Training follows in-domain GAN inversion (Zhu et al. 2020, genforce/idinvert), without its adversarial
term: on generated pairs (z, G(z)) the encoder learns z back (latent loss) and G(E(G(z))) must look like
G(z) (pixel + perceptual loss); on real faces only the reconstruction G(E(x)) ~ x can be asked for, and
that is what keeps E's answers inside the region of z that G renders well. A prior term keeps E(x)
typical of N(0, I), as the sliders assume.

On disk, beside the generator in its weights folder: encoder.json (EncoderConfig) and
encoder.safetensors (fp16, about 2 MB at the default width); read back strictly, never unpickled.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..images import to_float
from ..weights import ENCODER_META, ENCODER_NAME, load_weights_strict, read_beside, save_beside
from .perceptual import Perceptual


@dataclass(frozen=True)
class EncoderConfig:
    img_size: int = 64  # the generator's image side
    z_dim: int = 100  # the generator's latent size
    width: int = 32  # channels of the first conv; doubled at every stride-2 stage

    def __post_init__(self):
        if self.img_size not in (32, 64) or min(self.z_dim, self.width) < 1:
            raise ValueError(f"an encoder needs img_size 32 or 64 and a positive z_dim and width, got {self}")


@dataclass(frozen=True)
class EncoderTrainConfig:
    steps: int = 2000  # optimiser steps (train_encoder's max_seconds may stop it sooner)
    batch_size: int = 32  # generated pairs per step; as many real faces when any are given
    lr: float = 2e-4
    latent_weight: float = 1.0  # ||E(G(z)) - z||^2 / z_dim on generated pairs
    pixel_weight: float = 1.0  # MSE(G(E(x)), x), generated and real
    perceptual_weight: float = 0.5  # Lite1 distance(G(E(x)), x) when a Perceptual is given
    real_weight: float = 1.0  # weight of the real faces' reconstruction against the generated pairs'
    prior_weight: float = 0.01  # (||E(x)||^2 / z_dim - 1)^2
    seed: int = 0


class Encoder(nn.Module):
    """(N, 3, S, S) in [-1, 1] -> (N, z_dim). S=64, width w:
    (3, 64, 64) -> (w, 32, 32) -> (2w, 16, 16) -> (4w, 8, 8) -> (8w, 4, 4) -> linear -> z; S=32 drops a stage."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        layers, ch_in, ch = [], 3, config.width
        for _ in range(int(math.log2(config.img_size)) - 2):  # down to 4x4
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch_in, ch = ch, ch * 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch_in * 16, config.z_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def prior_penalty(z: torch.Tensor) -> torch.Tensor:
    """(N,) (||z||^2 / z_dim - 1)^2: 0 where z has the squared norm typical of N(0, I) (it concentrates
    at z_dim), and growing as an inversion wanders off the shell the generator was trained on."""
    return (z.pow(2).mean(1) - 1).pow(2)


def reconstruction_loss(generator, z: torch.Tensor, target: torch.Tensor, config: EncoderTrainConfig,
                        perceptual: Perceptual | None) -> torch.Tensor:
    """(N,) pixel (+ perceptual) loss of G(z) against ``target``."""
    out = generator(z)
    loss = config.pixel_weight * (out - target).pow(2).mean((1, 2, 3))
    if perceptual is not None and config.perceptual_weight:
        loss = loss + config.perceptual_weight * perceptual.distance(out, target)
    return loss


def train_encoder(generator, real: torch.Tensor | None = None, *, encoder: Encoder | None = None,
                  config: EncoderTrainConfig = EncoderTrainConfig(), perceptual: Perceptual | None = None,
                  width: int = 32, max_seconds: float | None = None,
                  callback: Callable[[int, dict], None] | None = None) -> tuple[Encoder, list[dict]]:
    """Train (or go on training) an encoder for ``generator`` (left frozen and in eval mode). ``real``: uint8
    or [-1, 1] faces (N, 3, S, S) at the generator's size, or None. Returns the encoder (eval mode) and one
    record of the losses per step; ``callback(step, record)`` sees each."""
    c = generator.config
    encoder = encoder or Encoder(EncoderConfig(img_size=c.img_size, z_dim=c.z_dim, width=width))
    device = next(generator.parameters()).device
    encoder.to(device).train()
    generator.eval()
    params = list(generator.parameters())
    frozen = [p.requires_grad for p in params]
    for p in params:  # gradients flow through G to E, never into G
        p.requires_grad_(False)
    rng = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(encoder.parameters(), lr=config.lr, betas=(0.9, 0.99))
    history, start = [], time.perf_counter()
    try:
        for step in range(config.steps):
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
            # (1) generated pairs: z known, so the encoder learns it directly, plus how G(E(x)) looks
            z = torch.randn(config.batch_size, c.z_dim, generator=rng).to(device)
            with torch.no_grad():
                fake = generator(z)
            z_hat = encoder(fake)
            latent = F.mse_loss(z_hat, z)
            recon = reconstruction_loss(generator, z_hat, fake, config, perceptual).mean()
            prior = prior_penalty(z_hat).mean()
            loss = config.latent_weight * latent + recon + config.prior_weight * prior
            record = {"step": step, "latent": latent.item(), "recon": recon.item()}
            # (2) real faces: only their reconstruction can be asked for (in-domain inversion)
            if real is not None and len(real) and config.real_weight:
                idx = torch.randint(len(real), (config.batch_size,), generator=rng)
                x = to_float(real[idx]).to(device)
                z_real = encoder(x)
                real_loss = reconstruction_loss(generator, z_real, x, config, perceptual).mean()
                loss = loss + config.real_weight * (real_loss + config.prior_weight * prior_penalty(z_real).mean())
                record["real"] = real_loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            record["loss"] = loss.item()
            history.append(record)
            if callback:
                callback(step, record)
    finally:
        for p, was in zip(params, frozen):
            p.requires_grad_(was)
    return encoder.eval(), history


def save_encoder(encoder: Encoder, folder: str | os.PathLike) -> Path:
    """Write encoder.safetensors (fp16) + encoder.json into ``folder`` (a generator's weights folder), atomically."""
    return save_beside(encoder, encoder.config, folder, ENCODER_NAME, ENCODER_META)


def load_encoder(folder: str | os.PathLike, generator=None) -> Encoder:
    """The encoder saved in ``folder``, loaded strictly (every key and shape, finite values); with
    ``generator``, its img_size and z_dim must match. FileNotFoundError if the folder has none."""
    config, weights = read_beside(folder, ENCODER_NAME, ENCODER_META, EncoderConfig, "train one with bench/inversion.py")
    if generator is not None and (config.img_size, config.z_dim) != (generator.config.img_size, generator.config.z_dim):
        raise ValueError(f"{Path(folder) / ENCODER_META} is for {config.img_size} px, z_dim {config.z_dim}; the "
                         f"generator has {generator.config.img_size} px, z_dim {generator.config.z_dim}")
    encoder = Encoder(config)
    load_weights_strict(encoder, weights)
    return encoder.eval()


__all__ = ["ENCODER_META", "ENCODER_NAME", "Encoder", "EncoderConfig", "EncoderTrainConfig", "load_encoder",
           "prior_penalty", "save_encoder", "train_encoder"]
