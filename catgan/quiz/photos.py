"""The quiz's real photos: a folder, a zip or a Hub dataset repo, decoded once per process, and each
session's own shuffle of them, so no photo comes back before all have been shown: remembering
earlier photos never gives an answer away."""
from __future__ import annotations

import os
import secrets
import threading

import numpy as np
import torch

from .. import env
from ..data.dataset import DataError, load_images
from ..hub.fetch import REPO_ID, HubError, fetch
from ..images import IMAGE_EXTS

PHOTO_PATTERNS = ["*.zip", *(f"*{e}" for e in IMAGE_EXTS), *(f"*{e.upper()}" for e in IMAGE_EXTS)]  # a Hub photo set
HOW_TO_ADD = ("No real cat photos are configured, so the quiz is off. Add a source: `python app.py --real "
              "PATH` (a folder or a .zip of photos, e.g. the Kaggle *Cats faces 64x64* zip, or a Hugging "
              "Face dataset repo id like `USER/cat-faces`), or set the environment variable "
              f"`{env.REAL}` to the same, then restart the app.")


class QuizError(RuntimeError):
    """The quiz can't go on; the message says what to do."""


def resolve_real_source(source: str | os.PathLike | None) -> str | None:
    """A local folder or zip as is; a Hugging Face dataset repo id (as ``python -m catgan.hub.space
    upload-photos`` makes one: a single zip, or loose images) downloaded into the HF cache, which also
    serves it offline. A private repo needs HF_TOKEN (a Space secret). None: no source configured."""
    if not source:
        return None
    src = str(source)
    if os.path.exists(src):
        return src
    repo_id = src.removeprefix("datasets/")
    if not REPO_ID.match(repo_id):
        raise QuizError(f"real-photo source not found: {src} (give a folder, a .zip or a dataset repo id)")
    try:
        folder, _ = fetch(repo_id, PHOTO_PATTERNS, repo_type="dataset")
    except HubError as e:  # offline, missing, private: all mean "can't have it"
        raise QuizError(f"could not get the dataset {repo_id} from the Hugging Face Hub or its cache ({e}); "
                        "download it once online, set HF_TOKEN for a private one, or point to a local folder/zip"
                        ) from None
    zips = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".zip")
    has_images = any(p.suffix.lower() in IMAGE_EXTS for p in folder.rglob("*"))
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
