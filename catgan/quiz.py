"""The "Which cat is real?" quiz: real photos, fair pairs, and the answers in SQLite.

A pair is one real photo and one generated image, put through exactly the same steps: brought to
the generator's resolution, upscaled to the display size with the same filter, and written as an
uncompressed PNG (so every file of a given size has the same byte count) under a random name.
Which side is real is drawn with ``secrets`` and stays with the caller on the server.

Answers go to a SQLite file in WAL mode; each one is a single short transaction, so many
threads and processes can record at once.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .images import to_uint8
from .metrics import wilson_interval

ENV_REAL = "CATGAN_REAL"
ENV_DB = "CATGAN_QUIZ_DB"
DISPLAY = 256  # px per side of each quiz image
SIDES = ("left", "right")
DATASET_ID = re.compile(r"^(?:datasets/)?[A-Za-z0-9][\w.-]*/[\w.-]+$")
HOW_TO_ADD = ("No real cat photos are configured, so the quiz is off. Add a source: `python app.py --real "
              "PATH` (a folder or a .zip of photos, e.g. the Kaggle *Cats faces 64x64* zip, or a Hugging "
              "Face dataset repo id like `USER/cat-faces`), or set the environment variable "
              f"`{ENV_REAL}` to the same, then restart the app.")


class QuizError(RuntimeError):
    """The quiz can't go on; the message says what to do."""


# ---------------------------------------------------------------- real photos

def default_db_path() -> Path:
    """$CATGAN_QUIZ_DB, else quiz.sqlite in catgan's cache folder (never inside the repository)."""
    if os.environ.get(ENV_DB):
        return Path(os.environ[ENV_DB])
    from .data import cache_root
    return cache_root() / "quiz.sqlite"


def resolve_real_source(source: str | os.PathLike | None) -> str | None:
    """A local folder or zip as is; a Hugging Face dataset repo id downloaded (images and zips only)
    into the HF cache, which also serves it offline. None: no source configured."""
    if not source:
        return None
    src = str(source)
    if os.path.exists(src):
        return src
    if not DATASET_ID.match(src):
        raise QuizError(f"real-photo source not found: {src} (give a folder, a .zip or a dataset repo id)")
    from huggingface_hub import snapshot_download

    repo_id = src.removeprefix("datasets/")
    try:
        return snapshot_download(repo_id, repo_type="dataset", allow_patterns=[
            "*.zip", "*.jpg", "*.jpeg", "*.png", "*.webp", "*.JPG", "*.PNG"])
    except Exception as e:  # noqa: BLE001 - offline, missing, private: all mean "can't have it"
        raise QuizError(f"could not get the dataset {repo_id} from the Hugging Face Hub or its cache "
                        f"({type(e).__name__}); download it once online, or point to a local folder/zip") from None


_PHOTOS: dict[tuple, torch.Tensor] = {}
_PHOTOS_LOCK = threading.Lock()


def real_photos(source: str | os.PathLike, img_size: int = 64, limit: int | None = 2000) -> torch.Tensor:
    """(N, 3, img_size, img_size) uint8 real photos from ``source``, decoded once per process
    (and cached on disk by catgan.data)."""
    from .data import DataError, load_images

    key = (str(source), img_size, limit)
    with _PHOTOS_LOCK:
        if key not in _PHOTOS:
            path = resolve_real_source(source)
            try:
                _PHOTOS[key] = load_images(path, img_size, limit=limit, progress=False).images
            except DataError as e:
                raise QuizError(str(e)) from None
        return _PHOTOS[key]


# ---------------------------------------------------------------- pairs

@dataclass(frozen=True)
class Pair:
    left: Path
    right: Path
    real_side: str  # "left" | "right": the server keeps this
    resolution: int


def present(image: torch.Tensor, resolution: int, display: int = DISPLAY) -> Image.Image:
    """One (3, H, W) image, uint8 or float in [-1, 1], -> RGB at ``resolution``, then upscaled to
    ``display``. Real and generated images both take exactly this path."""
    x = image if image.dtype == torch.uint8 else to_uint8(image)
    img = Image.fromarray(np.ascontiguousarray(x.permute(1, 2, 0).numpy()), "RGB")
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.BOX)
    return img.resize((display, display), Image.Resampling.BICUBIC)


def write_uniform_png(img: Image.Image, folder: str | os.PathLike) -> Path:
    """An uncompressed PNG with no metadata under a random name: its name and byte count depend
    only on chance and the image's size, never on its content."""
    path = Path(folder) / f"{uuid.uuid4().hex}.png"
    img.convert("RGB").save(path, format="PNG", compress_level=0, optimize=False)
    return path


def make_pair(real: torch.Tensor, fake: torch.Tensor, resolution: int, folder: str | os.PathLike,
              display: int = DISPLAY) -> Pair:
    """Both images presented the same way; the real one on a side drawn with ``secrets``."""
    real_side = SIDES[secrets.randbelow(2)]
    images = {real_side: present(real, resolution, display), _other(real_side): present(fake, resolution, display)}
    left, right = (write_uniform_png(images[s], folder) for s in SIDES)
    return Pair(left, right, real_side, resolution)


def _other(side: str) -> str:
    return SIDES[1 - SIDES.index(side)]


# ---------------------------------------------------------------- answers

class QuizStore:
    """Answers in SQLite (WAL). One short-lived connection per call, always closed: safe from any
    thread or process."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("""CREATE TABLE IF NOT EXISTS answers (
                id INTEGER PRIMARY KEY, at REAL NOT NULL, model TEXT NOT NULL, resolution INTEGER NOT NULL,
                fooled INTEGER NOT NULL CHECK (fooled IN (0, 1)))""")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit), closed on exit. (sqlite3's own
        ``with connection:`` only commits; it never closes.)"""
        with contextlib.closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
            yield db

    def record(self, model: str, resolution: int, fooled: bool) -> int:
        """Store one answer; ``fooled``: the person took the generated image for the real one."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # a failure before COMMIT is rolled back when the connection closes
            cur = db.execute("INSERT INTO answers (at, model, resolution, fooled) VALUES (?, ?, ?, ?)",
                             (time.time(), model, int(resolution), int(bool(fooled))))
            db.execute("COMMIT")
            return int(cur.lastrowid)

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def stats(self) -> dict:
        """Fooled rates (with 95 % Wilson intervals) overall, per model and per resolution."""
        with self._connect() as db:
            by_model = db.execute("SELECT model, COUNT(*), SUM(fooled) FROM answers GROUP BY model ORDER BY model")
            by_model = [_rate(model=m, n=n, fooled=f) for m, n, f in by_model.fetchall()]
            by_res = db.execute("SELECT resolution, COUNT(*), SUM(fooled) FROM answers GROUP BY resolution "
                                "ORDER BY resolution").fetchall()
            by_res = [_rate(resolution=r, n=n, fooled=f) for r, n, f in by_res]
            n, fooled = db.execute("SELECT COUNT(*), COALESCE(SUM(fooled), 0) FROM answers").fetchone()
        return {"total": _rate(n=n, fooled=fooled), "by_model": by_model, "by_resolution": by_res}


def _rate(n: int, fooled: int, **key) -> dict:
    lo, hi = wilson_interval(int(fooled), int(n))
    return {**key, "n": int(n), "fooled": int(fooled), "rate": fooled / n if n else float("nan"), "ci95": (lo, hi)}


__all__ = ["ENV_REAL", "ENV_DB", "DISPLAY", "SIDES", "HOW_TO_ADD", "QuizError", "Pair", "QuizStore",
           "default_db_path", "resolve_real_source", "real_photos", "present", "write_uniform_png", "make_pair"]
