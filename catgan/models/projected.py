"""Projected GAN (Sauer et al., NeurIPS 2021, "Projected GANs Converge Faster"): FastGAN's generator
(fastgan.py) against small discriminators that judge an image through a frozen pretrained network.

D, for img_size 64 and d_width d:
  x (3, 64, 64) in [-1, 1], TensorFlow's normalisation
  -> EfficientNet-Lite1 (ImageNet, frozen), its stage ends 1, 2, 4, 6:
     (24, 16, 16), (40, 8, 8), (112, 4, 4), (320, 2, 2)
  -> cross-channel mixing, fixed random 1x1 convs: 64, 128, 256, 512 channels
  -> cross-scale mixing, fixed random 1x1 convs, coarse to fine, each map added to the next finer one
     and upsampled x2: (64, 32, 32), (64, 16, 16), (128, 8, 8), (256, 4, 4)
  -> per scale a trained head: strided conv blocks down to 8x8 (widths 4d, 8d at 16, 8 px), then a
     4x4 conv: 5x5 patch logits (1 for the 4x4 map); D(x) is (N, 76) logits.

The paper upsamples every image to 224 px first. Here the 64 px image is seen as it is: at 128 px a
training step costs 9.7 CPU-seconds on this machine's CPU, at 64 px 2.9 (DCGAN-64: 2.1).

Only the heads train; the pretrained network and the random projections stay as built (they are
saved with D, so a resumed run sees through the same projections). The pretrained network is
EfficientNet-Lite1 from PyPI, not Lite0 as in the paper: Lite0 is one of catgan's judges, and a
generator must never be trained against a network that then scores it. An ImageNet-feature D can
lower Inception FID without better-looking cats (Kynkäänniemi et al., ICLR 2023), so this family's
Fréchet distance is also measured in resnet-animals' features, which never saw ImageNet.
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..judges.efficientnet_lite import LITE1_DEPTH, EfficientNetLite, lite_stages
from ..judges.efficientnet_lite import STAGES as LITE_STAGES
from ..judges.imagenet import efficientnet_lite1
from .base import Architecture, HubModel
from .dcgan import dcgan_init
from .fastgan import FastGANGenerator

INPUT_SIZE = 64  # what Lite1 sees: the image as it is (the paper: 224)
SEEN = (1, 2, 4, 6)  # Lite1's stage ends seen (strides 4, 8, 16, 32)
MIXED = (64, 128, 256, 512)  # channels after cross-channel mixing, per scale
HEAD_END = 8  # each head downsamples its map to 8x8 before its 4x4 logit conv


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.utils.spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.2, True))


def _head(c_in: int, size: int, d: int) -> nn.Sequential:
    """(c_in, size, size) -> (1, 5, 5) logits, through conv blocks of width d x 64 / (their output size)."""
    layers = []
    while size > HEAD_END:
        size //= 2
        layers.append(_down(c_in, d * 64 // size))
        c_in = d * 64 // size
    return nn.Sequential(*layers, nn.utils.spectral_norm(nn.Conv2d(c_in, 1, 4, 1, 0, bias=False)))


class ProjectedDiscriminator(HubModel):
    def __init__(self, config):
        super().__init__(config)
        if torch.empty(()).device.type == "meta":  # shapes only (models.base.parameter_count)
            net, self.source = EfficientNetLite(lite_stages(LITE1_DEPTH)), "shapes only"
        else:
            net, self.source = efficientnet_lite1()
        self.features = net
        channels = [LITE_STAGES[s][3] for s in SEEN]  # Lite1 has Lite0's widths
        self.ccm = nn.ModuleList(nn.Conv2d(c, m, 1) for c, m in zip(channels, MIXED))
        fused = (MIXED[0], MIXED[0], MIXED[1], MIXED[2])  # the coarser map halves its channels as it goes up
        self.csm = nn.ModuleList(nn.Conv2d(m, f, 1) for m, f in zip(MIXED, fused))
        self.frozen = (self.features, self.ccm, self.csm)
        for part in self.frozen:
            part.requires_grad_(False)
        sizes = [INPUT_SIZE // 2 ** k for k in range(2, 6)]  # Lite1's strides 4 ... 32
        self.heads = nn.ModuleList(_head(f, 2 * s, self.config.d_width) for f, s in zip(fused, sizes))
        self.heads.apply(dcgan_init)

    def requires_grad_(self, requires_grad: bool = True):
        super().requires_grad_(requires_grad)  # the trainer toggles D around its G step
        for part in self.frozen:
            part.requires_grad_(False)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        for part in self.frozen:
            part.eval()  # the pretrained BatchNorm keeps its ImageNet statistics
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = ((x + 1) * 127.5 - 127.0) / 128.0  # [-1, 1] -> TensorFlow's (255 x - 127) / 128
        mixed = [ccm(f) for ccm, f in zip(self.ccm, self.features.features(x, SEEN))]
        maps, coarser = [], None
        for k in reversed(range(len(mixed))):  # coarse to fine
            h = mixed[k] if coarser is None else mixed[k] + coarser
            coarser = self.csm[k](F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
            maps.insert(0, coarser)
        return torch.cat([head(m).flatten(1) for head, m in zip(self.heads, maps)], dim=1)  # (N, 76)


ARCH = Architecture("projected", "Projected GAN (Sauer et al. 2021): FastGAN's G, D on frozen EfficientNet-Lite1",
                    FastGANGenerator, ProjectedDiscriminator, sizes=(64,))
