"""Where does a judge look? Grad-CAM (Selvaraju et al., ICCV 2017) for any catgan judge.

The map is the ReLU of the judge's last spatial feature map, weighted channel by channel by the
mean gradient of the top class's logit: the regions whose features raise that class. It is
written here in a few lines rather than taken from pytorch-grad-cam, torchcam or Captum, because
each of those brings matplotlib (and pytorch-grad-cam OpenCV and scikit-learn) into the Space's
runtime for what is one forward and one backward pass.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..images import pil_to_float, to_float
from .base import Verdict


@dataclass(frozen=True)
class ClassMap:
    heat: np.ndarray  # (H, W) float32 in [0, 1], aligned with the input image (0 outside the judge's crop)
    label: str  # the class the map explains (the judge's top-1)
    prob: float


_capture = threading.local()  # per thread: the 4-D outputs seen during this thread's Grad-CAM forward pass
_watched: weakref.WeakSet[nn.Module] = weakref.WeakSet()
_watch_lock = threading.Lock()


def _keep(_module, _inputs, output) -> None:
    seen = getattr(_capture, "seen", None)
    if seen is not None and isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-1] * output.shape[-2] > 1:
        seen.append(output)


def watch(model: nn.Module) -> nn.Module:
    """Hook every module of ``model`` once, for good. A hook records outputs only in a thread that is
    computing a map, so a model shared by many threads (the app's judges) serves batch scoring and
    maps at the same time, with no lock, and no hook is added or removed while another thread runs it.
    Call it when the model is loaded, before it is shared."""
    with _watch_lock:
        if model not in _watched:
            for m in model.modules():
                m.register_forward_hook(_keep)
            _watched.add(model)
    return model


def last_spatial_output(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on ``x`` and return (logits, the last 4-D activation with more than one pixel),
    i.e. the feature map just before global pooling, whatever the architecture."""
    watch(model)
    _capture.seen = seen = []
    try:
        logits = model(x)
    finally:
        _capture.seen = None
    if not seen:
        raise TypeError(f"{type(model).__name__} has no spatial feature map to explain")
    return logits, seen[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, class_index: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Grad-CAM of ``model`` for one normalised input ``x`` (1, 3, h, w): the (h, w) map in [0, 1],
    the class probabilities of that same forward pass, and the class explained (default: the top-1)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)  # a graph even when the weights are frozen
        logits, features = last_spatial_output(model, x)
        probs = logits.detach().float().softmax(-1)[0]
        index = int(probs.argmax()) if class_index is None else class_index
        (grads,) = torch.autograd.grad(logits[0, index], features)
    weights = grads.float().mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1): each channel's importance
    cam = F.relu((weights * features.detach().float()).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam / cam.max() if cam.max() > 0 else cam
    return cam, probs, index


def explain(judge, image) -> tuple[Verdict, ClassMap]:
    """``judge``'s verdict on one image (PIL, or a [-1, 1] / uint8 tensor (3, H, W)) and the Grad-CAM of
    its top class, from one forward and one backward pass. The judge resizes the short side and
    centre-crops, so the map covers that crop, mapped back onto the image, and is 0 outside it."""
    x = pil_to_float(image) if isinstance(image, Image.Image) else to_float(image.detach().cpu())
    p = judge.preprocess
    cam, probs, index = grad_cam(judge.model, judge.prepare(x[None]).to(judge.device))
    h, w = x.shape[-2:]
    scale = p.resize / min(h, w)
    ch, cw = min(h, round(p.crop / scale)), min(w, round(p.crop / scale))  # the crop, in image pixels
    top, left = (h - ch) // 2, (w - cw) // 2
    heat = torch.zeros(h, w)
    heat[top:top + ch, left:left + cw] = F.interpolate(cam[None, None], size=(ch, cw), mode="bilinear",
                                                       align_corners=False)[0, 0].clamp(0, 1)
    verdict = judge.verdicts(probs.cpu()[None])[0]
    return verdict, ClassMap(heat.numpy().astype(np.float32), judge.labels[index], float(probs[index]))


def judge_map(judge, image) -> ClassMap:
    """The Grad-CAM of ``judge``'s top class on one image (see :func:`explain`)."""
    return explain(judge, image)[1]


def overlay(image: Image.Image, heat: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """``heat`` in [0, 1] drawn over ``image`` with a dark-blue → red → yellow colour ramp."""
    stops = np.array([[0, 0, 80], [40, 0, 160], [200, 30, 60], [255, 140, 0], [255, 240, 120]], np.float32)
    pos = heat.clip(0, 1) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    t = (pos - lo)[..., None]
    colour = stops[lo] * (1 - t) + stops[lo + 1] * t
    base = np.asarray(image.convert("RGB").resize(heat.shape[::-1], Image.Resampling.BICUBIC), np.float32)
    return Image.fromarray((base * (1 - alpha) + colour * alpha).clip(0, 255).astype(np.uint8), "RGB")
