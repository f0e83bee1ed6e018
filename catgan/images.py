"""Conversions at the edges: image files -> PIL (the one safe decoder), float (N, 3, H, W) in [-1, 1]
<-> uint8 / PIL, grids, GIFs and MP4s.

Inside catgan images are float in [-1, 1]; every conversion to or from another form is here, once.
"""
import io
import math
import os
import struct
import threading
import warnings
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.utils import make_grid as _tv_make_grid

from .fileio import atomic_path, atomic_write

ALPHA_MODES = ("P", "PA", "RGBA", "LA", "La", "RGBa")
WIDE_GREY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")

# What every catgan input (training data, app uploads, command lines) may be. Pillow's built-in
# decoders only: never EPS & co., which run external programs.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # "JPEG" opens phones' multi-picture (MPO) files too
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")  # lower case, as files are matched
# One pixel limit, read from the header before decoding: 4096x4096, as the README promises uploads.
# It holds a 12 MP phone photo, costs at most 64 MB decoded (RGBA), and catgan never needs more:
# training crops to 32-64 px and the judges look at 224-256 px.
MAX_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 64 * 2**20  # one file's (declared) size, checked before it is read
_OPEN_LOCK = threading.Lock()  # Image.open under a warnings filter: one thread at a time changes the filters


class BadImage(ValueError):
    """A file catgan can't decode: not an image of IMAGE_FORMATS, damaged, or with oversized metadata.
    The message is one line that names no path (callers add it)."""


class TooLarge(BadImage):
    """A file over MAX_FILE_BYTES, or an image over MAX_PIXELS: refused before it is decoded."""


def decode_rgb(source: bytes | str | os.PathLike, *, max_side: int | None = None,
               max_aspect: float | None = None) -> Image.Image:
    """An image file (its bytes or its path) -> RGB PIL image: first frame, EXIF orientation applied,
    any mode converted by ``to_rgb``, no metadata kept. Memory stays bounded: the file size and the
    header's pixel count are checked before decoding (TooLarge); ``max_aspect`` crops the long side to
    that many times the short one (centred) and ``max_side`` shrinks to at most that many pixels
    before any mode conversion (JPEGs are decoded at a reduced scale right away). Every other failure
    is a BadImage."""
    if not isinstance(source, bytes):
        size = os.stat(source).st_size
        if size > MAX_FILE_BYTES:
            raise TooLarge(f"{size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES >> 20} MB")
        source = Path(source).read_bytes()
    if not source:
        raise BadImage("an empty file")
    if len(source) > MAX_FILE_BYTES:
        raise TooLarge(f"{len(source) / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES >> 20} MB")
    side = math.isqrt(MAX_PIXELS)
    limit = f"the limit is {side}x{side} ({MAX_PIXELS / 1e6:.1f} M pixels)"
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(source), formats=IMAGE_FORMATS)  # reads the header only
        except UnidentifiedImageError:
            raise BadImage("not an image catgan reads (PNG, JPEG, WebP, GIF, BMP or TIFF)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooLarge(f"an image that claims an enormous size (a decompression bomb?); {limit}") from None
        except (ValueError, OSError, SyntaxError, EOFError, struct.error):  # e.g. Pillow's caps on PNG text/ICC
            raise BadImage("damaged, or its metadata (text or colour-profile chunks) is oversized") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise TooLarge(f"{w}x{h} pixels; {limit}")
    if w < 1 or h < 1:
        raise BadImage(f"{w}x{h} pixels: no image")
    kind = f"{img.format} {img.mode}"
    try:
        img.seek(0)  # first frame of a GIF / animated WebP / multi-page TIFF
        if max_side:
            img.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
        img.load()
        img = ImageOps.exif_transpose(_fit(img, max_side, max_aspect))
        rgb = _fit(to_rgb(img), max_side, None)  # palette images are shrunk after conversion (never by nearest)
    except (ValueError, OSError, SyntaxError, EOFError, struct.error):
        raise BadImage(f"damaged or truncated, or of an unsupported kind ({kind})") from None
    rgb.info.clear()  # no text or colour profile travels on
    return rgb


def _fit(img: Image.Image, max_side: int | None, max_aspect: float | None) -> Image.Image:
    """Crop the long side to ``max_aspect`` x the short side (centred), then shrink to at most
    ``max_side`` px; palette and 1-bit images are only cropped (they would be shrunk by nearest)."""
    w, h = img.size
    if max_aspect:
        cw, ch = min(w, round(max_aspect * h)), min(h, round(max_aspect * w))
        if (cw, ch) != (w, h):
            left, top = (w - cw) // 2, (h - ch) // 2
            img = img.crop((left, top, left + cw, top + ch))
    if max_side and max(img.size) > max_side and img.mode not in ("P", "PA", "1"):
        gap = 2.0 if img.mode in ("L", "RGB", "RGBA", "LA", "I", "F", "CMYK") else None  # reduce() knows these
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=gap)
    return img


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


def luma(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of RGB images (N, 3, H, W) in [0, 1]: (N, H, W)."""
    return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]


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
