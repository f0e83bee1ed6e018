"""Face crops from the Crawford "Cat Dataset" landmark files.

Each ``X.jpg`` has ``X.jpg.cat``: ``9 x1 y1 ... x9 y9`` = left eye, right eye, mouth,
then three points per ear (left ear: 4-6, right ear: 7-9). We rotate the photo so the
eyes are level, take the square around all nine points plus a margin, and resize.
"""
import math

import numpy as np
from PIL import Image

N_POINTS = 9


def parse_landmarks(text: str) -> np.ndarray:
    """``"9 x1 y1 ..."`` -> (9, 2) float array; ValueError if malformed."""
    vals = text.split()
    if not vals or int(vals[0]) != N_POINTS or len(vals) < 1 + 2 * N_POINTS:
        raise ValueError("expected '9 x1 y1 ... x9 y9'")
    return np.asarray([float(v) for v in vals[1: 1 + 2 * N_POINTS]], dtype=np.float64).reshape(N_POINTS, 2)


def face_box(points: np.ndarray, margin: float = 0.15):
    """Where to cut the face: ``(angle, (cx, cy), side, eyes)``.

    ``angle`` (degrees, PIL convention) levels the eyes when the photo is rotated about
    ``eyes`` (their midpoint); ``(cx, cy)`` and ``side`` are the square's centre and side
    in that rotated photo.
    """
    left, right = points[0], points[1]
    angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
    eyes = (left + right) / 2
    t = math.radians(angle)
    d = points - eyes
    # PIL's rotate(+angle) turns the picture counter-clockwise on screen (y points down)
    rx = d[:, 0] * math.cos(t) + d[:, 1] * math.sin(t) + eyes[0]
    ry = -d[:, 0] * math.sin(t) + d[:, 1] * math.cos(t) + eyes[1]
    side = max(rx.max() - rx.min(), ry.max() - ry.min()) * (1 + 2 * margin)
    return angle, ((rx.max() + rx.min()) / 2, (ry.max() + ry.min()) / 2), side, tuple(eyes)


def crop_face(img: Image.Image, points: np.ndarray, img_size: int, margin: float = 0.15) -> Image.Image | None:
    """Upright square face crop resized to ``img_size``; None when the face is smaller than that."""
    angle, (cx, cy), side, eyes = face_box(points, margin)
    if side < img_size:
        return None
    upright = img.rotate(angle, resample=Image.Resampling.BICUBIC, center=eyes)
    half = side / 2
    box = tuple(round(v) for v in (cx - half, cy - half, cx + half, cy + half))
    return upright.crop(box).resize((img_size, img_size), Image.Resampling.LANCZOS)
