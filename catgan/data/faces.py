"""Finding the cat face in an uploaded photo (OpenCV's frontal cat-face Haar cascade) and cropping it
the way the training faces are framed, so an inversion starts from a picture the generator knows.

The cascade (haarcascade_frontalcatface_extended.xml, Joseph Howse, shipped in opencv-python-headless 4.x)
misses faces that fill or leave the frame and faces much larger than its 24 px window, so the photo is
padded by half its long side (edge pixels repeated) and searched at several working sizes; the
detection with the highest cascade confidence wins.

The crop: a square CROP_SCALE times the box's side, its centre shifted by CROP_OFFSET box sides. Those
constants were measured by ``calibrate`` on training faces themselves (``python -m catgan.data.faces
cat-faces-64.zip`` re-measures them); see CALIBRATION below.
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..images import to_rgb
from .dataset import load_images

CASCADE = "haarcascade_frontalcatface_extended.xml"
PAD = 0.5  # border added on every side, as a fraction of the photo's long side
WORK_SIZES = (160, 240, 360, 540, 800, 1200)  # long sides (padded) searched: small faces need the large ones
MIN_FACE = 24  # px at the working size: the cascade's window

# CALIBRATION (``calibrate`` on the first 300 faces of cat-faces-64.zip, each upscaled 4x to 256 px and
# searched by ``find_face`` as an upload is; 2026-12-04): a face was found in 279 of 300; the training
# crop's side is a median 1.067 box sides (quartiles 0.99-1.15) and its centre sits a median (0.00, 0.00)
# box sides from the box's: the Kaggle crops are the cascade's own square, 7% larger.
CROP_SCALE = 1.067
CROP_OFFSET = (0.0, 0.0)  # (x, y) in box sides; +y is down


@dataclass(frozen=True)
class Box:
    """A face's square in photo pixels; may reach past the photo's edges (a face that fills the frame)."""

    left: float
    top: float
    size: float
    confidence: float = 0.0  # the cascade's level weight: higher is surer

    @property
    def centre(self) -> tuple[float, float]:
        return self.left + self.size / 2, self.top + self.size / 2


_CASCADE: list[cv2.CascadeClassifier] = []  # loaded on first use, never at import
_LOCK = threading.Lock()  # a CascadeClassifier keeps per-call state: one search at a time (app threads)


def cascade() -> cv2.CascadeClassifier:
    """The cat-face cascade, loaded once; call it holding _LOCK."""
    if not _CASCADE:
        path = os.path.join(cv2.data.haarcascades, CASCADE)
        if not os.path.isfile(path):
            raise RuntimeError(f"OpenCV has no {CASCADE}: pip install 'opencv-python-headless>=4.8,<5' (5.x dropped it)")
        _CASCADE.append(cv2.CascadeClassifier(path))
    return _CASCADE[0]


def find_face(img: Image.Image) -> Box | None:
    """The most confident cat face in ``img`` (any mode), or None when the cascade finds none."""
    rgb = np.asarray(to_rgb(img))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    pad = int(round(PAD * max(grey.shape)))
    padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    long_side = max(padded.shape)
    best = None
    for work in WORK_SIZES:
        scale = work / long_side
        if scale > 4:  # a tiny photo: more upscaling adds no detail
            continue
        small = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        with _LOCK:
            boxes, _, weights = cascade().detectMultiScale3(small, scaleFactor=1.1, minNeighbors=3,
                                                            minSize=(MIN_FACE, MIN_FACE), outputRejectLevels=True)
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights)):
            box = Box(float(x / scale - pad), float(y / scale - pad), float(max(w, h) / scale), float(weight))
            if best is None or box.confidence > best.confidence:
                best = box
    return best


def crop_box(box: Box) -> tuple[float, float, float]:
    """(left, top, side) of the training-framed square around ``box``."""
    side = CROP_SCALE * box.size
    cx, cy = box.centre
    cx, cy = cx + CROP_OFFSET[0] * box.size, cy + CROP_OFFSET[1] * box.size
    return cx - side / 2, cy - side / 2, side


def crop_face(img: Image.Image, box: Box, size: int) -> Image.Image:
    """The ``size`` x ``size`` RGB crop of ``img`` framed like a training face; parts past the photo's
    edges repeat its edge pixels (as the search saw them)."""
    rgb = np.asarray(to_rgb(img))
    left, top, side = crop_box(box)
    h, w = rgb.shape[:2]
    l, t, r, b = int(np.floor(left)), int(np.floor(top)), int(np.ceil(left + side)), int(np.ceil(top + side))
    pads = max(0, -t), max(0, b - h), max(0, -l), max(0, r - w)
    if any(pads):
        rgb = cv2.copyMakeBorder(rgb, *pads, cv2.BORDER_REPLICATE)
        l, t, r, b = l + pads[2], t + pads[0], r + pads[2], b + pads[0]
    square = Image.fromarray(np.ascontiguousarray(rgb[t:b, l:r]), "RGB")
    return square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)


def calibrate(faces: torch.Tensor, upscale: int = 4) -> dict:
    """Run ``find_face`` on training faces (uint8 (N, 3, S, S)), each upscaled ``upscale`` x, and measure
    the training crop against the box found: its side in box sides and its centre's offset."""
    scales, dx, dy = [], [], []
    for face in faces:
        img = Image.fromarray(face.permute(1, 2, 0).numpy(), "RGB")
        side = img.width * upscale
        box = find_face(img.resize((side, side), Image.Resampling.BICUBIC))
        if box is None:
            continue
        cx, cy = box.centre
        scales.append(side / box.size)
        dx.append((side / 2 - cx) / box.size)
        dy.append((side / 2 - cy) / box.size)
    if not scales:
        raise ValueError("the cascade found no face in any of the images")
    q = statistics.quantiles(scales, n=4) if len(scales) > 1 else [scales[0]] * 3
    return {"found": len(scales), "of": len(faces), "scale": float(statistics.median(scales)),
            "scale_quartiles": (float(q[0]), float(q[2])), "offset": (float(statistics.median(dx)), float(statistics.median(dy)))}


def main(argv: list[str] | None = None) -> None:
    """python -m catgan.data.faces FACES.zip [--n 300]: re-measure CROP_SCALE and CROP_OFFSET."""
    parser = argparse.ArgumentParser(description="Measure the cat-face cascade's box against training crops.")
    parser.add_argument("faces", help="a folder or zip of training faces (e.g. cat-faces-64.zip)")
    parser.add_argument("--n", type=int, default=300, help="faces measured (the first N)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    print(calibrate(load_images(Path(args.faces), 64, limit=args.n, progress=False).images))


if __name__ == "__main__":
    main()
