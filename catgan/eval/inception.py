"""The FID Inception-v3 ("TF Inception 2015-12-05", pool3 features), as pytorch-fid builds it.

torchvision's Inception3 with pytorch-fid's patched blocks: TensorFlow's average pools ignore the
zero padding, and the last block max-pools. Weights: a local file ($CATGAN_FID_INCEPTION, or
shared/weights/pt_inception-2015-12-05-pool3-nofc.pth), else pytorch-fid's release, downloaded
into the torch hub cache. Input: images in [-1, 1], any size; they are resized to 299 x 299 with
bilinear interpolation (align_corners=False, no antialias) exactly as pytorch-fid does.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception as tv
from tqdm.auto import tqdm

from .. import env
from ..images import to_float

FID_WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
LOCAL_NAME = "pt_inception-2015-12-05-pool3-nofc.pth"
RESIZE = 299
FEATURE_DIM = 2048


class FIDInceptionA(tv.InceptionA):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = self.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        return torch.cat([b1, b5, b3, pool], 1)


class FIDInceptionC(tv.InceptionC):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        pool = self.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        return torch.cat([b1, b7, d, pool], 1)


class FIDInceptionE(tv.InceptionE):
    def __init__(self, in_channels: int, max_pool: bool):
        super().__init__(in_channels)
        self.max_pool = max_pool  # Mixed_7c (E_2) max-pools; Mixed_7b (E_1) average-pools

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        return torch.cat([b1, b3, d, self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """(N, 3, H, W) in [-1, 1] -> (N, 2048) pool3 features."""

    BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
              "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
              "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool")

    def __init__(self):
        super().__init__()
        net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
        net.Mixed_5b = FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = FIDInceptionE(1280, max_pool=False)
        net.Mixed_7c = FIDInceptionE(2048, max_pool=True)
        self.blocks = nn.Sequential(*[getattr(net, name) for name in self.BLOCKS])

    def load_fid_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Strictly load a pytorch-fid layout state dict (its 1008-way ``fc`` is dropped, if present)."""
        index = {name: str(i) for i, name in enumerate(self.BLOCKS)}
        mapped = {}
        for key, value in state.items():
            head, _, rest = key.partition(".")
            if head == "fc":
                continue
            if head not in index:
                raise KeyError(f"unexpected key {key!r} in FID Inception weights")
            mapped[f"blocks.{index[head]}.{rest}"] = value
        self.load_state_dict(mapped)  # strict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (RESIZE, RESIZE):
            x = F.interpolate(x, size=(RESIZE, RESIZE), mode="bilinear", align_corners=False)
        return self.blocks(x).flatten(1)


def inception_weights_path() -> Path:
    return env.path_from(env.FID_INCEPTION, env.shared_root() / "weights" / LOCAL_NAME)


def load_inception(weights: str | os.PathLike | None = None, device="cpu") -> tuple[FIDInception, str]:
    """The FID Inception in eval mode and which weights it loaded: the file's name (never its local
    path, which tables and model cards would carry) or the URL."""
    path = Path(weights) if weights else inception_weights_path()
    model = FIDInception()
    if path.is_file():
        state, source = torch.load(path, map_location="cpu", weights_only=True), path.name
    else:
        try:
            state = torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, map_location="cpu", progress=True)
        except Exception as err:
            raise FileNotFoundError(f"FID Inception weights not found at {path} and the download failed "
                                    f"({type(err).__name__}); set CATGAN_FID_INCEPTION to {LOCAL_NAME}") from None
        source = FID_WEIGHTS_URL
    model.load_fid_state_dict(state)
    # channels_last: same features (max abs difference ~1e-5), about 1.5x faster with oneDNN on CPU
    return model.eval().to(device, memory_format=torch.channels_last), source


@torch.inference_mode()
def inception_features(model: FIDInception, images: torch.Tensor, batch_size: int = 50, device="cpu",
                       progress: bool = False, desc: str = "inception") -> torch.Tensor:
    """uint8 or [-1, 1] float (N, 3, H, W) -> (N, 2048) float64 features on CPU."""
    out = []
    for i in tqdm(range(0, len(images), batch_size), desc=desc, unit="batch", disable=not progress):
        x = to_float(images[i:i + batch_size])
        out.append(model(x.to(device).contiguous(memory_format=torch.channels_last)).double().cpu())
    return torch.cat(out) if out else torch.empty(0, FEATURE_DIM, dtype=torch.float64)
