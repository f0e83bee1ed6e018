"""The "Which cat is real?" quiz: real photos, fair pairs, and the answers in SQLite.

A pair is one real photo and one generated image, put through exactly the same steps: brought to
the generator's resolution, then to ``PAIR_PX`` (64, the largest generator's size) with the same
filter, and written as an uncompressed PNG under a random name; the browser scales both up alike.
Uncompressed, because a compressed file's size depends on its content (JPEG-noisy photos compress
worse than smooth fakes) and would tell the sides apart; at 64 px a pair is 25 KB (at 256 px it was
394 KB). Which side is real is drawn with ``secrets`` and stays with the caller on the server.
Each session draws real photos from its own shuffle of the whole set, so none comes back before
all have been shown: remembering earlier photos never gives an answer away.

Answers go to a SQLite file in WAL mode. Every pair has a random id that is also its answer's id:
claiming the pair and storing its answer is one ``BEGIN IMMEDIATE`` transaction, so however many
requests race to answer one pair, exactly one is stored, and an answer imported twice (from the
Hub, by catgan.quiz.sync) is stored once. Answers given too fast are stored but not counted.
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import snapshot_download
from PIL import Image

from .. import env
from ..data.dataset import DataError, load_images
from ..eval.metrics import wilson_interval
from ..images import to_uint8

PAIR_PX = 64  # px per side of each quiz file; the page scales it up
SIDES = ("left", "right")
DATASET_ID = re.compile(r"^(?:datasets/)?[A-Za-z0-9][\w.-]*/[\w.-]+$")
PHOTO_PATTERNS = ["*.zip", "*.jpg", "*.jpeg", "*.png", "*.webp", "*.JPG", "*.JPEG", "*.PNG"]
HOW_TO_ADD = ("No real cat photos are configured, so the quiz is off. Add a source: `python app.py --real "
              "PATH` (a folder or a .zip of photos, e.g. the Kaggle *Cats faces 64x64* zip, or a Hugging "
              "Face dataset repo id like `USER/cat-faces`), or set the environment variable "
              f"`{env.REAL}` to the same, then restart the app.")


class QuizError(RuntimeError):
    """The quiz can't go on; the message says what to do."""


# ---------------------------------------------------------------- real photos

def default_db_path() -> Path:
    """$CATGAN_QUIZ_DB, else quiz.sqlite in catgan's cache folder (never inside the repository)."""
    return env.path_from(env.QUIZ_DB, env.cache_root() / "quiz.sqlite")


def resolve_real_source(source: str | os.PathLike | None) -> str | None:
    """A local folder or zip as is; a Hugging Face dataset repo id (as ``python -m catgan.hub.space
    upload-photos`` makes one: a single zip, or loose images) downloaded into the HF cache, which also
    serves it offline. A private repo needs HF_TOKEN (a Space secret). None: no source configured."""
    if not source:
        return None
    src = str(source)
    if os.path.exists(src):
        return src
    if not DATASET_ID.match(src):
        raise QuizError(f"real-photo source not found: {src} (give a folder, a .zip or a dataset repo id)")
    repo_id = src.removeprefix("datasets/")
    try:
        folder = Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=PHOTO_PATTERNS,
                                        endpoint=env.value(env.HF_ENDPOINT)))
    except Exception as e:  # noqa: BLE001 - offline, missing, private: all mean "can't have it"
        raise QuizError(f"could not get the dataset {repo_id} from the Hugging Face Hub or its cache "
                        f"({type(e).__name__}); download it once online, set HF_TOKEN for a private one, "
                        "or point to a local folder/zip") from None
    zips = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".zip")
    has_images = any(p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") for p in folder.rglob("*"))
    return str(zips[0]) if len(zips) == 1 and not has_images else str(folder)


_PHOTOS: dict[tuple, torch.Tensor] = {}
_PHOTOS_LOCK = threading.Lock()


def real_photos(source: str | os.PathLike, img_size: int = 64, limit: int | None = None) -> torch.Tensor:
    """(N, 3, img_size, img_size) uint8 real photos from ``source`` (all of them unless ``limit``),
    decoded once per process (and cached on disk by catgan.data.dataset)."""
    key = (str(source), img_size, limit)
    with _PHOTOS_LOCK:
        if key not in _PHOTOS:
            path = resolve_real_source(source)
            try:
                _PHOTOS[key] = load_images(path, img_size, limit=limit, progress=False).images
            except DataError as e:
                raise QuizError(str(e)) from None
        return _PHOTOS[key]


def next_photo(deck: dict | None, n: int) -> tuple[int, dict]:
    """(index, deck): the next photo of a session's own shuffle of ``n`` photos. ``deck`` (None at
    first) is that session's state, kept on the server: a secret seed and a position. No index comes
    back before all ``n`` have been drawn; then a new shuffle starts."""
    if not deck or deck.get("n") != n or deck["pos"] >= n:
        deck = {"seed": secrets.randbits(63), "pos": 0, "n": n}
    order = np.random.default_rng(deck["seed"]).permutation(n)  # 0.1 ms for 10,000 photos
    return int(order[deck["pos"]]), {**deck, "pos": deck["pos"] + 1}


# ---------------------------------------------------------------- pairs

@dataclass(frozen=True)
class Pair:
    left: Path
    right: Path
    real_side: str  # "left" | "right": the server keeps this
    resolution: int
    id: str  # random; becomes the answer's id, so a pair is answered once


def present(image: torch.Tensor, resolution: int, size: int = PAIR_PX) -> Image.Image:
    """One (3, H, W) image, uint8 or float in [-1, 1], -> RGB at ``resolution``, then to ``size``.
    Real and generated images both take exactly this path."""
    x = image if image.dtype == torch.uint8 else to_uint8(image)
    img = Image.fromarray(np.ascontiguousarray(x.permute(1, 2, 0).numpy()), "RGB")
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.BOX)
    return img if img.size == (size, size) else img.resize((size, size), Image.Resampling.BICUBIC)


def write_uniform_png(img: Image.Image, folder: str | os.PathLike) -> Path:
    """An uncompressed PNG with no metadata under a random name: its name and byte count depend
    only on chance and the image's size, never on its content."""
    path = Path(folder) / f"{uuid.uuid4().hex}.png"
    img.convert("RGB").save(path, format="PNG", compress_level=0, optimize=False)
    return path


def make_pair(real: torch.Tensor, fake: torch.Tensor, resolution: int, folder: str | os.PathLike,
              size: int = PAIR_PX) -> Pair:
    """Both images presented the same way; the real one on a side drawn with ``secrets``."""
    real_side = SIDES[secrets.randbelow(2)]
    images = {real_side: present(real, resolution, size), _other(real_side): present(fake, resolution, size)}
    left, right = (write_uniform_png(images[s], folder) for s in SIDES)
    return Pair(left, right, real_side, resolution, uuid.uuid4().hex)


def _other(side: str) -> str:
    return SIDES[1 - SIDES.index(side)]


# ---------------------------------------------------------------- answers

@dataclass(frozen=True)
class Recorded:
    stored: bool  # False: the pair had been answered already, nothing was written
    counted: bool  # stored and counted in the statistics
    reason: str = ""  # why a stored answer is not counted


class QuizStore:
    """Answers in SQLite (WAL). One short-lived connection per call, always closed: safe from any
    thread or process. ``mirror``: an object whose ``append(row)`` gets every counted answer (the
    Hub copy of catgan.quiz.sync)."""

    def __init__(self, path: str | os.PathLike, mirror=None):
        self.path, self.mirror = Path(path), mirror
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            db.execute("""CREATE TABLE IF NOT EXISTS answers (
                id INTEGER PRIMARY KEY, at REAL NOT NULL, model TEXT NOT NULL, resolution INTEGER NOT NULL,
                fooled INTEGER NOT NULL CHECK (fooled IN (0, 1)), uid TEXT, counted INTEGER NOT NULL DEFAULT 1)""")
            columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
            if "uid" not in columns:  # a store from before answers had ids: its rows stay counted, once
                db.execute("ALTER TABLE answers ADD COLUMN uid TEXT")
                db.execute("ALTER TABLE answers ADD COLUMN counted INTEGER NOT NULL DEFAULT 1")
            db.execute("CREATE UNIQUE INDEX IF NOT EXISTS answers_uid ON answers (uid)")
            db.execute("COMMIT")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit), closed on exit. (sqlite3's own
        ``with connection:`` only commits; it never closes.)"""
        with contextlib.closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
            yield db

    def record(self, model: str, resolution: int, fooled: bool, *, uid: str | None = None,
               check: Callable[[], str | None] | None = None) -> Recorded:
        """Store the answer to pair ``uid`` (default: a new id) unless that pair is answered already;
        ``fooled``: the person took the generated image for the real one. ``check`` runs only for
        the one request that claims the pair, inside the transaction; a reason it returns keeps the
        answer out of the statistics."""
        uid = uid or uuid.uuid4().hex
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time; a failure before COMMIT is rolled back on close
            if db.execute("SELECT 1 FROM answers WHERE uid = ?", (uid,)).fetchone():
                db.execute("ROLLBACK")
                return Recorded(False, False, "this pair was answered already")
            reason = (check() if check else None) or ""
            row = {"id": uid, "at": time.time(), "model": model, "resolution": int(resolution), "fooled": bool(fooled)}
            db.execute("INSERT INTO answers (uid, at, model, resolution, fooled, counted) VALUES (?, ?, ?, ?, ?, ?)",
                       (uid, row["at"], model, row["resolution"], int(row["fooled"]), int(not reason)))
            db.execute("COMMIT")
        if self.mirror is not None and not reason:
            self.mirror.append(row)
        return Recorded(True, not reason, reason)

    def import_answers(self, rows: Iterable[dict]) -> int:
        """Add counted answers (dicts as ``record`` mirrors them); ids already here are skipped.
        Returns how many were new."""
        values = [(str(r["id"]), float(r["at"]), str(r["model"]), int(r["resolution"]), int(bool(r["fooled"])))
                  for r in rows]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO answers (uid, at, model, resolution, fooled, counted) "
                           "VALUES (?, ?, ?, ?, ?, 1)", values)
            new = db.total_changes - before
            db.execute("COMMIT")
        return new

    def count(self, counted: bool = True) -> int:
        """Counted answers (``counted=False``: those stored but not counted)."""
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM answers WHERE counted = ?", (int(counted),)).fetchone()[0])

    def stats(self) -> dict:
        """Fooled rates (with 95 % Wilson intervals) of the counted answers, overall, per model and
        per resolution."""
        with self._connect() as db:
            by_model = db.execute("SELECT model, COUNT(*), SUM(fooled) FROM answers WHERE counted = 1 "
                                  "GROUP BY model ORDER BY model")
            by_model = [_rate(model=m, n=n, fooled=f) for m, n, f in by_model.fetchall()]
            by_res = db.execute("SELECT resolution, COUNT(*), SUM(fooled) FROM answers WHERE counted = 1 "
                                "GROUP BY resolution ORDER BY resolution").fetchall()
            by_res = [_rate(resolution=r, n=n, fooled=f) for r, n, f in by_res]
            n, fooled = db.execute("SELECT COUNT(*), COALESCE(SUM(fooled), 0) FROM answers WHERE counted = 1").fetchone()
        return {"total": _rate(n=n, fooled=fooled), "by_model": by_model, "by_resolution": by_res}


def _rate(n: int, fooled: int, **key) -> dict:
    lo, hi = wilson_interval(int(fooled), int(n))
    return {**key, "n": int(n), "fooled": int(fooled), "rate": fooled / n if n else float("nan"), "ci95": (lo, hi)}


__all__ = ["PAIR_PX", "SIDES", "HOW_TO_ADD", "QuizError", "Pair", "Recorded", "QuizStore",
           "default_db_path", "resolve_real_source", "real_photos", "next_photo", "present", "write_uniform_png",
           "make_pair"]
