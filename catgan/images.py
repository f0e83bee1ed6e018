"""Conversions at the edges: float (N, 3, H, W) in [-1, 1] <-> uint8 / PIL, grids and GIFs."""
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8, same shape, on CPU."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> [-1, 1] float32, same shape and device."""
    return x.float().div_(127.5).sub_(1.0)


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    """(N, 3, H, W) in [-1, 1] -> list of RGB PIL images."""
    arr = to_uint8(x).permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(a, "RGB") for a in arr]


def make_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """Tile (N, 3, H, W) in [-1, 1] into one PIL image with ``pad`` px white gutters."""
    imgs = to_uint8(x)
    n, _, h, w = imgs.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    for i, img in enumerate(imgs.permute(0, 2, 3, 1).numpy()):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return Image.fromarray(canvas, "RGB")


def save_gif(frames: list[Image.Image], path: str | Path, duration_ms: int = 200, loop: int = 0) -> None:
    """Animated GIF, written atomically."""
    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    tmp = path.with_suffix(".tmp.gif")
    frames[0].save(tmp, save_all=True, append_images=frames[1:], duration=duration_ms, loop=loop, optimize=False)
    os.replace(tmp, path)


def save_png(img: Image.Image, path: str | Path) -> None:
    """PNG written atomically (temp file + os.replace)."""
    path = Path(path)
    tmp = path.with_suffix(".tmp.png")
    img.save(tmp)
    os.replace(tmp, path)
