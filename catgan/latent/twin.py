"""Your own cat: a photo -> the cat's face, framed like the training faces -> its twin in a
generator's latent space, which the sliders, interpolation and the judges then treat like a sample.

    python -m catgan.latent.twin my-cat.jpg [--weights weights/dcgan-64] [--face whole] [--out twin.png]

The face is found by OpenCV's cat-face cascade (catgan.data.faces), or pointed at by hand (its centre
and its side, as fractions of the photo), or is the whole photo; the twin is the encoder's guess
refined by a few dozen steps of latent optimisation (inversion.py: pixel + perceptual + prior losses),
then drawn by the generator with its last layers tuned to that one face (pivotal.py).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import torch
from PIL import Image

from .. import cli
from ..data.faces import CROP_SCALE, Box, crop_face, find_face
from ..hub.loader import load_generator
from ..images import decode_rgb, make_grid, pil_to_float
from ..judges import JudgeUnavailable
from .encoder import Encoder, load_encoder
from .inversion import InvertConfig, invert, psnr
from .perceptual import Perceptual, load_perceptual
from .pivotal import TuneConfig, draw_tuned, tune

FIND, POINT, WHOLE = "find the face", "where I point", "the whole picture"
FACE_MODES = (FIND, POINT, WHOLE)
# 20 steps on z, then 24 on the generator's last layers: 2.3 s per cat at one thread, face search
# included; real faces from outside the training set come back at 28-33 dB, where 60 steps on z alone
# reach 20.5 (docs/your-cat.md)
TWIN_CONFIG = InvertConfig(steps=20, lr=0.1, perceptual_weight=0.1)
TWIN_TUNING = TuneConfig(steps=24, lr=1e-3, perceptual_weight=0.1)


@dataclass(frozen=True)
class FaceSpec:
    """Where the face is: ``mode`` FIND (the cascade), POINT (centre ``x``, ``y`` as fractions of the
    photo's width and height, side ``size`` as a fraction of its short side) or WHOLE."""
    mode: str = FIND
    x: float = 0.5
    y: float = 0.5
    size: float = 0.5

    def __post_init__(self):
        if self.mode not in FACE_MODES:
            raise ValueError(f"the face mode must be one of {FACE_MODES}, got {self.mode!r}")
        if not (0 <= self.x <= 1 and 0 <= self.y <= 1 and 0.05 <= self.size <= 1):
            raise ValueError("x and y must be fractions from 0 to 1, and size from 0.05 to 1")


class NoFace(ValueError):
    """The cascade found no cat face in the photo."""


@dataclass(frozen=True)
class Twin:
    face: torch.Tensor  # (3, S, S) in [-1, 1]: the crop that was inverted
    z: torch.Tensor  # (z_dim,) the twin's latent
    tail: dict[str, torch.Tensor]  # the generator's tuned last layers (pivotal.py); {}: none tuned
    image: torch.Tensor  # (3, S, S) in [-1, 1]: z drawn with the tuned tail
    psnr: float  # dB of image against face
    psnr_latent: float  # dB of the shared generator's G(z) against face: the latent alone
    perceptual: float | None  # Lite1 distance of image to face
    box: Box | None  # where the face was found; None: the whole picture was taken as the face
    seconds: float  # wall time: face search, crop and inversion


def face_crop(photo: Image.Image, size: int, face: FaceSpec = FaceSpec()) -> tuple[Image.Image, Box | None]:
    """(the ``size`` px face, its box in photo pixels): found by the cascade and framed like a training
    face, or the square pointed at, or the photo's centre square (box None). NoFace when the cascade
    finds none."""
    if face.mode == WHOLE:
        side = min(photo.size)
        left, top = (photo.width - side) // 2, (photo.height - side) // 2
        square = photo.convert("RGB").crop((left, top, left + side, top + side))
        return square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0), None
    if face.mode == POINT:
        side = face.size * min(photo.size)
        box = Box(face.x * photo.width - side / 2, face.y * photo.height - side / 2, side)
        framed = Box(*(c + (side - side / CROP_SCALE) / 2 for c in (box.left, box.top)), side / CROP_SCALE)
        return crop_face(photo, framed, size), box  # crop_face widens a box by CROP_SCALE: this one is the crop
    box = find_face(photo)
    if box is None:
        raise NoFace("no cat face was found in that photo")
    return crop_face(photo, box, size), box


def find_twin(generator, photo: Image.Image, encoder: Encoder | None, *, face: FaceSpec = FaceSpec(),
              perceptual: Perceptual | None = None, config: InvertConfig = TWIN_CONFIG,
              tuning: TuneConfig = TWIN_TUNING) -> Twin:
    """The twin of the cat in ``photo`` (any size and mode) in ``generator``'s latent space, drawn with
    the generator's last layers tuned to it (``tuning.steps=0``: the latent alone)."""
    start = time.perf_counter()
    crop, box = face_crop(photo, generator.config.img_size, face)
    inv = invert(generator, pil_to_float(crop), encoder, config=config, perceptual=perceptual)
    tail = tune(generator, inv.z, inv.target, perceptual, tuning)
    image = draw_tuned(generator, tail, inv.z)
    with torch.no_grad():
        far = perceptual.distance(image, inv.target) if perceptual is not None else None
    return Twin(face=inv.target[0], z=inv.z[0], tail=tail, image=image[0], psnr=float(psnr(image, inv.target)[0]),
                psnr_latent=float(inv.psnr[0]), perceptual=None if far is None else float(far[0]), box=box,
                seconds=time.perf_counter() - start)


def main(argv: list[str]) -> int:
    parser = cli.ArgumentParser(prog="python -m catgan.latent.twin", description=__doc__.splitlines()[0])
    parser.add_argument("photo", help="a photo of a cat (PNG, JPEG, WebP, GIF, BMP, TIFF)")
    parser.add_argument("--weights", default="weights/dcgan-64", help="a generator's weights folder with an encoder")
    parser.add_argument("--face", choices=["find", "whole"], default="find", help="find the face, or take the "
                                                                                 "whole photo's centre square")
    parser.add_argument("--steps", type=int, default=TWIN_CONFIG.steps, help="refinement steps after the encoder")
    parser.add_argument("--tune-steps", type=int, default=TWIN_TUNING.steps,
                        help="steps tuning the generator's last layers to the face (0: the latent alone)")
    parser.add_argument("--out", default="twin.png", help="the face and its twin, side by side (PNG)")
    args = parser.parse_args(argv)
    with cli.argument_checks():
        if args.steps < 0 or args.tune_steps < 0:
            raise ValueError("--steps and --tune-steps must be 0 or more")
        photo = decode_rgb(args.photo)
        generator = load_generator(args.weights).eval()
        encoder = load_encoder(args.weights, generator)
    try:
        perceptual = load_perceptual()
    except JudgeUnavailable as e:
        print(f"refining on pixels alone: {e}", file=sys.stderr)
        perceptual = None
    try:
        twin = find_twin(generator, photo, encoder, face=FaceSpec(FIND if args.face == "find" else WHOLE),
                         perceptual=perceptual,
                         config=replace(TWIN_CONFIG, steps=args.steps),
                         tuning=replace(TWIN_TUNING, steps=args.tune_steps))
    except NoFace as e:
        raise ValueError(f"{e}; crop the photo to the face and use --face whole") from None
    make_grid(torch.stack([twin.face, twin.image]), nrow=2).save(args.out)
    far = f", perceptual distance {twin.perceptual:.3f}" if twin.perceptual is not None else ""
    print(f"twin found in {twin.seconds:.1f} s: PSNR {twin.psnr:.2f} dB (the latent alone {twin.psnr_latent:.2f}){far}; "
          f"face and twin in {args.out}")
    return 0


entry = cli.command(main)  # the console script

__all__ = ["FACE_MODES", "FIND", "POINT", "TWIN_CONFIG", "TWIN_TUNING", "WHOLE", "FaceSpec", "NoFace", "Twin", "face_crop", "find_twin"]


if __name__ == "__main__":
    sys.exit(entry())
