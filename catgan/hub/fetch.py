"""The one way catgan reads from the Hugging Face Hub, and the one way it explains a failure.

``fetch`` brings the files of a repo that match some patterns into huggingface_hub's cache and
returns the snapshot folder. Online it asks the Hub first (a dry run: the commit a revision stands
for, and the size of every file), refuses files over ``max_bytes`` before a byte of them is
downloaded, then downloads exactly that commit. Offline (HF_HUB_OFFLINE=1), or when the Hub can't
be reached, the cached snapshot serves, and the caller is told why. Repo ids and revisions are
checked strictly first: a path, a newline or ``..`` never reaches a URL. The endpoint (HF_ENDPOINT),
cache (HF_HUB_CACHE) and offline mode are read when a function runs, never at import.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import httpx2  # huggingface_hub's HTTP client
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import (
    DryRunError,
    GatedRepoError,
    HfHubHTTPError,
    IncompleteSnapshotError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .. import env

REPO_ID = re.compile(r"(?!.*\.\.)[A-Za-z0-9][\w.-]*/[\w.-]+\Z")  # USER/NAME; \Z: "u/x\n" fails, even with .match
REVISION = re.compile(r"(?!.*\.\.)\w[\w.-]{0,63}\Z")  # a branch, tag or commit: no slashes, nothing path-like


class HubError(RuntimeError):
    """Reaching the Hub failed; the message says what to do (and never holds a token)."""


class InvalidRepoId(HubError, ValueError):
    """A repo id or revision that can't name anything on the Hub: a mistake on the command line."""


class TooLarge(HubError):
    """A repo's files are over the size cap the caller set; nothing was downloaded."""


class Unavailable(HubError):
    """Neither the Hub nor the cache has the files; the message is one line saying why."""


def check_repo_id(repo_id: str, revision: str | None = None, *, shape: str = "USER/REPO") -> None:
    """InvalidRepoId unless ``repo_id`` is USER/NAME and ``revision`` (if any) a branch, tag or commit."""
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id):
        raise InvalidRepoId(f"not a valid repo id: {repo_id!r} (a repo id must look like {shape})")
    if revision is not None and not (isinstance(revision, str) and REVISION.match(revision)):
        raise InvalidRepoId(f"not a valid revision: {revision!r} (a branch, tag or commit of {repo_id})")


def client(token: str | None = None) -> HfApi:
    """An HfApi for catgan's endpoint ($HF_ENDPOINT, read now)."""
    return HfApi(endpoint=env.value(env.HF_ENDPOINT), token=token)


def fetch(repo_id: str, patterns: list[str] | tuple[str, ...], *, required: tuple[str, ...] = (),
          repo_type: str = "model", revision: str | None = None, max_bytes: int | None = None,
          token: str | None = None, cache_dir: str | os.PathLike | None = None) -> tuple[Path, str | None]:
    """(folder, reason): the snapshot folder of one commit of ``repo_id`` holding its files that match
    ``patterns`` (fnmatch, as huggingface_hub's ``allow_patterns``), each of ``required`` among them,
    and why it is the cached copy (None: it came from the Hub).

    The Hub is asked first unless offline; failing that, the cache serves. ``max_bytes``: refuse
    (TooLarge, never the cache) when a file, or all of them together, is larger by the Hub's stated
    sizes. Unavailable, with a one-line reason, when neither has the files.
    """
    check_repo_id(repo_id, revision)
    where = f"{repo_id}@{revision}" if revision else repo_id
    kw = {"repo_id": repo_id, "repo_type": repo_type, "allow_patterns": list(patterns), "token": token,
          "cache_dir": str(cache_dir or "") or env.value(env.HF_HUB_CACHE), "endpoint": env.value(env.HF_ENDPOINT)}
    reason = "offline mode (HF_HUB_OFFLINE=1)" if env.is_offline() else None
    if reason is None:
        try:  # snapshot_download alone would quietly use the cache when the Hub is down: ask it first
            plan = snapshot_download(revision=revision, dry_run=True, **kw)
            _check_sizes(repo_id, plan, max_bytes)
            folder = snapshot_download(revision=plan[0].commit_hash if plan else revision, **kw)  # that commit
            return _holding(folder, required, where), None
        except HubError:
            raise
        except Exception as e:  # noqa: BLE001 - every way of not getting the files ends as one line
            reason = explain(e, repo_id)
    try:
        folder = snapshot_download(revision=revision, local_files_only=True, **kw)
    except Exception as e:  # noqa: BLE001
        partly = isinstance(e, IncompleteSnapshotError)
        raise Unavailable(f"{reason}, and {where} is {'only partly' if partly else 'not'} in the Hugging Face "
                          "cache") from None
    return _holding(folder, required, f"the cached copy of {where}"), reason


def _holding(folder: str, required: tuple[str, ...], where: str) -> Path:
    missing = [name for name in required if not (Path(folder) / name).is_file()]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not in {where}")
    return Path(folder)


def _check_sizes(repo_id: str, plan: list, max_bytes: int | None) -> None:
    if max_bytes is None:
        return
    cap = f"this app loads at most {max_bytes / 2**20:.0f} MB from a Hub repo"
    for f in plan:
        if f.file_size is None or f.file_size > max_bytes:
            said = "does not state its size" if f.file_size is None else f"is {f.file_size / 2**20:.0f} MB"
            raise TooLarge(f"{f.filename} of {repo_id} {said}; {cap}")
    total = sum(f.file_size for f in plan)
    if total > max_bytes:
        raise TooLarge(f"the files of {repo_id} are {total / 2**20:.0f} MB together; {cap}")


def explain(e: BaseException, repo_id: str) -> str:
    """One line on why reading or writing ``repo_id`` failed (never a token, never a traceback)."""
    if isinstance(e, (DryRunError, LocalEntryNotFoundError)) and e.__cause__ is not None:
        e = e.__cause__  # the Hub's own answer, behind "the dry run / the cache could not ..."
    status = getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(e, OfflineModeIsEnabled):
        return "offline mode"
    if isinstance(e, RevisionNotFoundError):
        return f"revision not found in {repo_id}"
    if isinstance(e, (RepositoryNotFoundError, GatedRepoError)):
        return f"{repo_id} not found on the Hub (or private and no token)"
    if isinstance(e, HfHubHTTPError) and status == 401:
        return "the token was rejected (HTTP 401); check HF_TOKEN or `hf auth login`"
    if isinstance(e, HfHubHTTPError) and status == 403:
        return f"the token may not write to {repo_id} (HTTP 403)"
    if isinstance(e, HfHubHTTPError):
        text = e.server_message or str(e) or "?"
        return f"the Hub answered HTTP {status} ({text.splitlines()[0].rstrip('.')})"
    if isinstance(e, (OSError, httpx2.TransportError)):
        return f"the Hub is unreachable ({type(e).__name__})"
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def scrub_token(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
