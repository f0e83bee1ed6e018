"""Fair quiz pairs: one real photo and one generated image, put through exactly the same steps.

Both are brought to the generator's resolution, then to ``PAIR_PX`` (64, the largest generator's
size) with the same filter, and written as an uncompressed PNG under a random name; the browser
scales both up alike. Uncompressed, because a compressed file's size depends on its content
(JPEG-noisy photos compress worse than smooth fakes) and would tell the sides apart; at 64 px a pair
is 25 KB. Which side is real is drawn with ``secrets`` and stays with the caller on the server.
The photos are a public set, so each pair is also shown through its own random ``View`` (a mirror
image or not, a slightly smaller square at a sub-pixel offset), the same for both sides: the file
never equals the photo as published, or as any fixed processing of it, so looking its bytes or hash
up finds nothing, and the fake gets exactly the same treatment, so the pair stays fair.
"""
from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..images import to_uint8

PAIR_PX = 64  # px per side of each quiz file; the page scales it up
SIDES = ("left", "right")
VIEW_SCALE = (0.86, 0.97)  # a pair shows a random square of this fraction of the image's side


@dataclass(frozen=True)
class View:
    """How one pair is shown, the same for both sides: mirrored or not, and the square of the image
    (left, top, right, bottom, as fractions of its side) that is scaled to the file's size."""
    flip: bool = False
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


def random_view(scale: tuple[float, float] = VIEW_SCALE) -> View:
    """A view drawn with ``secrets``: a square of a random fraction ``scale`` of the side, at a random
    sub-pixel offset, mirrored half of the time. Never the whole image, so never the plain file."""
    rand = secrets.SystemRandom()
    side = rand.uniform(*scale)
    x, y = rand.uniform(0, 1 - side), rand.uniform(0, 1 - side)
    return View(bool(secrets.randbelow(2)), (x, y, x + side, y + side))


@dataclass(frozen=True)
class Pair:
    left: Path
    right: Path
    real_side: str  # "left" | "right": the server keeps this
    resolution: int
    id: str  # random; becomes the answer's id, so a pair is answered once
    view: View = View()  # how both sides were shown


def present(image: torch.Tensor, resolution: int, size: int = PAIR_PX, view: View | None = None) -> Image.Image:
    """One (3, H, W) image, uint8 or float in [-1, 1], -> RGB at ``resolution``, then ``view``'s
    square of it (default: all of it) to ``size``, mirrored if ``view`` says so. Real and generated
    images both take exactly this path, with the same view."""
    x = image if image.dtype == torch.uint8 else to_uint8(image)
    img = Image.fromarray(np.ascontiguousarray(x.permute(1, 2, 0).numpy()), "RGB")
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.BOX)
    if view is None or view == View():
        return img if img.size == (size, size) else img.resize((size, size), Image.Resampling.BICUBIC)
    if view.flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    box = tuple(v * resolution for v in view.box)
    return img.resize((size, size), Image.Resampling.BICUBIC, box=box)


def write_uniform_png(img: Image.Image, folder: str | os.PathLike) -> Path:
    """An uncompressed PNG with no metadata under a random name: its name and byte count depend
    only on chance and the image's size, never on its content."""
    path = Path(folder) / f"{uuid.uuid4().hex}.png"
    img.convert("RGB").save(path, format="PNG", compress_level=0, optimize=False)
    return path


def make_pair(real: torch.Tensor, fake: torch.Tensor, resolution: int, folder: str | os.PathLike,
              size: int = PAIR_PX, view: View | None = None) -> Pair:
    """Both images presented the same way, through one ``view`` (default: a ``random_view()``);
    the real one on a side drawn with ``secrets``."""
    view = view or random_view()
    real_side = SIDES[secrets.randbelow(2)]
    images = {real_side: present(real, resolution, size, view), _other(real_side): present(fake, resolution, size, view)}
    left, right = (write_uniform_png(images[s], folder) for s in SIDES)
    return Pair(left, right, real_side, resolution, uuid.uuid4().hex, view)


def _other(side: str) -> str:
    return SIDES[1 - SIDES.index(side)]
