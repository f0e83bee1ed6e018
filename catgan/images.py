"""Conversions at the edges: float (N, 3, H, W) in [-1, 1] <-> uint8 / PIL, grids, GIFs and MP4s.

Inside catgan images are float in [-1, 1]; every conversion to or from another form is here, once.
"""
import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid as _tv_make_grid

from .fileio import atomic_path, atomic_write

ALPHA_MODES = ("P", "PA", "RGBA", "LA", "La", "RGBa")
WIDE_GREY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8, same shape, on CPU."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> [-1, 1] float32, same shape and device (a new tensor)."""
    return x.float().div(127.5).sub_(1.0)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> [-1, 1] float32; float images are taken to be in [-1, 1] already."""
    return from_uint8(x) if x.dtype == torch.uint8 else x.float()


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB: transparency composited onto white (not black), 16-bit greyscale keeps
    its top 8 bits (``convert("L")`` would clip), float greyscale is stretched to 0..255."""
    if img.mode in WIDE_GREY_MODES:
        img = Image.fromarray((np.asarray(img, dtype=np.uint32) >> 8).clip(0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        a = np.nan_to_num(a - np.nanmin(a)) / max(float(np.nanmax(a) - np.nanmin(a)), 1e-12) * 255
        img = Image.fromarray(a.astype(np.uint8), "L")
    if img.mode in ALPHA_MODES:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img.convert("RGB")


def pil_to_float(img: Image.Image) -> torch.Tensor:
    """One PIL image (any mode) -> float (3, H, W) in [-1, 1]."""
    arr = np.asarray(to_rgb(img), dtype=np.uint8)
    return from_uint8(torch.from_numpy(arr.copy()).permute(2, 0, 1))


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    """(N, 3, H, W) in [-1, 1] -> list of RGB PIL images."""
    arr = to_uint8(x).permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(a, "RGB") for a in arr]


def make_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """Tile (N, 3, H, W) in [-1, 1] into one PIL image, ``nrow`` per row (default: square), with
    ``pad`` px white gutters (torchvision's make_grid on the uint8 images)."""
    imgs = to_uint8(x)
    nrow = nrow or int(np.ceil(np.sqrt(imgs.shape[0])))
    grid = _tv_make_grid(imgs, nrow=nrow, padding=pad, pad_value=255)
    return Image.fromarray(grid.permute(1, 2, 0).numpy(), "RGB")


def save_png(img: Image.Image, path: str | Path) -> None:
    """PNG, written atomically (the temp name never matches a glob on the final names)."""
    atomic_write(path, lambda f: img.save(f, format="PNG"))


def save_gif(frames: list[Image.Image], path: str | Path, duration_ms: int = 200, loop: int = 0) -> None:
    """Animated GIF, written atomically."""
    if not frames:
        raise ValueError("no frames to write")
    atomic_write(path, lambda f: frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                                                duration=duration_ms, loop=loop, optimize=False))


def write_mp4(frames, path: str | os.PathLike, fps: float) -> Path:
    """H.264 MP4 (yuv420p, faststart: plays in every browser) of PIL frames with even sides,
    written with imageio-ffmpeg's bundled ffmpeg."""
    path = Path(path)
    options = dict(format="FFMPEG", mode="I", fps=float(fps), codec="libx264", pixelformat="yuv420p",
                   macro_block_size=2, ffmpeg_log_level="error", output_params=["-movflags", "+faststart", "-crf", "18"])
    with atomic_path(path, suffix=".mp4") as tmp, imageio.get_writer(tmp, **options) as writer:
        for frame in frames:
            writer.append_data(np.asarray(frame.convert("RGB")))
    return path
