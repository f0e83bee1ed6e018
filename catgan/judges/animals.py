"""resnet-animals: a residual network trained by catgan itself on the six animal classes of CIFAR-10:
the CIFAR-style ResNet of He et al. 2016 (sec. 4.2), or FastResNet, a short wide residual net that
learns far faster per epoch. Optionally a seventh class, "other", learnt from CIFAR-10's vehicles,
gives the closed-set classifier a "none of these animals" answer. Weights live in a catgan.weights
folder (config.json + model.safetensors + README.md), by default weights/resnet-animals beside the
package, or $CATGAN_RESNET_ANIMALS.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import env
from ..images import IMAGE_EXTS, decode_rgb
from ..weights import WEIGHTS_NAME, load_weights_strict, read_config
from .base import Judge, JudgeUnavailable, Preprocess

ANIMALS = ("bird", "cat", "deer", "dog", "frog", "horse")
OTHER = "other"  # the optional seventh class
NOT_ANIMALS = ("airplane", "automobile", "ship", "truck")  # the CIFAR-10 folders it is learnt from
# CIFAR-10's channel mean and std; the judge and the trainer both normalise with PREPROCESS
PREPROCESS = Preprocess(resize=32, crop=32, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
ARCHS = ("cifar-resnet", "fast-resnet")


@dataclass(frozen=True)
class AnimalNetConfig:
    depth: int = 20  # cifar-resnet: 6n + 2
    width: int = 32  # cifar-resnet: first stage (the paper's ResNet-20 uses 16); fast-resnet: w, 4w, 4w
    classes: tuple[str, ...] = ANIMALS
    arch: str = "cifar-resnet"  # or "fast-resnet" (FastResNet below)
    flip_tta: bool = False  # the judge averages probabilities over the image and its mirror

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "cifar-resnet" and ((self.depth - 2) % 6 or self.depth < 8):
            raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56), got {self.depth}")

    @classmethod
    def from_dict(cls, data: dict) -> "AnimalNetConfig":
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"config.json has unknown keys {unknown}; is it a resnet-animals folder?")
        return cls(**{**data, "classes": tuple(data.get("classes", ANIMALS))})


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:  # option B: 1x1 projection
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """(N, 3, 32, 32) -> (N, len(classes)) logits; three stages at 32, 16, 8 px."""

    def __init__(self, config: AnimalNetConfig = AnimalNetConfig()):
        super().__init__()
        self.config = config
        n, w = (config.depth - 2) // 6, config.width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        layers, c_in = [], w
        for stage, c_out in enumerate((w, 2 * w, 4 * w)):
            for i in range(n):
                layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and i == 0 else 1))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, len(config.classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layers(self.stem(x)).mean((2, 3)))


class FastBlock(nn.Module):
    """conv -> max-pool 2 -> BN -> GELU, then a residual branch conv -> BN -> GELU (as in ResNet-9)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.bn1(F.max_pool2d(self.conv1(x), 2)))
        return x + F.gelu(self.bn2(self.conv2(x)))


class FastResNet(nn.Module):
    """A short, wide residual net that trains to high accuracy in few epochs (the ResNet-9 /
    airbench family of fast CIFAR-10 training): a frozen 2x2 whitening stem set from the data's
    patch covariance, three residual stages at 15, 7 and 3 px (widths w, 4w, 4w), global max pool.
    Costs fewer FLOPs per image than ResNet-20 at width 32."""

    logit_scale = 0.125

    def __init__(self, config: AnimalNetConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Conv2d(3, 24, 2)
        self.stem.weight.requires_grad_(False)  # set by init_whitening, never trained
        self.layers = nn.Sequential(FastBlock(24, w), FastBlock(w, 4 * w), FastBlock(4 * w, 4 * w))
        self.fc = nn.Linear(4 * w, len(config.classes), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layers(F.gelu(self.stem(x))).amax((2, 3))) * self.logit_scale

    @torch.no_grad()
    def init_whitening(self, x: torch.Tensor, eps: float = 5e-4) -> None:
        """Stem filters = the (+/-) eigenvectors of the 2x2 patch covariance of normalised images
        ``x`` (N, 3, 32, 32), scaled to unit variance; the bias centres them."""
        patches = F.unfold(x.float(), 2).transpose(1, 2).reshape(-1, 12).double()
        mean = patches.mean(0)
        cov = (patches - mean).T @ (patches - mean) / len(patches)
        eigval, eigvec = torch.linalg.eigh(cov)
        filters = eigvec.T / (eigval.clamp_min(0) + eps).sqrt()[:, None]  # (12, 12)
        weight = torch.cat([filters, -filters])
        self.stem.weight.copy_(weight.reshape(24, 3, 2, 2).float())
        self.stem.bias.copy_((-weight @ mean).float())


class FlipAverage(nn.Module):
    """Log of the mean softmax over an image and its mirror: softmax of the output = averaged P."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mirror_average(self.net(x), self.net(x.flip(3)))


def mirror_average(logits: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
    """(N, classes) logits of images and of their mirrors -> log of the mean of the two softmaxes."""
    p = (logits.float().softmax(-1) + mirrored.float().softmax(-1)) / 2
    return p.clamp_min(1e-12).log()


def build_net(config: AnimalNetConfig) -> nn.Module:
    return FastResNet(config) if config.arch == "fast-resnet" else CifarResNet(config)


def default_dir() -> Path:
    return env.path_from(env.RESNET_ANIMALS, env.BUNDLED_WEIGHTS / "resnet-animals")


def load_model(folder: str | os.PathLike) -> nn.Module:
    """A resnet-animals weights folder (catgan.weights format) -> the net in eval mode, loaded strictly."""
    folder = Path(folder)
    if not (folder / WEIGHTS_NAME).is_file():
        raise JudgeUnavailable(f"no resnet-animals weights in {folder}; train them with "
                               "`python -m catgan.judges train --data ../shared/data/cifar10.zip`")
    model = build_net(read_config(folder, AnimalNetConfig.from_dict))
    load_weights_strict(model, folder / WEIGHTS_NAME)  # fp16 files load to fp32
    return model.eval()


def resnet_animals(weights: str | os.PathLike | None = None) -> Judge:
    folder = Path(weights) if weights else default_dir()
    model = load_model(folder)
    config = model.config
    return Judge("resnet-animals", FlipAverage(model) if config.flip_tta else model, config.classes,
                 cat_classes=[config.classes.index("cat")], preprocess=PREPROCESS, weights=_describe(folder, config))


def _describe(folder: Path, config: AnimalNetConfig) -> str:
    """'weights/resnet-animals (fast-resnet w64, mirror-averaged)': repo-relative when inside the repo."""
    try:
        where = folder.resolve().relative_to(env.REPO_ROOT).as_posix()
    except ValueError:
        where = str(folder)
    arch = config.arch if config.arch == "fast-resnet" else f"resnet-{config.depth}"
    return f"{where} ({arch} w{config.width}{', mirror-averaged' if config.flip_tta else ''})"


def cifar_index(z: zipfile.ZipFile) -> dict[str, list[str]]:
    """The image members of a cifar10.zip-layout archive by folder ("train/cat"), in name order: the
    order in which ``load_cifar`` takes the first N of a folder."""
    by_folder: dict[str, list[str]] = {}
    for name in sorted(z.namelist()):
        if name.lower().endswith(IMAGE_EXTS):
            by_folder.setdefault(name.rsplit("/", 1)[0], []).append(name)
    return by_folder


def load_cifar(zip_path: str | os.PathLike, split: str, classes=ANIMALS, limit_per_class: int | None = None,
               other_per_class: int | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``split/<class>/*.jpg`` members of cifar10.zip -> (uint8 (N, 3, 32, 32), int64 labels 0..len(classes)-1).
    With ``other_per_class`` (None: all), one more label, ``other``, gathers that many images (the first, in
    name order) from each of the NOT_ANIMALS folders."""
    with zipfile.ZipFile(zip_path) as z:
        by_folder = cifar_index(z)

        def members(cls: str, limit: int | None) -> list[str]:
            if not by_folder.get(f"{split}/{cls}"):
                raise FileNotFoundError(f"no {split}/{cls}/ images in {zip_path}")
            return by_folder[f"{split}/{cls}"][:limit]

        groups = [(label, members(cls, limit_per_class)) for label, cls in enumerate(classes)]
        if other_per_class is None or other_per_class > 0:
            limit = min((n for n in (limit_per_class, other_per_class) if n is not None), default=None)
            groups.append((len(classes), [m for cls in NOT_ANIMALS for m in members(cls, limit)]))
        images = [np.asarray(decode_rgb(z.read(name)).resize((32, 32)), np.uint8).transpose(2, 0, 1)
                  for _, names in groups for name in names]
    labels = [label for label, names in groups for _ in names]
    return torch.from_numpy(np.stack(images)), torch.tensor(labels)
