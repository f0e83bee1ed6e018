"""DCGAN (Radford et al. 2015): transposed-conv generator, strided-conv discriminator.

Shapes for img_size=64, width w:  z (N, z_dim, 1, 1)
  G: -> (8w, 4, 4) -> (4w, 8, 8) -> (2w, 16, 16) -> (w, 32, 32) -> (3, 64, 64)
  D: (3, 64, 64) -> (w, 32, 32) -> (2w, 16, 16) -> (4w, 8, 8) -> (8w, 4, 4) -> logit
img_size=32 drops one stage at each end.
"""
import math

import torch
from torch import nn

from .base import Architecture, Generator, HubModel, maybe_spectral_norm


def _n_stages(img_size: int) -> int:
    return int(math.log2(img_size)) - 3  # 64 -> 3 inner stages, 32 -> 2


class DCGANGenerator(Generator):
    def __init__(self, config):
        super().__init__(config)
        c, n = self.config, _n_stages(self.config.img_size)
        ch = c.g_width * 2**n
        layers = [nn.ConvTranspose2d(c.z_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            if c.g_dropout > 0:
                layers.append(nn.Dropout2d(c.g_dropout))
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def latent_input(self, z: torch.Tensor) -> torch.Tensor:
        return z.view(z.shape[0], -1, 1, 1)  # (N, z_dim, 1, 1): a 1x1 "image" for the first transposed conv

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.latent_input(z))  # (N, 3, S, S) in [-1, 1]


class DCGANDiscriminator(HubModel):
    def __init__(self, config):
        super().__init__(config)
        c, n = self.config, _n_stages(self.config.img_size)
        sn = c.d_spectral_norm  # spectral norm replaces BatchNorm in D
        ch = c.d_width
        layers = [maybe_spectral_norm(nn.Conv2d(3, ch, 4, 2, 1, bias=sn), sn), nn.LeakyReLU(0.2, True)]
        for _ in range(n):
            layers.append(maybe_spectral_norm(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=sn), sn))
            if not sn:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            ch *= 2
        layers.append(maybe_spectral_norm(nn.Conv2d(ch, 1, 4, 1, 0, bias=sn), sn))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()  # (N,) logits


def dcgan_init(m: nn.Module) -> None:
    """N(0, 0.02) conv weights, N(1, 0.02) BN scales, as in the DCGAN paper."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and not hasattr(m, "parametrizations"):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


ARCH = Architecture("dcgan", "DCGAN (Radford et al. 2015)", DCGANGenerator, DCGANDiscriminator, channels_last=True)
