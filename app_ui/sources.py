"""The app's models: every generator folder under the weights root, plus the CATGAN_WEIGHTS setting
on top of them. Loading itself is catgan.hub.loader.load (folder, Hub, cache, then bundled fallback)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from catgan import env
from catgan.hub import loader as hub
from catgan.hub.fetch import HubError, check_repo_id

from .guard import public_path

SYNTAX = "NAME=FOLDER or NAME=USER/REPO[@REVISION]"


@dataclass(frozen=True)
class WeightSource:
    name: str  # "<arch>-<size>", also the bundled fallback's folder name
    source: str  # a local weights folder or a Hub repo id
    revision: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}@{self.revision}" if self.revision else self.source

    @property
    def shown(self) -> str:
        """``where`` as a visitor may see it: a folder relative to the repository, or its name."""
        return self.where if self.revision or not os.path.isabs(self.source) else public_path(self.source)


def weight_sources(spec: str | None = None, weights_root: str | os.PathLike | None = None) -> dict[str, WeightSource]:
    """The app's models, by name: every generator folder under ``weights_root`` (default: the
    bundled weights/), then the entries of ``spec`` (default: $CATGAN_WEIGHTS, read now) on top.
    ``spec`` is a comma-separated list of NAME=FOLDER or NAME=USER/REPO[@REVISION], e.g.
    "dcgan-64=user/catgan-dcgan-64@v1,gan-32=weights/gan-32". ValueError for a malformed entry."""
    root = Path(weights_root or env.BUNDLED_WEIGHTS)
    out = {p.name: WeightSource(p.name, str(p)) for p in sorted(root.iterdir()) if hub.is_generator_folder(p)
           } if root.is_dir() else {}
    spec = (env.value(env.WEIGHTS) or "") if spec is None else spec
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, source = (s.strip() for s in item.partition("="))
        if not (sep and name and source):
            raise ValueError(f"{env.WEIGHTS} entry {item!r} should be {SYNTAX}")
        revision = None
        if "@" in source and not os.path.exists(source):  # a folder may have "@" in its name
            source, _, revision = source.rpartition("@")
        out[name] = WeightSource(name, source, revision or None)
    return out


def typed_source(text: str) -> WeightSource | None:
    """A Hub repo id typed by a visitor, "USER/REPO" or "USER/REPO@REVISION"; None if it is not one
    (paths on this server never are)."""
    repo, at, revision = text.partition("@")
    try:
        check_repo_id(repo, revision if at else None)
    except HubError:
        return None
    return WeightSource(text, repo, revision or None)


def find_sources(weights_root: str | os.PathLike) -> tuple[dict[str, WeightSource], str | None]:
    """(sources, error): a broken $CATGAN_WEIGHTS is ignored, and the error said on the page."""
    try:
        return weight_sources(weights_root=weights_root), None
    except ValueError as e:
        return weight_sources("", weights_root=weights_root), str(e)


def load_source(source: WeightSource, weights_root: str | os.PathLike | None = None, device="cpu", *,
                max_bytes: int | None = None, cache_dir: str | os.PathLike | None = None) -> hub.Loaded:
    """Load one source; a Hub entry falls back to the bundled ``weights_root/<name>`` when offline.
    ``max_bytes`` and ``cache_dir``: see catgan.hub.loader.load."""
    return hub.load(source.source, revision=source.revision, name=source.name, weights_root=weights_root,
                    device=device, max_bytes=max_bytes, cache_dir=cache_dir)
