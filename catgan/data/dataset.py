"""Cat photos in, uint8 tensors out.

A source is a folder (searched recursively) or a ``.zip`` exactly as Kaggle ships it.
Folders laid out like the Crawford "Cat Dataset" (``X.jpg`` + ``X.jpg.cat`` landmarks)
get landmark face crops; everything else is centre-cropped to a square. The whole set
is decoded once to a (N, 3, S, S) uint8 array and cached on disk under a hash of the
source's bytes and the preprocessing, so later runs start in well under a second.
"""
import hashlib
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .. import env
from ..fileio import atomic_write
from ..images import IMAGE_EXTS, MAX_FILE_BYTES, MAX_PIXELS, TooLarge, decode_rgb
from .crawford import crop_face, parse_landmarks

# cache entries are keyed by this: images decoded by catgan.images.decode_rgb, at most 4096x4096 pixels
CACHE_VERSION = 3  # bump when decoding/cropping changes
# The limits (catgan.images) are checked before anything is decompressed or decoded, so a hostile file
# (a zip member that inflates to gigabytes, an image header that claims gigapixels) is skipped and
# counted instead of eating the machine's memory.


class DataError(ValueError):
    """A source that can't be used; the message is one line naming the path."""


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, 3, S, S) uint8
    source: str
    unreadable: list[str] = field(default_factory=list)  # names of files that failed to decode
    too_small: int = 0  # Crawford faces smaller than img_size
    from_cache: bool = False
    too_large: list[str] = field(default_factory=list)  # names of files over MAX_FILE_BYTES / MAX_PIXELS

    def __len__(self) -> int:
        return self.images.shape[0]

    def report(self) -> str:
        msg = f"{len(self)} images at {self.images.shape[-1]}px from {self.source}"
        msg += " (cached)" if self.from_cache else ""
        if self.unreadable:
            msg += f"; skipped {len(self.unreadable)} unreadable file(s), e.g. {self.unreadable[0]}"
        if self.too_large:
            msg += f"; skipped {len(self.too_large)} file(s) over the size limits, e.g. {self.too_large[0]}"
        if self.too_small:
            msg += f"; skipped {self.too_small} face(s) smaller than {self.images.shape[-1]}px"
        return msg


def default_cache_dir() -> Path:
    return env.cache_root() / "datasets"


def image_names(source: str | os.PathLike) -> list[str]:
    """The image files of a folder or zip, as load_images reads them (hidden files left out), sorted;
    DataError for a missing source, one that is neither, or one without images."""
    return _Reader(Path(source)).image_names()


def load_images(source: str | os.PathLike, img_size: int, *, limit: int | None = None,
                cache_dir: str | os.PathLike | None = None, progress: bool = True) -> ImageSet:
    """Decode every image under ``source`` to uint8 (N, 3, img_size, img_size), with caching."""
    reader = _Reader(Path(source))
    names = reader.image_names()
    if limit is not None:
        names = names[:limit]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = reader.fingerprint(img_size, limit)
    arr_path, meta_path = cache / f"{key}.npy", cache / f"{key}.json"
    if arr_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        images = torch.from_numpy(np.load(arr_path, allow_pickle=False))
        return ImageSet(images, str(source), meta["unreadable"], meta["too_small"], from_cache=True,
                        too_large=meta["too_large"])

    out, unreadable, too_large, too_small = [], [], [], 0
    for name in tqdm(names, desc=f"decoding {Path(source).name}", unit="img", disable=not progress):
        try:
            img = decode_rgb(reader.read(name))
            landmarks = reader.landmarks(name)
            if landmarks is not None:
                img = crop_face(img, landmarks, img_size)
                if img is None:
                    too_small += 1
                    continue
            else:
                img = square_resize(img, img_size)
        except TooLarge:
            too_large.append(name)
            continue
        except (OSError, ValueError, SyntaxError, EOFError, zipfile.BadZipFile):
            unreadable.append(name)
            continue
        out.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
    if not out:
        raise DataError(f"no readable images in {source} ({len(unreadable)} unreadable, {len(too_large)} over the "
                        f"size limits of {MAX_FILE_BYTES >> 20} MB / {MAX_PIXELS / 1e6:.1f} MP, {too_small} too small)")
    arr = np.stack(out)
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write(arr_path, lambda f: np.save(f, arr, allow_pickle=False))
    meta = {"source": str(source), "img_size": img_size, "n": len(arr), "unreadable": unreadable,
            "too_large": too_large, "too_small": too_small}
    atomic_write(meta_path, lambda f: f.write(json.dumps(meta, indent=1).encode()))
    return ImageSet(torch.from_numpy(arr), str(source), unreadable, too_small, too_large=too_large)


def square_resize(img: Image.Image, size: int) -> Image.Image:
    """Centre square crop, then an antialiased (Lanczos) resize."""
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=None)


class _Reader:
    """Uniform read access to a folder or a zip archive."""

    def __init__(self, path: Path):
        if not path.exists():
            raise DataError(f"data source does not exist: {path}")
        self.path = path
        self.zip = None
        if path.is_file():
            if not zipfile.is_zipfile(path):
                raise DataError(f"not a folder or a .zip archive: {path}")
            self.zip = zipfile.ZipFile(path)
            self.files = sorted(n for n in self.zip.namelist() if not n.endswith("/") and not _hidden(n))
        else:
            self.files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                                if p.is_file() and not _hidden(p.relative_to(path).as_posix()))
        self._fileset = set(self.files)

    def image_names(self) -> list[str]:
        names = [n for n in self.files if n.lower().endswith(IMAGE_EXTS)]
        if not names:
            raise DataError(f"no images ({', '.join(IMAGE_EXTS)}) found in {self.path}")
        return names

    def size(self, name: str) -> int:
        """The file's declared uncompressed size (a zip member's header, a file's stat)."""
        return self.zip.getinfo(name).file_size if self.zip else (self.path / name).stat().st_size

    def read(self, name: str) -> bytes:
        """The file's bytes; TooLarge, before reading, for a file over MAX_FILE_BYTES. A zip member
        that inflates past its declared size fails its CRC check (BadZipFile) after that many bytes."""
        if self.size(name) > MAX_FILE_BYTES:
            raise TooLarge(f"{name}: over {MAX_FILE_BYTES >> 20} MB")
        if self.zip:
            with self.zip.open(name) as f:
                return f.read(MAX_FILE_BYTES + 1)
        with open(self.path / name, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)

    def landmarks(self, name: str) -> np.ndarray | None:
        if name + ".cat" not in self._fileset:
            return None
        return parse_landmarks(self.read(name + ".cat").decode("ascii", "replace"))

    def fingerprint(self, img_size: int, limit: int | None) -> str:
        """Hash of every byte of the source plus the preprocessing settings."""
        h = hashlib.sha256(f"catgan-v{CACHE_VERSION}|{img_size}|{limit}".encode())
        if self.zip:
            with open(self.path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        else:
            for name in self.files:
                h.update(name.encode() + b"\0")
                with open(self.path / name, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
        return h.hexdigest()[:32]


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


if __name__ == "__main__":  # python -m catgan.data.dataset SOURCE SIZE: decode + cache, print the report
    print(load_images(sys.argv[1], int(sys.argv[2])).report())
