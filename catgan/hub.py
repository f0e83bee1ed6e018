"""Weights on the Hugging Face Hub: load by repo id with offline fallbacks, the app's weight-source
setting (CATGAN_WEIGHTS), and publishing a weights folder with its model card.

A weights folder is the same on disk and on the Hub (config.json, model.safetensors, README.md,
samples.png, evolution.gif), so one loader serves both. Only config.json and model.safetensors are
ever downloaded to load a model: nothing downloaded is unpickled. The environment (HF_HUB_OFFLINE,
HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN, CATGAN_WEIGHTS) is read when a function runs, never at import.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from .models import GENERATORS, WEIGHTS_NAME, HubModel, ModelConfig

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).resolve().parents[1] / "weights"  # weights/<arch>-<size>, shipped with the app
CONFIG_NAME = "config.json"
ENV_WEIGHTS = "CATGAN_WEIGHTS"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FOLDER_NAME = re.compile(r"(?:dcgan|gan)-(?:32|64)")
NO_TOKEN = ("no Hugging Face token: set HF_TOKEN or run `hf auth login` "
            "(a token with write access, from https://huggingface.co/settings/tokens)")


class HubError(RuntimeError):
    """Loading or publishing failed; the message says what to do (and never holds a token)."""


@dataclass(frozen=True)
class Loaded:
    generator: HubModel
    origin: str  # "local" | "hub" | "cache" | "bundled"
    location: str  # the folder, or "repo_id[@revision]"
    notice: str | None = None  # for the user when a fallback was taken


@dataclass(frozen=True)
class WeightSource:
    name: str  # "<arch>-<size>", also the bundled fallback's folder name
    source: str  # a local weights folder or a Hub repo id
    revision: str | None = None


# ---------------------------------------------------------------- loading

def load(source: str | os.PathLike, *, revision: str | None = None, name: str | None = None,
         weights_root: str | os.PathLike | None = None, device="cpu") -> Loaded:
    """Load a generator from a weights folder, or from a repo id via the Hugging Face cache.

    For a repo id: the Hub (unless HF_HUB_OFFLINE=1), else the cached copy, else the bundled
    ``weights_root/<name>`` (``name`` defaults to the "<arch>-<size>" in the repo id). A fallback
    is announced with ``warnings.warn`` and ``Loaded.notice``; a file that fails the strict load raises.
    """
    src = str(source)
    if os.path.isdir(src):
        return Loaded(load_folder(src, device), "local", src)
    if not REPO_ID.match(src):
        raise FileNotFoundError(f"weights folder not found: {src}")
    where = f"{src}@{revision}" if revision else src
    reason = "offline mode (HF_HUB_OFFLINE=1)" if _offline() else None
    if reason is None:
        try:
            return Loaded(load_folder(_fetch(src, revision, local_only=False), device), "hub", where)
        except _FetchError as e:
            reason = str(e)
    try:
        folder = _fetch(src, revision, local_only=True)
    except _FetchError:
        pass
    else:
        return _announce(Loaded(load_folder(folder, device), "cache", where,
                                f"{reason}: using the cached copy of {where}"))
    bundled = bundled_folder(name or _folder_name(src), weights_root)
    if bundled is not None:
        return _announce(Loaded(load_folder(bundled, device), "bundled", str(bundled),
                                f"{reason}, and {where} is not in the Hugging Face cache: using bundled {bundled}"))
    raise HubError(f"cannot load {where}: {reason}; it is not in the Hugging Face cache and there are no bundled "
                   f"weights for it. Connect once (or run `hf download {src}`), or add weights/<arch>-<size>.")


def read_model_config(folder: str | os.PathLike) -> ModelConfig:
    """The generator config in ``folder``'s config.json; FileNotFoundError or ValueError otherwise."""
    config_file = Path(folder) / CONFIG_NAME
    if not config_file.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {folder}")
    try:
        return ModelConfig.from_dict(json.loads(config_file.read_text()))
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{config_file} is not a catgan config ({e})") from None


def load_folder(folder: str | os.PathLike, device="cpu") -> HubModel:
    """Strictly load the generator in a weights folder; the class comes from its config.json."""
    config = read_model_config(folder)
    return GENERATORS[config.arch].from_pretrained(str(folder)).to(device).eval()


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
    folder = Path(weights_root or BUNDLED) / name
    return folder if is_generator_folder(folder) else None


class _FetchError(Exception):
    pass


def _fetch(repo_id: str, revision: str | None, *, local_only: bool) -> str:
    """The snapshot folder holding config.json + model.safetensors of one commit, from the cache
    (``local_only``) or the Hub. Raises _FetchError with a one-line reason."""
    from huggingface_hub import HfApi, hf_hub_download

    kw = dict(repo_id=repo_id, cache_dir=_env("HF_HUB_CACHE"), endpoint=_env("HF_ENDPOINT"))
    try:
        if not local_only:  # hf_hub_download would quietly use the cache when offline: ask the Hub first
            HfApi(endpoint=kw["endpoint"]).model_info(repo_id, revision=revision, timeout=10)
        config_file = hf_hub_download(filename=CONFIG_NAME, revision=revision, local_files_only=local_only, **kw)
        commit = Path(config_file).parent.name  # .../snapshots/<commit>/config.json: pin the weights to it
        hf_hub_download(filename=WEIGHTS_NAME, revision=commit, local_files_only=local_only, **kw)
    except Exception as e:  # noqa: BLE001 - any failure to fetch means "try the next source"
        raise _FetchError(_why(e, repo_id)) from None
    return str(Path(config_file).parent)


def _why(e: Exception, repo_id: str) -> str:
    from huggingface_hub.errors import (HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError,
                                        RevisionNotFoundError)

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
    found = FOLDER_NAME.findall(repo_id.split("/")[-1])
    return found[-1] if found else None


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def _env(key: str) -> str | None:
    return os.environ.get(key) or None


# ---------------------------------------------------------------- the app's weight sources

def weight_sources(spec: str | None = None, *, weights_root: str | os.PathLike | None = None
                   ) -> dict[str, WeightSource]:
    """The app's models, by name: every weights folder under ``weights_root``, then the entries of
    ``spec`` (default: $CATGAN_WEIGHTS, read now) on top. ``spec`` is a comma-separated list of
    NAME=FOLDER or NAME=USER/REPO[@REVISION], e.g. "dcgan-64=user/catgan-dcgan-64,gan-32=weights/gan-32"."""
    root = Path(weights_root or BUNDLED)
    out = {p.name: WeightSource(p.name, str(p)) for p in sorted(root.iterdir()) if is_generator_folder(p)
           } if root.is_dir() else {}
    spec = os.environ.get(ENV_WEIGHTS, "") if spec is None else spec
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, source = (s.strip() for s in item.partition("="))
        if not (sep and name and source):
            raise ValueError(f"{ENV_WEIGHTS} entry {item!r} should be NAME=FOLDER or NAME=USER/REPO[@REVISION]")
        revision = None
        if "@" in source and not os.path.exists(source):
            source, _, revision = source.rpartition("@")
        out[name] = WeightSource(name, source, revision or None)
    return out


def load_source(source: WeightSource, *, weights_root: str | os.PathLike | None = None, device="cpu") -> Loaded:
    return load(source.source, revision=source.revision, name=source.name, weights_root=weights_root, device=device)


# ---------------------------------------------------------------- publishing

def require_token(token: str | None = None) -> str:
    """The token to publish with: ``token``, else HF_TOKEN, else huggingface_hub's stored login."""
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise HubError(NO_TOKEN)
    return token


@dataclass(frozen=True)
class Published:
    repo_id: str
    commit_oid: str
    commit_url: str
    changed: bool  # False: the repo already held exactly these files, no commit was made
    files: tuple[str, ...]


def publish(weights_dir: str | os.PathLike, repo_id: str, *, private: bool = False, revision: str | None = None,
            results: str | os.PathLike | dict | list | None = None, run_dir: str | os.PathLike | None = None,
            token: str | None = None, commit_message: str | None = None) -> Published:
    """Upload a weights folder to ``repo_id`` (created if needed; ``revision``: a branch) in one
    commit: config.json, model.safetensors, a README.md card rendered for the repo (metrics from the
    ``results`` JSON of catgan.evaluate when given), samples.png and evolution.gif. The same files
    again make no commit. Locally only a temporary staging folder is written, and always removed."""
    from huggingface_hub import CommitOperationAdd, HfApi

    if not REPO_ID.match(repo_id):
        raise HubError(f"repo id must look like USER/REPO, got {repo_id!r}")
    if _offline():
        raise HubError("cannot publish in offline mode: unset HF_HUB_OFFLINE")
    token = require_token(token)
    with tempfile.TemporaryDirectory(prefix="catgan-publish-") as stage:
        files = stage_files(weights_dir, stage, repo_id=repo_id, results=results, run_dir=run_dir)
        name = json.loads((Path(stage) / CONFIG_NAME).read_text())
        message = commit_message or f"Upload catgan {name['arch']}-{name['img_size']} generator"
        api = HfApi(endpoint=_env("HF_ENDPOINT"), token=token)
        try:
            api.create_repo(repo_id, private=True if private else None, exist_ok=True)
            if revision:
                api.create_branch(repo_id, branch=revision, exist_ok=True)
            before = api.repo_info(repo_id, revision=revision).sha
            ops = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(Path(stage) / f)) for f in files]
            info = api.create_commit(repo_id, ops, commit_message=message, revision=revision)
        except Exception as e:  # noqa: BLE001 - one clear line, never the token, never a traceback
            raise HubError(_scrub(f"publishing to {repo_id} failed: {_why_publish(e, repo_id)}; "
                                  "Nothing was committed; the local folder is unchanged.", token)) from None
    published = Published(repo_id, info.oid, info.commit_url, info.oid != before, tuple(files))
    log.info("%s %s: %s", "published" if published.changed else "unchanged", repo_id, published.commit_url)
    return published


def stage_files(weights_dir: str | os.PathLike, stage: str | os.PathLike, *, repo_id: str | None = None,
                results=None, run_dir: str | os.PathLike | None = None) -> list[str]:
    """Copy what gets uploaded into ``stage`` and render its README.md; returns the file names."""
    from .card import find_result, read_card_data, render_card

    weights_dir, stage = Path(weights_dir), Path(stage)
    generator = load_folder(weights_dir)  # strict: weights that do not load are never published
    readme = weights_dir / "README.md"
    meta = read_card_data(readme.read_text()) if readme.is_file() else {}
    run = Path(run_dir) if run_dir else _run_dir_of(weights_dir)
    train_config, summary, metrics = meta.get("train_config"), meta.get("summary"), meta.get("metrics")
    if run is not None:
        train_config = (_read_json(run / CONFIG_NAME) or {}).get("train") or train_config
        summary = _read_json(run / "summary.json") or summary
    if results is not None:
        table = results if isinstance(results, (dict, list)) else _read_json(Path(results))
        if table is None:
            raise HubError(f"results file not found or not JSON: {results}")
        here = weights_dir.resolve()
        metrics = find_result(table, [str(weights_dir), str(here), os.path.relpath(here), repo_id, weights_dir.name])
        if metrics is None:
            raise HubError(f"no row for {weights_dir} ({weights_dir.name}) in the results {results}")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        shutil.copyfile(weights_dir / name, stage / name)
    if (weights_dir / "samples.png").is_file():
        shutil.copyfile(weights_dir / "samples.png", stage / "samples.png")
    else:
        from .export import sample_grid
        sample_grid(generator).save(stage / "samples.png")
    gif = next((p for p in (weights_dir / "evolution.gif", run and run / "evolution.gif") if p and p.is_file()), None)
    if gif is not None:
        shutil.copyfile(gif, stage / "evolution.gif")
    card = render_card(generator.config, train_config=train_config, summary=summary, metrics=metrics,
                       repo_id=repo_id, gif=gif is not None)
    (stage / "README.md").write_text(card)
    return sorted(p.name for p in stage.iterdir())


def _run_dir_of(weights_dir: Path) -> Path | None:
    """train.py exports to RUN/generator: the run folder holds the config and summary."""
    run = weights_dir.resolve().parent
    return run if "train" in (_read_json(run / CONFIG_NAME) or {}) else None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _why_publish(e: Exception, repo_id: str) -> str:
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub.errors import HfHubHTTPError

    status = getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(e, HfHubHTTPError) and status == 401:
        return "the token was rejected (HTTP 401); check HF_TOKEN or `hf auth login`"
    if isinstance(e, HfHubHTTPError) and status == 403:
        return f"the token may not write to {repo_id} (HTTP 403)"
    if isinstance(e, HfHubHTTPError):
        detail = (e.server_message or str(e)).splitlines()[0].rstrip(".")
        return f"the Hub answered HTTP {status} ({detail})"
    if isinstance(e, (OSError, httpx2.TransportError)):
        return f"the Hub is unreachable ({type(e).__name__})"
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text
