"""What keeps a public app bounded: text inputs have a length limit checked on the server (every
input's type and size: app_ui.gate), request bodies a size limit, the temp folder a byte budget
(oldest files evicted first, none younger than a minute, a share per visitor), heavy jobs a low
CPU priority, and nothing shown to a visitor holds an absolute server path (the temp folder is
called ALIAS in replies).

Gradio echoes a refused value back in its own error ("Value: '…' is not in the list of
choices"), so lengths are checked before Gradio's own preprocessing; and Gradio keeps uploads and
copies of outputs in its temp folder, so the budget covers the whole folder, not only our files.
"""
from __future__ import annotations

import contextvars
import functools
import json
import os
import re
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import gradio as gr

from catgan import env
from catgan.cli import one_line
from catgan.quiz.limits import client_address, client_key

MAX_TEXT = 96  # characters in any text a visitor types or sends (model ids, choices)
MAX_SEED = 2**31 - 1  # seeds: what "New cats" draws from
MAX_ERROR = 500  # characters in any error message a visitor sees (fail)
MAX_BODY = 64 * 1024  # bytes in any request body but an upload (the largest real one is ~1 KB)
TEMP_BUDGET = 500 * 2**20  # bytes in the app's temp folder (uploads, outputs and Gradio's copies)
MIN_AGE_S = 60.0  # a temp file this young is never deleted: it may still be written or served
SHARE = 4  # one client's young temp files may fill at most 1/SHARE of the budget
BACKGROUND_NICE = 10  # heavy jobs' threads: about a tenth of the CPU share of a quick call's thread
ROOT = env.REPO_ROOT  # the repository (app.py, app_ui/, catgan/)
TEMP_ROOT = gr.utils.get_upload_folder()  # Gradio's temp folder (app.py names it before gradio's import)
ALIAS = "catgan-files"  # what replies call TEMP_ROOT (app_ui.gate); /gradio_api/file=ALIAS/... is served
CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("catgan_client", default=None)
SLOW_DOWN = ("You are making files faster than this app can keep for everyone; slow down, and try again "
             "in a minute.")
BUSY = "The app is making files for many visitors right now; try again in a minute."


def short(text, limit: int = 80) -> str:
    """``text`` as one line of at most ``limit`` characters: safe to put in an error message."""
    return one_line(str(text), limit)


def fail(message) -> gr.Error:
    """The app's one way to report a mistake: ``message`` scrubbed (no absolute paths, no tokens) on
    one line of at most MAX_ERROR characters. ``raise fail(...)``."""
    return gr.Error(short(scrub(str(message)), MAX_ERROR), print_exception=False)


def bounded(component: gr.components.Component, limit: int = MAX_TEXT):
    """``component`` whose incoming strings longer than ``limit`` are refused before Gradio sees
    them (and could echo them). Textboxes also get ``max_length`` in the browser."""
    if hasattr(component, "max_length") and component.max_length is None:
        component.max_length = limit
    inner = component.preprocess

    def preprocess(payload):
        if isinstance(payload, str) and len(payload) > limit:
            raise fail(f"{component.label or 'That value'}: at most {limit} characters, please.")
        return inner(payload)

    component.preprocess = preprocess
    return component


def check_text(value, what: str, limit: int = MAX_TEXT) -> str:
    """The server-side check for handlers reached without a component (API calls included)."""
    if not isinstance(value, str) or len(value) > limit:
        raise fail(f"{what}: at most {limit} characters, please.")
    return value


# ---------------------------------------------------------------- paths

def public_path(path) -> str:
    """A path as a visitor may see it: relative to the repository, else only its last part."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ROOT))
    except (ValueError, OSError):
        return p.name or str(path)


def source_name(source) -> str:
    """A data source as a visitor may see it: a local file or folder by its name only (however it
    was given: absolute, relative, ~), a Hub dataset id (USER/NAME) as it is."""
    text = str(source)
    if os.path.exists(os.path.expanduser(text)) or text.startswith((".", "/", "~")) or text.count("/") != 1:
        return short(Path(text).name or text)
    return short(text)


ABSOLUTE = re.compile(r"(?<![\w.:/])(?:/[\w.@+-]+){2,}")  # /a/b..., not a URL's or a relative path's
TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{8,}|(?i:\b(?:bearer|token|authorization)[=: ]+)[\w.-]{8,}")


def scrub(text: str) -> str:
    """``text`` with every absolute path shortened (the repository's own files to repository-relative
    paths, any other to its last part: "…/name") and every access token hidden."""
    text = text.replace(str(ROOT) + os.sep, "")
    text = TOKEN.sub("[token hidden]", text)
    return ABSOLUTE.sub(lambda m: "…/" + m.group(0).rsplit("/", 1)[-1], text)


# ---------------------------------------------------------------- CPU

def _lower_priority() -> None:
    try:  # Linux: a nice value is per thread, and processes started from the thread inherit it
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (OSError, AttributeError):  # not Linux: the jobs run at normal priority
        pass


_HEAVY = ThreadPoolExecutor(max_workers=2, thread_name_prefix="catgan-heavy", initializer=_lower_priority)


def heavy(fn):
    """``fn`` run on a low-priority thread (nice BACKGROUND_NICE; ffmpeg started from it inherits it):
    a long job (an interpolation, a batch) takes the CPU only as far as the quick calls (a slider, a
    score, a quiz answer) leave it free. The call's context (guard.CLIENT) goes along."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return _HEAVY.submit(contextvars.copy_context().run, fn, *args, **kwargs).result()
    return run


# ---------------------------------------------------------------- disk

class DiskBudget:
    """The app's one temp-file manager: keeps the files under ``root`` within ``max_bytes``, deleting
    the oldest first, and deletes files older than ``max_age_s`` (None: kept while in budget). A file
    younger than ``min_age_s`` is never deleted (it may be half written, or being served), and one
    client's announced bytes within ``min_age_s`` may fill at most 1/``share`` of the budget: a
    visitor over that share is asked to slow down (gr.Error) instead of evicting someone else.

    ``make_room(n, client)`` is called before anything is written (outputs, quiz pairs, uploads). When
    the bytes announced since the last scan could break the budget, it rescans and evicts at once;
    otherwise a scan older than ``rescan_s`` is redone in the background (it takes ~40 ms for
    1,000 files on a busy 2-core machine: too long for a slider frame), which also catches what
    was not announced. The bound is therefore the budget plus what is written within ``rescan_s``
    beyond the announced sizes, plus young files (at most ``share`` clients' shares of them each)."""

    def __init__(self, root: Path, max_bytes: int = TEMP_BUDGET, rescan_s: float = 2.0,
                 max_age_s: float | None = None, min_age_s: float = MIN_AGE_S, share: int = SHARE):
        self.root, self.max_bytes, self.rescan_s, self.max_age_s = Path(root), max_bytes, rescan_s, max_age_s
        self.min_age_s, self.share = min_age_s, share
        self.lock = threading.Lock()
        self.total, self.scanned_at, self.scanning = 0, 0.0, False
        self.recent: dict[str, deque] = defaultdict(deque)  # client -> (monotonic time, bytes) within min_age_s

    def make_room(self, n_bytes: int = 0, client: str | None = None) -> None:
        """Room for ``n_bytes`` of ``client`` (default: the current call's, guard.CLIENT), or a gr.Error."""
        need = 2 * n_bytes  # x2: Gradio copies outputs
        client = CLIENT.get() if client is None else client
        with self.lock:
            if client and need:
                self._charge(client, need)
            if not self.scanned_at or self.total + need > self.max_bytes:
                young = self._enforce(self.max_bytes - need)
                if need and young + need > self.max_bytes:  # only young files left: nothing may go
                    raise fail(BUSY)
            elif time.monotonic() - self.scanned_at > self.rescan_s and not self.scanning:
                self.scanning = True
                threading.Thread(target=self._rescan, daemon=True).start()
            self.total += need

    def _charge(self, client: str, need: int) -> None:
        now, mine = time.monotonic(), self.recent[client]
        while mine and now - mine[0][0] > self.min_age_s:
            mine.popleft()
        if mine and sum(n for _, n in mine) + need > self.max_bytes // self.share:  # the first call always fits
            raise fail(SLOW_DOWN)
        mine.append((now, need))
        for key in [k for k, v in self.recent.items() if not v]:
            del self.recent[key]

    def _rescan(self) -> None:  # without the lock: writers never wait for it (a race only delays an eviction)
        try:
            self._enforce(self.max_bytes)
        finally:
            self.scanning = False

    def usage(self) -> int:
        return sum(size for _, size, _ in self._files())

    def _files(self):
        out = []
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                out.append((st.st_mtime, st.st_size, path))
        return out

    def _enforce(self, target: int) -> int:
        """Delete the oldest files until ``target`` bytes are left (and any older than max_age_s),
        never one younger than min_age_s; returns the bytes of young files."""
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        now = time.time()
        too_old = now - (self.max_age_s if self.max_age_s is not None else float("inf"))
        emptied = set()
        for mtime, size, path in files:  # oldest first
            if total <= max(target, 0) and mtime >= too_old or mtime > now - self.min_age_s:
                break
            try:
                os.remove(path)
                total -= size
                emptied.add(os.path.dirname(path))
            except OSError:
                pass
        self.total, self.scanned_at = total, time.monotonic()
        for folder in emptied:  # only folders emptied here: a fresh one is about to be written to
            try:
                os.rmdir(folder)
            except OSError:
                pass
        return sum(size for mtime, size, _ in files if mtime > now - self.min_age_s)


class RequestLimits:
    """ASGI middleware: a request body over ``max_body`` bytes is refused with HTTP 413 (uploads
    have Gradio's own max_file_size); an upload first makes room for itself in ``budget`` (under its
    client's share: HTTP 429 with a "slow down" message when over it), and its reply names the
    temp folder ALIAS; ``/gradio_api/file=ALIAS/...`` is served from the temp folder."""

    def __init__(self, app, budget: DiskBudget, max_body: int = MAX_BODY):
        self.app, self.budget, self.max_body = app, budget, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        alias = f"/file={ALIAS}/"
        if alias in scope["path"]:  # a file named in a reply: the temp folder's real name, inside only
            path = scope["path"].replace(alias, f"/file={TEMP_ROOT}/", 1)
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = int(headers.get(b"content-length", b"0") or 0)
        if scope["path"].rstrip("/").endswith("/upload"):
            peer = (scope.get("client") or (None,))[0]
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
            try:  # in a worker thread: a rescan of the folder must not stall the server's event loop
                await anyio.to_thread.run_sync(self.budget.make_room, min(length, 64 * 2**20),
                                               client_key(client_address(peer, forwarded)))
            except gr.Error as e:
                return await _refuse(send, 429, e.message)
            return await self.app(scope, receive, _aliasing(send))
        if length > self.max_body:
            return await _refuse(send, 413, "request too large")
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:  # chunked, without a Content-Length
                raise ValueError("request body too large")
            return message

        return await self.app(scope, counted, send)


def _aliasing(send):
    """``send`` for a small JSON reply (an upload's list of paths), with TEMP_ROOT named ALIAS."""
    start, body = None, b""

    async def aliasing(message):
        nonlocal start, body
        if message["type"] == "http.response.start":
            start = message
            return None
        if message["type"] != "http.response.body":
            return await send(message)
        body += message.get("body", b"")
        if message.get("more_body"):
            return None
        body = body.replace(json.dumps(TEMP_ROOT)[1:-1].encode(), ALIAS.encode())
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        return await send({"type": "http.response.body", "body": body})

    return aliasing


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
