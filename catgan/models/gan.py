"""Fully connected GAN after Goodfellow et al. 2014.

G: z (N, z_dim) -> w -> 2w -> 4w -> 3*S*S, tanh, reshaped to (N, 3, S, S)
D: (N, 3, S, S) flattened -> 4w -> 2w -> w -> 1 logit
"""
import torch
from torch import nn

from .base import Architecture, Generator, HubModel, maybe_spectral_norm


def _mlp(dims, *, dropout: float = 0.0, sn: bool = False, norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers.append(maybe_spectral_norm(nn.Linear(d_in, d_out), sn))
        if norm:
            layers.append(nn.BatchNorm1d(d_out))
        layers.append(nn.LeakyReLU(0.2, True))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


class GANGenerator(Generator):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        hidden = [c.g_width, 2 * c.g_width, 4 * c.g_width]
        self.net = nn.Sequential(
            *_mlp([c.z_dim, *hidden], dropout=c.g_dropout, norm=True),
            nn.Linear(hidden[-1], 3 * c.img_size**2),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = self.config.img_size
        return self.net(self.latent_input(z)).view(-1, 3, s, s)


class GANDiscriminator(HubModel):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        hidden = [4 * c.d_width, 2 * c.d_width, c.d_width]
        self.net = nn.Sequential(
            *_mlp([3 * c.img_size**2, *hidden], sn=c.d_spectral_norm),
            maybe_spectral_norm(nn.Linear(hidden[-1], 1), c.d_spectral_norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).flatten()  # (N,) logits


ARCH = Architecture("gan", "fully connected GAN (Goodfellow et al. 2014)", GANGenerator, GANDiscriminator)
