"""What the tabs share: the settings, an immutable per-source cache of loaded generators (used
through app_ui.model.Models), validated uploads, and the folder outputs are written to."""
from __future__ import annotations

import functools
import os
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from PIL import Image

from catgan.hub import loader as hub
from catgan.images import BadImage, TooLarge, decode_rgb
from catgan.judges import DEFAULT_JUDGE

from .guard import TEMP_BUDGET, DiskBudget, check_text, fail, short
from .sources import WeightSource, load_source, typed_source

MAX_UPLOAD_MB = 10
MAX_SIDE = 1024  # decoded uploads are shrunk to this at once: the judges look at 224-256 px
MAX_ASPECT = 4  # and cropped to this: the judges see only the central square anyway
MAX_TYPED_MB = 100  # weights of a repo id typed into the model picker (checked before downloading)
NO_WEIGHTS = ("No trained weights found. Train one (`python train.py --data cats.zip --out runs/dcgan-64`), "
              "export it into weights/ (`python train.py export runs/dcgan-64 weights/dcgan-64`), or set "
              "CATGAN_WEIGHTS=NAME=USER/REPO, then restart the app.")


@dataclass(frozen=True)
class Settings:
    """Everything a demo is built from; immutable, shared by all sessions."""
    weights_root: Path
    sources: dict[str, WeightSource] = field(default_factory=dict)
    sources_error: str | None = None  # a broken CATGAN_WEIGHTS, said on the page
    real_source: str | None = None
    real_limit: int | None = 2000
    quiz_db: Path | None = None
    default_judge: str = DEFAULT_JUDGE


@functools.lru_cache(maxsize=16)
def _load(source: WeightSource, weights_root: str) -> hub.Loaded:
    # read-only once loaded (eval mode, no grad): sharing it between users is safe
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notice is shown on the page instead
        return load_source(source, weights_root)


_TYPED_SLOT = threading.BoundedSemaphore(1)  # one typed-id load at a time: downloads never hold every worker


@functools.lru_cache(maxsize=2)  # typed by anyone: few kept in memory, downloads in the budgeted temp folder
def _load_typed(source: WeightSource, weights_root: str) -> hub.Loaded:
    if not _TYPED_SLOT.acquire(blocking=False):  # a cache miss: only one at a time (not cached: an exception)
        raise hub.HubError("another typed model is loading right now; try again in a minute")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_source(source, weights_root, max_bytes=MAX_TYPED_MB * 2**20,
                               cache_dir=OUT_ROOT.parent / "hub")
    finally:
        _TYPED_SLOT.release()


def load_model(settings: Settings, name: str | None) -> tuple[str, hub.Loaded]:
    """(key, Loaded) for a listed model name or a Hub repo id (USER/REPO[@REVISION]) typed into the picker."""
    if not name:
        raise fail(NO_WEIGHTS if not settings.sources else "Pick a model first.")
    check_text(name, "Model")
    source, load = settings.sources.get(name), _load
    if source is None:  # typed in: only a Hub repo id, never a path on this server
        source, load = typed_source(name), _load_typed
        if source is None or os.path.exists(name) or name.startswith((".", "/", "~")):
            raise fail(f"Unknown model {short(name)!r}: pick one from the list or type a Hub repo id like "
                       "USER/REPO or USER/REPO@REVISION.")
    try:
        loaded = load(source, str(settings.weights_root))
    except (OSError, ValueError, hub.HubError) as e:
        raise fail(f"Could not load the model {short(name)}: {short(e, 300)}") from None
    return source.where, loaded


# outputs go under Gradio's temp folder (app.py names it), so they are served in place
OUT_ROOT = Path(gr.utils.get_upload_folder()) / "catgan"
KEEP_S = 15 * 60  # outputs and uploads are kept this long at most: long enough to view and download
# the one temp-file manager, for the whole temp folder: Gradio's uploads and copies too
BUDGET = DiskBudget(OUT_ROOT.parent, TEMP_BUDGET, max_age_s=KEEP_S)


def out_dir(n_bytes: int = 1 << 20) -> Path:
    """A fresh folder under Gradio's temp dir (the only place the app writes and serves from), with
    room made for ``n_bytes`` in the temp folder's budget (oldest files go first, and any older than
    KEEP_S)."""
    BUDGET.make_room(n_bytes)
    folder = OUT_ROOT / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def to_png(img: Image.Image) -> str:
    """Write ``img`` as a fast PNG (zlib level 1: a quarter of level 6's time, lossless all the
    same) and return its path; Gradio serves it as is instead of re-encoding it."""
    path = out_dir(img.width * img.height * 3) / "cats.png"  # at most its raw size
    img.save(path, format="PNG", compress_level=1)
    return str(path)


# ---------------------------------------------------------------- uploads

def open_upload(path: str | os.PathLike) -> Image.Image:
    """An uploaded file -> RGB PIL image of at most MAX_SIDE px and MAX_ASPECT:1, or a gr.Error a
    person understands. catgan.images.decode_rgb decodes it, as it does every image catgan reads:
    the pixel count (catgan.images.MAX_PIXELS, 4096x4096) is checked before decoding, and the image
    is cropped and shrunk before any conversion (a 1x4096 image resized for a judge was once 3 GB;
    a 4096x4096 float TIFF converted at full size 0.5 GB)."""
    size = Path(path).stat().st_size
    if size > MAX_UPLOAD_MB * 2**20:
        raise fail(f"That file is {size / 2**20:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB.")
    if size == 0:
        raise fail("That file is empty. Upload a PNG, JPEG, WebP, GIF, BMP or TIFF image.")
    BUDGET.make_room(0)  # the upload itself is already in the temp folder: keep the folder in budget
    try:
        return decode_rgb(path, max_side=MAX_SIDE, max_aspect=MAX_ASPECT)
    except TooLarge as e:
        raise fail(f"That image was refused: {e}. Make it smaller and try again.") from None
    except BadImage as e:
        raise fail(f"That file could not be read: {e}. Save it again as a PNG or JPEG and try again.") from None


def upload_image(**kwargs) -> gr.Image:
    """A gr.Image whose uploads are opened by ``open_upload``, so bad files become readable errors
    instead of a generic failure inside Gradio's own decoding. (An instance override, not a
    subclass: Gradio writes a .pyi file beside the module of every component subclass.)"""
    image = gr.Image(**kwargs)

    def preprocess(payload):
        if payload is None:
            return None
        if payload.path is None:
            raise gr.Error("The upload did not arrive; try again.")
        return open_upload(payload.path)

    image.preprocess = preprocess
    return image
