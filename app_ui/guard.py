"""What keeps a public app bounded: text inputs have a length limit checked on the server, request
bodies a size limit, the temp folder a byte budget (oldest files evicted first), and nothing
shown to a visitor holds an absolute server path.

Gradio echoes a refused value back in its own error ("Value: '…' is not in the list of
choices"), so lengths are checked before Gradio's own preprocessing; and Gradio keeps uploads and
copies of outputs in its temp folder, so the budget covers the whole folder, not only our files.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import gradio as gr

from catgan.cli import one_line

MAX_TEXT = 96  # characters in any text a visitor types or sends (model ids, choices)
MAX_SEED = 2**31 - 1  # seeds: what "New cats" draws from
MAX_ERROR = 500  # characters in any error message a visitor sees (fail)
MAX_BODY = 64 * 1024  # bytes in any request body but an upload (the largest real one is ~1 KB)
TEMP_BUDGET = 500 * 2**20  # bytes in the app's temp folder (uploads, outputs and Gradio's copies)
ROOT = Path(__file__).resolve().parents[1]  # the repository (app.py, app_ui/, catgan/)


def short(text, limit: int = 80) -> str:
    """``text`` as one line of at most ``limit`` characters: safe to put in an error message."""
    return one_line(str(text), limit)


def fail(message) -> gr.Error:
    """The app's one way to report a mistake: ``message`` scrubbed (no absolute paths, no tokens) on
    one line of at most MAX_ERROR characters. ``raise fail(...)``."""
    return gr.Error(short(scrub(str(message)), MAX_ERROR))


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


ABSOLUTE = re.compile(r"(?<![\w.:/])(?:/[\w.@+-]+){2,}")  # /a/b..., not a URL's or a relative path's
TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{8,}|(?i:\b(?:bearer|token|authorization)[=: ]+)[\w.-]{8,}")


def scrub(text: str) -> str:
    """``text`` with every absolute path shortened (the repository's own files to repository-relative
    paths, any other to its last part: "…/name") and every access token hidden."""
    text = text.replace(str(ROOT) + os.sep, "")
    text = TOKEN.sub("[token hidden]", text)
    return ABSOLUTE.sub(lambda m: "…/" + m.group(0).rsplit("/", 1)[-1], text)


# ---------------------------------------------------------------- disk

class DiskBudget:
    """The app's one temp-file manager: keeps the files under ``root`` within ``max_bytes``, deleting
    the oldest first, and deletes files older than ``max_age_s`` (None: kept while in budget).

    ``make_room(n)`` is called before anything is written (outputs, quiz pairs, uploads). When the
    bytes announced since the last scan could break the budget, it rescans and evicts at once;
    otherwise a scan older than ``rescan_s`` is redone in the background (it takes ~40 ms for
    1,000 files on a busy 2-core machine: too long for a slider frame), which also catches what
    was not announced. The bound is therefore the budget plus what is written within ``rescan_s``
    beyond the announced sizes."""

    def __init__(self, root: Path, max_bytes: int = TEMP_BUDGET, rescan_s: float = 2.0,
                 max_age_s: float | None = None):
        self.root, self.max_bytes, self.rescan_s, self.max_age_s = Path(root), max_bytes, rescan_s, max_age_s
        self.lock = threading.Lock()
        self.total, self.scanned_at, self.scanning = 0, 0.0, False

    def make_room(self, n_bytes: int = 0) -> None:
        with self.lock:
            if not self.scanned_at or self.total + 2 * n_bytes > self.max_bytes:  # x2: Gradio copies outputs
                self._enforce(self.max_bytes - 2 * n_bytes)
            elif time.monotonic() - self.scanned_at > self.rescan_s and not self.scanning:
                self.scanning = True
                threading.Thread(target=self._rescan, daemon=True).start()
            self.total += 2 * n_bytes

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

    def _enforce(self, target: int) -> None:
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        emptied, too_old = set(), time.time() - (self.max_age_s if self.max_age_s is not None else float("inf"))
        for mtime, size, path in files:  # oldest first
            if total <= max(target, 0) and mtime >= too_old:
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


class RequestLimits:
    """ASGI middleware: a request body over ``max_body`` bytes is refused with HTTP 413 (uploads
    have Gradio's own max_file_size), and an upload first makes room for itself in ``budget``."""

    def __init__(self, app, budget: DiskBudget, max_body: int = MAX_BODY):
        self.app, self.budget, self.max_body = app, budget, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        length = int(dict(scope["headers"]).get(b"content-length", b"0") or 0)
        if scope["path"].rstrip("/").endswith("/upload"):
            self.budget.make_room(min(length, 64 * 2**20))
            return await self.app(scope, receive, send)
        if length > self.max_body:
            return await _too_large(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:  # chunked, without a Content-Length
                raise ValueError("request body too large")
            return message

        return await self.app(scope, counted, send)


async def _too_large(send) -> None:
    body = b'{"detail": "request too large"}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
