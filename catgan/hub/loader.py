"""Loading generators: from a weights folder, or by Hub repo id with offline fallbacks
(publishing is catgan.hub.publish).

A weights folder is the same on disk and on the Hub (config.json, model.safetensors, README.md,
samples.png, evolution.gif), so one loader serves both. Only config.json, model.safetensors, the
named directions, the encoder and the critic are ever downloaded to load a model (by
catgan.hub.fetch), and nothing is unpickled.
The environment (HF_HUB_OFFLINE, HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN) is read when a function runs.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import env
from ..latent.directions import load_directions
from ..models import ARCHITECTURES, SIZES, VARIANT, HubModel, ModelConfig, architecture
from ..weights import (
    CONFIG_NAME,
    CRITIC_META,
    CRITIC_NAME,
    DIRECTIONS_META,
    DIRECTIONS_NAME,
    ENCODER_META,
    ENCODER_NAME,
    WEIGHTS_NAME,
    read_config,
)
from .fetch import REPO_ID, HubError, TooLarge, Unavailable, check_repo_id, fetch  # noqa: F401 - callers use all

log = logging.getLogger(__name__)

MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME)  # what a load needs
EXTRA_FILES = (DIRECTIONS_META, DIRECTIONS_NAME, ENCODER_META, ENCODER_NAME, CRITIC_META, CRITIC_NAME)  # when there


@dataclass(frozen=True)
class Loaded:
    generator: HubModel
    origin: str  # "local" | "hub" | "cache" | "bundled"
    location: str  # the folder, or "repo_id[@revision]"
    notice: str | None = None  # for the user when a fallback was taken
    folder: str | None = None  # its files on disk (a Hub snapshot or the folder); None: offer no directions


# ---------------------------------------------------------------- loading

def load_generator(path_or_repo: str | os.PathLike, *, revision: str | None = None,
                   device: str | torch.device = "cpu") -> HubModel:
    """Load a generator from a weights folder or a Hub repo id; the class comes from config.json.

    A repo id goes through huggingface_hub's cache: offline (HF_HUB_OFFLINE=1 or no network) it
    falls back to the cached copy, then to the bundled weights/<arch>-<size>, with a warning.
    The returned model's ``load_notice`` says which fallback was taken (None: none), and
    ``loaded_from`` where the weights came from. ``load`` gives the full result.
    """
    loaded = load(path_or_repo, revision=revision, device=device)
    loaded.generator.load_notice, loaded.generator.loaded_from = loaded.notice, loaded.location
    return loaded.generator


def load(source: str | os.PathLike, *, revision: str | None = None, name: str | None = None,
         weights_root: str | os.PathLike | None = None, device="cpu", max_bytes: int | None = None,
         cache_dir: str | os.PathLike | None = None) -> Loaded:
    """Load a generator from a weights folder, or from a repo id via the Hugging Face cache.

    For a repo id: the Hub (unless HF_HUB_OFFLINE=1), else the cached copy, else the bundled
    ``weights_root/<name>`` (``name`` defaults to the "<arch>-<size>[-variant]" in the repo id, then
    its family's "<arch>-<size>"). A fallback is announced with ``warnings.warn`` and
    ``Loaded.notice``; a file that fails the strict load raises.
    ``max_bytes``: refuse (TooLarge, no fallback) weights the Hub says are larger, before downloading
    them. ``cache_dir``: the Hugging Face cache to use (default $HF_HUB_CACHE).
    """
    src = str(source)
    if os.path.isdir(src):
        return Loaded(load_folder(src, device), "local", src, folder=src)
    if src.count("/") != 1 or src.startswith((".", "/", "~")):
        raise FileNotFoundError(f"weights folder not found: {src}")
    check_repo_id(src, revision)  # a mistyped id is said as such, never as "the Hub is unreachable"
    where = f"{src}@{revision}" if revision else src
    try:
        folder, reason = fetch(src, [*MODEL_FILES, *EXTRA_FILES],
                               required=MODEL_FILES,
                               revision=revision, max_bytes=max_bytes, cache_dir=cache_dir)
    except Unavailable as e:
        names = [name] if name else _folder_names(src)
        bundled = next(filter(None, (bundled_folder(n, weights_root) for n in names)), None)
        if bundled is None:
            raise HubError(f"cannot load {where}: {e}; there are no bundled weights for it. Connect once (or run "
                           f"`hf download {src}`), or add weights/<arch>-<size>.") from None
        return _announce(Loaded(load_folder(bundled, device), "bundled", str(bundled),
                                f"{e}: using bundled {bundled}", str(bundled)))
    loaded = Loaded(load_folder(folder, device), "cache" if reason else "hub", where,
                    reason and f"{reason}: using the cached copy of {where}", str(folder))
    return _directions_checked(_announce(loaded) if reason else loaded)


def read_model_config(folder: str | os.PathLike) -> ModelConfig:
    """The generator config in ``folder``'s config.json; FileNotFoundError or ValueError otherwise."""
    return read_config(folder, ModelConfig.from_dict)


def load_folder(folder: str | os.PathLike, device="cpu") -> HubModel:
    """Strictly load the generator in a weights folder; the class comes from its config.json."""
    config = read_model_config(folder)
    return architecture(config.arch).generator.from_pretrained(str(folder)).to(device).eval()


def is_generator_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a generator (its config.json is a catgan model config). weights/ also
    holds other folders, such as the resnet-animals judge, whose config.json is not."""
    try:
        read_model_config(folder)
    except (OSError, ValueError):
        return False
    return True


def bundled_folder(name: str | None, weights_root: str | os.PathLike | None = None) -> Path | None:
    if not name:
        return None
    folder = Path(weights_root or env.BUNDLED_WEIGHTS) / name
    return folder if is_generator_folder(folder) else None


def _directions_checked(loaded: Loaded) -> Loaded:
    """A model from the Hub whose named directions are broken loads without them, with a warning:
    ``folder`` None means there are none to offer."""
    try:
        load_directions(loaded.folder, loaded.generator.config.z_dim)
    except ValueError as e:
        notice = f"{loaded.location}: its named directions are ignored ({e})"
        return _announce(Loaded(loaded.generator, loaded.origin, loaded.location,
                                "; ".join(filter(None, (loaded.notice, notice))), None))
    return loaded


def _announce(loaded: Loaded) -> Loaded:
    warnings.warn(loaded.notice, stacklevel=3)
    log.warning(loaded.notice)
    return loaded


def _folder_names(repo_id: str) -> list[str]:
    """The bundled folders a repo id may stand for, most specific first: "user/catgan-dcgan-64-dropout"
    -> ["dcgan-64-dropout", "dcgan-64"]."""
    names = "|".join(sorted(map(re.escape, ARCHITECTURES), key=len, reverse=True))  # dcgan before gan
    found = re.findall(rf"((?:{names})-(?:{'|'.join(map(str, SIZES))}))({VARIANT})", repo_id.split("/")[-1])
    return [found[-1][0] + found[-1][1], found[-1][0]] if found else []
