"""FastGAN (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training for High-fidelity
Few-shot Image Synthesis"), scaled down to 32/64 px and to CPU budgets.

G: nearest-upsample + conv3x3 + BatchNorm + GLU blocks, and skip-layer excitation (SLE): the 4x4
map gates the 32x32 map channel-wise, and at 64 px the 8x8 map gates the 64x64 one.
D: strided-conv DownBlocks and a logit, plus FastGAN's self-supervision: two small decoders
rebuild the real image at S/2 from D's 8x8 map and a random quadrant of it from the 16x16 map.

Shapes for img_size=64, g_width w, d_width d:  z (N, z_dim)
  G: -> (4w, 4, 4) -> (2w, 8, 8) -> (w, 16, 16) -> (w/2, 32, 32)*SLE(4x4) -> (w/8, 64, 64)*SLE(8x8)
     -> (3, 64, 64)
  D: (3, 64, 64) -> (d, 32, 32) -> (2d, 16, 16) -> (4d, 8, 8) -> (8d, 4, 4) -> logit
     decoders: (4d, 8, 8) -> (3, 32, 32) vs x avg-pooled to 32; a quadrant of (2d, 16, 16), i.e.
     (2d, 8, 8) -> (3, 32, 32) vs that quadrant of x
img_size=32 drops G's last stage and the SLE at 64, D's first stage, and one decoder block.
G's widths halve per doubling of resolution (FastGAN keeps more channels up high) and drop to w/8
at 64x64, and the decoders are d/4 wide: a CPU training step then costs about 1.5 DCGAN steps.
Not kept from FastGAN: noise injection (G stays a function of z), the two-scale D, SLE inside D,
and the LPIPS reconstruction loss (L1 here: nothing to download). No conv has a bias, as in FastGAN.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Architecture, Generator, HubModel, maybe_spectral_norm
from .dcgan import dcgan_init

# G's channels per resolution, in units of g_width: FastGAN's nfc_multi, cut down for CPU training
# (the 64x64 stage is the costliest per channel, hence the extra cut there)
G_WIDTHS = {4: 4, 8: 2, 16: 1, 32: 1 / 2, 64: 1 / 8}


def _up(c_in: int, c_out: int, sn: bool = False) -> list[nn.Module]:
    """x2 nearest upsampling, then conv3x3 to 2*c_out channels that a GLU gates back to c_out."""
    conv = maybe_spectral_norm(nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False), sn)
    return [nn.Upsample(scale_factor=2, mode="nearest"), conv, nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1)]


class SkipExcitation(nn.Module):
    """SLE: channel weights in (0, 1) for a high-resolution map, computed from a low-resolution one."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4, bias=False), nn.SiLU(),  # -> (c_high, 1, 1)
            nn.Conv2d(c_high, c_high, 1, bias=False), nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.net(low)


class FastGANGenerator(Generator):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        self.resolutions = [2**k for k in range(3, int(math.log2(c.img_size)) + 1)]  # 8, 16, 32(, 64)
        ch = {r: max(1, int(m * c.g_width)) for r, m in G_WIDTHS.items()}
        # z as a 1x1 map -> (2*ch4, 4, 4) -> GLU -> (ch4, 4, 4), as FastGAN's InitLayer
        self.init = nn.Sequential(nn.ConvTranspose2d(c.z_dim, 2 * ch[4], 4, 1, 0, bias=False),
                                  nn.BatchNorm2d(2 * ch[4]), nn.GLU(dim=1))
        dropout = [nn.Dropout2d(c.g_dropout)] if c.g_dropout > 0 else []
        self.ups = nn.ModuleList(nn.Sequential(*_up(ch[r // 2], ch[r]), *dropout) for r in self.resolutions)
        # each map of >= 32 px is gated by the one 8x smaller
        self.sle = nn.ModuleDict({str(r): SkipExcitation(ch[r // 8], ch[r]) for r in self.resolutions if r >= 32})
        self.to_rgb = nn.Sequential(nn.Conv2d(ch[c.img_size], 3, 3, 1, 1, bias=False), nn.Tanh())
        self.apply(dcgan_init)

    def latent_input(self, z: torch.Tensor) -> torch.Tensor:
        return z.view(z.shape[0], -1, 1, 1)  # (N, z_dim, 1, 1) for the first transposed conv

    def early_features(self) -> tuple[nn.Module, str]:
        return nn.Sequential(nn.Unflatten(1, (self.config.z_dim, 1, 1)), self.init), "init (4x4 ConvTranspose2d+GLU)"

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        feats = {4: self.init(self.latent_input(z))}  # resolution -> feature map
        for r, up in zip(self.resolutions, self.ups):
            x = up(feats[r // 2])
            feats[r] = self.sle[str(r)](feats[r // 8], x) if r >= 32 else x
        return self.to_rgb(feats[self.config.img_size])  # (N, 3, S, S) in [-1, 1]


def _decoder(c_in: int, width: int, n_up: int, sn: bool) -> nn.Sequential:
    """(c_in, 8, 8) -> (3, 8 * 2**n_up, 8 * 2**n_up) in [-1, 1], FastGAN's SimpleDecoder in small."""
    layers, ch = [], c_in
    for _ in range(n_up):
        layers += _up(ch, width, sn)
        ch = width
    return nn.Sequential(*layers, maybe_spectral_norm(nn.Conv2d(ch, 3, 3, 1, 1, bias=False), sn), nn.Tanh())


class FastGANDiscriminator(HubModel):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        s, d, sn = c.img_size, c.d_width, c.d_spectral_norm  # FastGAN keeps BatchNorm under spectral norm
        ch = {r: d * s // (2 * r) for r in (s // 2, 16, 8, 4)}  # d at S/2, doubling per halving
        self.stem = nn.Sequential(maybe_spectral_norm(nn.Conv2d(3, d, 4, 2, 1, bias=False), sn), nn.LeakyReLU(0.2, True))
        self.downs = nn.ModuleDict({  # keyed by output resolution: S/4 ... 4
            str(r): nn.Sequential(maybe_spectral_norm(nn.Conv2d(ch[2 * r], ch[r], 4, 2, 1, bias=False), sn),
                                  nn.BatchNorm2d(ch[r]), nn.LeakyReLU(0.2, True))
            for r in (16, 8, 4) if r < s // 2
        })
        n_up = int(math.log2(s)) - 4  # 8 px -> S/2
        self.decode_full = _decoder(ch[8], max(1, d // 4), n_up, sn)  # whole image from the 8x8 map
        self.decode_part = _decoder(ch[16], max(1, d // 4), n_up, sn)  # a quadrant from the 16x16 map
        self.head = maybe_spectral_norm(nn.Conv2d(ch[4], 1, 4, 1, 0, bias=False), sn)  # registered last: raw logits
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, aux: bool = False):
        """Logits (N,); with ``aux``, also the decoders' L1 reconstruction loss on ``x`` (a scalar)."""
        feats = {x.shape[-1] // 2: self.stem(x)}  # resolution -> feature map
        for key, down in self.downs.items():
            feats[int(key)] = down(feats[2 * int(key)])
        logits = self.head(feats[4]).flatten()
        if not aux:
            return logits
        # a random quadrant per call, from torch's (seeded, checkpointed) CPU generator: no device sync
        qy, qx = divmod(int(torch.randint(4, ())), 2)
        h = x.shape[-1] // 2
        part = self.decode_part(feats[16][..., 8 * qy:8 * qy + 8, 8 * qx:8 * qx + 8])
        errors = torch.cat([self.decode_full(feats[8]) - F.avg_pool2d(x, 2),
                            part - x[..., h * qy:h * qy + h, h * qx:h * qx + h]])
        return logits, errors.float().abs().mean()


ARCH = Architecture("fastgan", "FastGAN (Liu et al. 2021)", FastGANGenerator, FastGANDiscriminator,
                    channels_last=True, d_aux_loss=True)
