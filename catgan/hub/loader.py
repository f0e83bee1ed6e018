"""Loading generators: from a weights folder, or by Hub repo id with offline fallbacks
(publishing is catgan.hub.publish).

A weights folder is the same on disk and on the Hub (config.json, model.safetensors, README.md,
samples.png, evolution.gif), so one loader serves both. Only config.json and model.safetensors are
ever downloaded to load a model: nothing downloaded is unpickled. The environment (HF_HUB_OFFLINE,
HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN) is read when a function runs, never at import.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError

from .. import env
from ..models import ARCHITECTURES, SIZES, HubModel, ModelConfig, architecture
from ..weights import CONFIG_NAME, DIRECTIONS_META, DIRECTIONS_NAME, WEIGHTS_NAME, read_config

log = logging.getLogger(__name__)

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
MAX_CONFIG_BYTES = 2**20  # a config.json is a few hundred bytes


class HubError(RuntimeError):
    """Loading or publishing failed; the message says what to do (and never holds a token)."""


class TooLarge(HubError):
    """A repo's weights are over the size cap the caller set; nothing was downloaded."""


@dataclass(frozen=True)
class Loaded:
    generator: HubModel
    origin: str  # "local" | "hub" | "cache" | "bundled"
    location: str  # the folder, or "repo_id[@revision]"
    notice: str | None = None  # for the user when a fallback was taken
    folder: str | None = None  # where its files are on disk (a Hub snapshot, or the folder itself)


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
    ``weights_root/<name>`` (``name`` defaults to the "<arch>-<size>" in the repo id). A fallback
    is announced with ``warnings.warn`` and ``Loaded.notice``; a file that fails the strict load raises.
    ``max_bytes``: refuse (TooLarge, no fallback) weights the Hub says are larger, before downloading
    them. ``cache_dir``: the Hugging Face cache to use (default $HF_HUB_CACHE).
    """
    src = str(source)
    if os.path.isdir(src):
        return Loaded(load_folder(src, device), "local", src, folder=src)
    if not REPO_ID.match(src):
        raise FileNotFoundError(f"weights folder not found: {src}")
    where = f"{src}@{revision}" if revision else src
    reason = "offline mode (HF_HUB_OFFLINE=1)" if env.is_offline() else None
    if reason is None:
        try:
            folder = _fetch(src, revision, local_only=False, max_bytes=max_bytes, cache_dir=cache_dir)
            return Loaded(load_folder(folder, device), "hub", where, folder=folder)
        except _FetchError as e:
            reason = str(e)
    try:
        folder = _fetch(src, revision, local_only=True, cache_dir=cache_dir)
    except _FetchError:
        pass
    else:
        return _announce(Loaded(load_folder(folder, device), "cache", where,
                                f"{reason}: using the cached copy of {where}", folder))
    bundled = bundled_folder(name or _folder_name(src), weights_root)
    if bundled is not None:
        return _announce(Loaded(load_folder(bundled, device), "bundled", str(bundled),
                                f"{reason}, and {where} is not in the Hugging Face cache: using bundled {bundled}",
                                str(bundled)))
    raise HubError(f"cannot load {where}: {reason}; it is not in the Hugging Face cache and there are no bundled "
                   f"weights for it. Connect once (or run `hf download {src}`), or add weights/<arch>-<size>.")


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


class _FetchError(Exception):
    pass


def _fetch(repo_id: str, revision: str | None, *, local_only: bool, max_bytes: int | None = None,
           cache_dir: str | os.PathLike | None = None) -> str:
    """The snapshot folder holding config.json + model.safetensors of one commit, from the cache
    (``local_only``) or the Hub. Raises _FetchError with a one-line reason, or TooLarge."""
    kw = dict(repo_id=repo_id, cache_dir=str(cache_dir or "") or env.value(env.HF_HUB_CACHE),
              endpoint=env.value(env.HF_ENDPOINT))
    try:
        if not local_only:  # hf_hub_download would quietly use the cache when offline: ask the Hub first
            commit = HfApi(endpoint=kw["endpoint"]).model_info(repo_id, revision=revision, timeout=10).sha
            if max_bytes is not None:  # the sizes the Hub states, before a byte of either file is fetched
                _check_size(repo_id, commit or revision, CONFIG_NAME, MAX_CONFIG_BYTES, kw["endpoint"])
                _check_size(repo_id, commit or revision, WEIGHTS_NAME, max_bytes, kw["endpoint"])
        config_file = hf_hub_download(filename=CONFIG_NAME, revision=revision, local_files_only=local_only, **kw)
        commit = Path(config_file).parent.name  # .../snapshots/<commit>/config.json: pin the weights to it
        hf_hub_download(filename=WEIGHTS_NAME, revision=commit, local_files_only=local_only, **kw)
        _fetch_optional(commit, local_only, kw)
    except TooLarge:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to fetch means "try the next source"
        raise _FetchError(_why(e, repo_id)) from None
    return str(Path(config_file).parent)


def _fetch_optional(commit: str, local_only: bool, kw: dict) -> None:
    """The files that may travel with a model (its named latent directions), when the repo has them
    and they are small; a repo without them loads as well."""
    for name in (DIRECTIONS_META, DIRECTIONS_NAME):
        try:
            if not local_only:
                _check_size(kw["repo_id"], commit, name, MAX_CONFIG_BYTES, kw["endpoint"])
            hf_hub_download(filename=name, revision=commit, local_files_only=local_only, **kw)
        except Exception:  # noqa: BLE001 - absent, too large or unreachable: the model loads without them
            return


def _check_size(repo_id: str, revision: str | None, filename: str, max_bytes: int, endpoint: str | None) -> None:
    """TooLarge if the Hub says ``filename`` is over ``max_bytes`` or does not say its size."""
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    size = get_hf_file_metadata(url, timeout=10, endpoint=endpoint).size
    if size is None or size > max_bytes:
        said = "does not state its size" if size is None else f"is {size / 2**20:.0f} MB"
        raise TooLarge(f"{filename} of {repo_id} {said}; this app loads at most {max_bytes / 2**20:.0f} MB "
                       "from a typed repo id")


def _why(e: Exception, repo_id: str) -> str:
    if isinstance(e, OfflineModeIsEnabled):
        return "offline mode"
    if isinstance(e, RevisionNotFoundError):
        return f"revision not found in {repo_id}"
    if isinstance(e, RepositoryNotFoundError):
        return f"{repo_id} not found on the Hub (or private and no token)"
    if isinstance(e, HfHubHTTPError):
        return f"the Hub answered HTTP {getattr(e.response, 'status_code', '?')} for {repo_id}"
    return f"the Hub is unreachable ({type(e).__name__})"


def _announce(loaded: Loaded) -> Loaded:
    warnings.warn(loaded.notice, stacklevel=3)
    log.warning(loaded.notice)
    return loaded


def _folder_name(repo_id: str) -> str | None:
    """The bundled folder a repo id stands for: "user/catgan-dcgan-64" -> "dcgan-64"."""
    names = "|".join(sorted(map(re.escape, ARCHITECTURES), key=len, reverse=True))  # dcgan before gan
    found = re.findall(rf"(?:{names})-(?:{'|'.join(map(str, SIZES))})", repo_id.split("/")[-1])
    return found[-1] if found else None
