"""What every judge shares: the verdict record, input handling and batched scoring.

A judge is a classifier plus the preprocessing its weights expect. ``score`` accepts PIL images
of any size and mode, or float tensors in [-1, 1] ((3, H, W), (N, 3, H, W), or 1-channel), and
returns one :class:`Verdict` per image. Resizing is bilinear with antialiasing (torchvision's
tensor ``Resize``), short side to ``resize`` then a centre crop of ``crop``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..images import pil_to_float, to_float


class JudgeUnavailable(RuntimeError):
    """The judge's weights can't be had here; the message says how to get them."""


@dataclass(frozen=True)
class Verdict:
    top5: tuple[tuple[str, float], ...]  # (label, probability), best first
    p_cat: float  # summed probability of the judge's cat classes
    p_big_cat: float  # big cats (ImageNet 286-293); reported, never counted as cat; 0 if n/a
    is_cat: bool  # top-1 class is a cat class
    is_big_cat: bool  # top-1 class is a big-cat class
    judge: str
    weights: str  # where the weights came from


@dataclass(frozen=True)
class Preprocess:
    resize: int  # short side before the crop
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] (N, 3, H, W) -> the network's input: [0, 1], less ``mean``, over ``std``."""
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return ((x + 1) / 2 - mean) / std


class Judge:
    """A classifier in eval mode + its labels, cat classes and preprocessing."""

    def __init__(self, name: str, model: nn.Module, labels: Sequence[str], *, cat_classes: Sequence[int],
                 big_cat_classes: Sequence[int] = (), preprocess: Preprocess, weights: str):
        self.name, self.weights, self.preprocess = name, weights, preprocess
        self.model = model.eval().to(memory_format=torch.channels_last)  # same outputs, ~1.6x faster on CPU
        self.labels = list(labels)
        self.cat_classes = list(cat_classes)
        self.big_cat_classes = list(big_cat_classes)
        self.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> "Judge":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def fingerprint(self) -> str:
        """Hash of the name, preprocessing and every weight: changes whenever the judge's answers could."""
        h = hashlib.sha256(f"{self.name}|{self.preprocess}|{self.cat_classes}".encode())
        for key, value in self.model.state_dict().items():
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()[:32]

    def __repr__(self) -> str:
        return f"Judge({self.name!r}, weights={self.weights!r})"

    @torch.inference_mode()
    def probs(self, images, batch_size: int = 64) -> torch.Tensor:
        """(N, num_classes) softmax probabilities, float32 on CPU."""
        out = []
        for chunk in _chunks(images, batch_size):
            x = self.prepare(chunk).to(self.device).contiguous(memory_format=torch.channels_last)
            out.append(self.model(x).float().softmax(-1).cpu())
        return torch.cat(out) if out else torch.empty(0, len(self.labels))

    def verdicts(self, probs: torch.Tensor) -> list[Verdict]:
        p_cat = probs[:, self.cat_classes].sum(-1)
        p_big = probs[:, self.big_cat_classes].sum(-1) if self.big_cat_classes else torch.zeros(len(probs))
        top_p, top_i = probs.topk(min(5, probs.shape[1]), dim=-1)
        cats, bigs = set(self.cat_classes), set(self.big_cat_classes)
        return [Verdict(top5=tuple((self.labels[i], float(p)) for p, i in zip(tp.tolist(), ti.tolist())),
                        p_cat=float(pc), p_big_cat=float(pb), is_cat=int(ti[0]) in cats,
                        is_big_cat=int(ti[0]) in bigs, judge=self.name, weights=self.weights)
                for tp, ti, pc, pb in zip(top_p, top_i, p_cat, p_big)]

    def score(self, images, batch_size: int = 64) -> list[Verdict]:
        """One verdict per image (PIL images or [-1, 1] tensors, any size and mode)."""
        return self.verdicts(self.probs(images, batch_size))

    def prepare(self, chunk: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """[-1, 1] images -> resized, cropped, normalised (N, 3, crop, crop) float32."""
        p = self.preprocess
        if isinstance(chunk, torch.Tensor):  # a same-size batch: resize it in one go
            x = _resize_crop(chunk, p.resize, p.crop)
        else:
            x = torch.cat([_resize_crop(im[None], p.resize, p.crop) for im in chunk])
        return p.normalise(x)


def as_tensor(image) -> torch.Tensor:
    """One PIL image (any mode) or tensor (uint8, or float in [-1, 1]) -> float (3, H, W) in [-1, 1]."""
    if isinstance(image, Image.Image):
        return pil_to_float(image)
    if isinstance(image, torch.Tensor):
        x = to_float(image.detach().cpu())
        if x.dim() == 2:
            x = x[None]
        if x.dim() != 3 or x.shape[0] not in (1, 3, 4):
            raise ValueError(f"expected an image tensor (C, H, W) with 1, 3 or 4 channels, got {tuple(image.shape)}")
        return x[:3] if x.shape[0] != 1 else x.expand(3, -1, -1)
    raise TypeError(f"can't score a {type(image).__name__}: pass PIL images or [-1, 1] tensors")


def _chunks(images, batch_size: int):
    """Yield same-size (N, 3, H, W) tensors or lists of (3, H, W) tensors, batch_size at a time."""
    if isinstance(images, (Image.Image, torch.Tensor)) and not (isinstance(images, torch.Tensor) and images.dim() == 4):
        images = [images]
    if isinstance(images, torch.Tensor):  # (N, C, H, W)
        for i in range(0, len(images), batch_size):
            chunk = images[i:i + batch_size]
            yield to_float(chunk.detach().cpu()) if chunk.shape[1] == 3 else torch.stack([as_tensor(im) for im in chunk])
        return
    images = list(images)
    for i in range(0, len(images), batch_size):
        yield [as_tensor(im) for im in images[i:i + batch_size]]


def _resize_crop(x: torch.Tensor, resize: int, crop: int) -> torch.Tensor:
    """(N, 3, H, W): short side -> ``resize`` (bilinear, antialiased), then centre crop ``crop``."""
    h, w = x.shape[-2:]
    scale = resize / min(h, w)
    size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    top, left = (x.shape[-2] - crop) // 2, (x.shape[-1] - crop) // 2
    return x[..., top:top + crop, left:left + crop]

