"""What the tabs share: the model list and an immutable per-source cache of loaded generators,
validated uploads, image presentation, and the folder outputs are written to."""
from __future__ import annotations

import functools
import os
import shutil
import struct
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from catgan.hub import loader as hub
from catgan.images import make_grid, to_rgb
from catgan.judges import DEFAULT_JUDGE

from .guard import TEMP_BUDGET, DiskBudget, check_text, public_path, scrub, short
from .sources import WeightSource, load_source, typed_source

MAX_UPLOAD_MB = 10
MAX_PIXELS = 4096 * 4096  # larger uploads are refused before decoding: no decompression bombs
MAX_SIDE = 1024  # decoded uploads are shrunk to this at once: the judges look at 224-256 px
MAX_ASPECT = 4  # and cropped to this: the judges see only the central square anyway
MAX_TYPED_MB = 100  # weights of a repo id typed into the model picker (checked before downloading)
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # never EPS & co. (external decoders)
RESAMPLING = {"nearest": Image.Resampling.NEAREST, "bicubic": Image.Resampling.BICUBIC}
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
    judges: tuple[str, ...] = ()
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
        raise gr.Error(NO_WEIGHTS if not settings.sources else "Pick a model first.")
    check_text(name, "Model")
    source, load = settings.sources.get(name), _load
    if source is None:  # typed in: only a Hub repo id, never a path on this server
        source, load = typed_source(name), _load_typed
        if source is None or os.path.exists(name) or name.startswith((".", "/", "~")):
            raise gr.Error(f"Unknown model {short(name)!r}: pick one from the list or type a Hub repo id like "
                           "USER/REPO or USER/REPO@REVISION.")
    try:
        loaded = load(source, str(settings.weights_root))
    except (OSError, ValueError, hub.HubError) as e:
        raise gr.Error(f"Could not load the model {short(name)}: {short(scrub(str(e)), 300)}") from None
    return source.where, loaded


def describe(name: str, loaded: hub.Loaded) -> str:
    c = loaded.generator.config
    text = (f"**{short(name)}**: {c.arch.upper()} at {c.img_size} px, z_dim {c.z_dim}; "
            f"weights from `{shown_location(loaded)}` ({loaded.origin})")
    return text + (f"  \n⚠️ {scrub(loaded.notice)}" if loaded.notice else "")


def shown_location(loaded: hub.Loaded) -> str:
    """Where the weights came from, without the server's folders: a repo id, or a relative path."""
    return loaded.location if loaded.origin in ("hub", "cache") else public_path(loaded.location)


@torch.inference_mode()
def generate(generator, z: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) in [-1, 1] from latents (N, z_dim)."""
    return generator(z)


def upscale_grid(x: torch.Tensor, cell: int, resampling: str, nrow: int | None = None) -> Image.Image:
    """A grid of (N, 3, S, S) images, each upscaled to ``cell`` px with the chosen filter."""
    if resampling not in RESAMPLING:
        raise gr.Error(f"Resampling must be one of {', '.join(RESAMPLING)}.")
    scale = max(1, round(cell / x.shape[-1]))
    grid = make_grid(x, nrow=nrow, pad=1)
    return grid.resize((grid.width * scale, grid.height * scale), RESAMPLING[resampling])


# Gradio fixed its temp dir when it was imported; outputs go under it, so they are served in place
OUT_ROOT = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio") / "catgan"
KEEP_OUTPUTS_S = 15 * 60  # long enough to view and download; the quiz would otherwise fill the disk
BUDGET = DiskBudget(OUT_ROOT.parent, TEMP_BUDGET)  # the whole temp folder: Gradio's uploads and copies too
_last_sweep = [0.0]


def out_dir(n_bytes: int = 1 << 20) -> Path:
    """A fresh folder under Gradio's temp dir (the only place the app writes and serves from), with
    room made for ``n_bytes`` in the temp folder's budget (oldest files go first). Folders older
    than KEEP_OUTPUTS_S are removed, at most once a minute."""
    BUDGET.make_room(n_bytes)
    now = time.time()
    if now - _last_sweep[0] > 60:
        _last_sweep[0] = now
        for old in OUT_ROOT.glob("*"):
            try:
                if now - old.stat().st_mtime > KEEP_OUTPUTS_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
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
    person understands. Memory stays bounded: the pixel count is checked before decoding, and the
    decoded image is cropped and shrunk before any conversion (a 1x4096 image resized for a judge
    was once 3 GB; a 4096x4096 float TIFF converted at full size 0.5 GB)."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_MB * 2**20:
        raise gr.Error(f"That file is {size / 2**20:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB.")
    if size == 0:
        raise gr.Error("That file is empty. Upload a PNG, JPEG, WebP, GIF, BMP or TIFF image.")
    BUDGET.make_room(0)  # the upload itself is already in the temp folder: keep the folder in budget
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(path, formats=UPLOAD_FORMATS)
        except UnidentifiedImageError:
            raise gr.Error("That file is not an image this app can read. Upload a PNG, JPEG, WebP, GIF, "
                           "BMP or TIFF image.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise gr.Error("That image claims an enormous size (a decompression bomb?) and was refused.") from None
        except (ValueError, OSError, SyntaxError, EOFError, struct.error):  # e.g. Pillow's caps on PNG text/ICC chunks
            raise gr.Error(BAD_METADATA) from None
        w, h = img.size
        if w * h > MAX_PIXELS or w < 1 or h < 1:
            raise gr.Error(f"That image is {w}x{h} pixels; the limit is 4096x4096 ({MAX_PIXELS / 1e6:.0f} M pixels). "
                           "Make it smaller and try again.")
        try:
            img.seek(0)
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale right away
            img.load()
            img = ImageOps.exif_transpose(_fit(img))
        except (ValueError, OSError, SyntaxError, EOFError, struct.error, Image.DecompressionBombWarning):
            raise gr.Error("That image is damaged or truncated and could not be decoded.") from None
    try:
        rgb = _fit(to_rgb(img))  # palette images are shrunk after conversion (never by nearest)
    except (ValueError, OSError):
        raise gr.Error(f"Images in mode {img.mode} are not supported; save it as an RGB PNG or JPEG.") from None
    rgb.info.clear()  # no text or colour profile travels on
    return rgb


BAD_METADATA = ("That image could not be opened: it is damaged, or its metadata (text or colour-profile chunks) "
                "is oversized. Save it again without metadata and try again.")


def _fit(img: Image.Image) -> Image.Image:
    """Crop the long side to MAX_ASPECT x the short side (centred: the judges crop the centre
    anyway), then shrink to at most MAX_SIDE px; palette and 1-bit images are only cropped."""
    w, h = img.size
    cw, ch = min(w, MAX_ASPECT * h), min(h, MAX_ASPECT * w)
    if (cw, ch) != (w, h):
        left, top = (w - cw) // 2, (h - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
    if max(img.size) > MAX_SIDE and img.mode not in ("P", "PA", "1"):
        gap = 2.0 if img.mode in ("L", "RGB", "RGBA", "LA", "I", "F", "CMYK") else None  # reduce() knows these
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=gap)
    return img


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
