"""Every call goes through one gate before Gradio's own preprocessing (``guard(demo)``):

- each input is checked by type and size (strings, numbers, lists, file payloads), so a refused
  value never reaches Gradio, which would echo it in its error and print a traceback with it;
- any error becomes one short gr.Error that prints no traceback, and a refusal is logged as one
  short line (later ones in the same minute are only counted, and summed up once a minute);
- the call's client is known to the temp-folder budget (guard.CLIENT: a share per visitor), and
  each client may make each call only so often a minute (RATES: a twin, an interpolation or a
  batch costs seconds of CPU; a slider move milliseconds);
- replies carry no absolute server path: files under the temp folder are named ``ALIAS/…``, and
  guard.RequestLimits maps ``/gradio_api/file=ALIAS/…`` (and paths sent back) to the real folder.
"""
from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import traceback
from collections import Counter

import gradio as gr

from catgan.quiz.limits import Window, client_key, request_keys

from .guard import ALIAS, CLIENT, MAX_TEXT, TEMP_ROOT, check_text, fail, short

log = logging.getLogger("catgan.app")
MAX_FILE_FIELD = 1024  # characters in any string of a file payload (path, name, mime type)
DEAD = "Something went wrong on the server with that request; try again, or try other settings."


class Refusals:
    """One short log line for the first refusal of each ``every_s`` window; the rest of the window
    only counted, and their sum logged with the next window's first line."""

    def __init__(self, every_s: float = 60.0, clock=time.monotonic, say=None):
        self.every_s, self.clock, self.lock = every_s, clock, threading.Lock()
        self.say = say or log.warning
        self.since, self.counts = None, Counter()

    def note(self, api: str, reason: str) -> None:
        with self.lock:
            now = self.clock()
            if self.since is not None and now - self.since < self.every_s:
                self.counts[api] += 1
                return
            if self.counts:
                top = ", ".join(f"{name} {n}" for name, n in self.counts.most_common(5))
                self.say("refused %d more requests in the last %.0f s (%s)", sum(self.counts.values()),
                            now - self.since, top)
            self.since, self.counts = now, Counter()
        self.say("refused %s: %s", short(api, 40), short(reason, 120))


REFUSALS = Refusals()
# calls per client (an address, an IPv6 /64) per minute, by API name; any other call: DEFAULT_RATE
RATES = {"your_cat": 12, "interpolate": 12, "batch": 6, "compare": 20, "score": 60, "your_cat_score": 30}
DEFAULT_RATE = 1200  # 20 a second: a fast slider drag, with room to spare
CALLS = Window(60.0)
LOCAL = {client_key("127.0.0.1"), client_key("::1")}  # this machine itself (behind a proxy, callers are never it)
SLOW = "You are sending requests faster than this app can serve everyone; wait a little and try again."


def _label(component) -> str:
    return short(str(getattr(component, "label", None) or type(component).__name__).split(" (")[0], 40)


def check_value(component, value):
    """``value`` as sent for ``component``, or a gr.Error that says what the component takes."""
    what = _label(component)
    if isinstance(component, gr.State):
        return None  # the server's own state; what a client sends for it is ignored
    if isinstance(component, (gr.Number, gr.Slider)):
        return _number(component, value, what)
    if isinstance(component, (gr.Image, gr.File, gr.Video, gr.Audio)):
        return _file(value, what)
    if isinstance(component, gr.Dropdown) and component.multiselect:
        if not isinstance(value, list) or len(value) > len(component.choices or []) + 1:
            raise fail(f"{what}: send a list of at most {len(component.choices or [])} choices.")
        return [_text(v, what) for v in value]
    if value is None or isinstance(value, str):
        return _text(value, what)
    raise fail(f"{what}: send a text of at most {MAX_TEXT} characters.")


def _text(value, what: str):
    return value if value is None else check_text(value, what)


def _number(component, value, what: str):
    lo, hi = component.minimum, component.maximum
    step = getattr(component, "step", None) if isinstance(component, gr.Slider) else None
    whole = isinstance(component, gr.Number) and component.precision == 0 or (
        step is not None and float(step).is_integer() and (lo is None or float(lo).is_integer()))
    span = (f" from {_n(lo)} to {_n(hi)}" if lo is not None and hi is not None else "") + (
        f" in steps of {_n(step)}" if step not in (None, 1) else "")
    wanted = f"{what}: send a {'whole ' if whole else ''}number{span}."
    if value is None and isinstance(component, gr.Number):
        return None  # an empty box: the handler's default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):  # a JSON int may be too big for a float
        raise fail(wanted)
    if whole and not isinstance(value, int) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise fail(wanted)
    if step and lo is not None and abs((value - lo) / step - round((value - lo) / step)) > 1e-6:
        raise fail(wanted)
    return value


def _n(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _file(value, what: str):
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 12 or not all(
            v is None or isinstance(v, (int, float, bool, dict)) and len(str(v)) <= MAX_FILE_FIELD
            or isinstance(v, str) and len(v) <= MAX_FILE_FIELD for v in value.values()):
        raise fail(f"{what}: send a file (gradio_client.handle_file(path)).")
    path = value.get("path")
    if isinstance(path, str) and path.startswith(ALIAS + "/"):
        path = os.path.join(TEMP_ROOT, path[len(ALIAS) + 1:])
    real = os.path.realpath(path) if isinstance(path, str) else ""  # (a large upload may still be moving in)
    if not real.startswith(os.path.realpath(TEMP_ROOT) + os.sep):
        raise fail(f"{what}: that file was not uploaded here. Upload it (gradio_client.handle_file(path)).")
    return {**value, "path": path, "url": None}


def _aliased(data):
    """``data`` (a reply) with every absolute path of the temp folder named ``ALIAS/…`` instead."""
    if isinstance(data, dict):
        return {k: _aliased(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_aliased(v) for v in data]
    if isinstance(data, str) and TEMP_ROOT in data:
        return data.replace(TEMP_ROOT, ALIAS)
    return data


class _Stderr(logging.StreamHandler):
    """To whatever sys.stderr is when a line is written (as logging's last resort does)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def guard(demo: gr.Blocks) -> gr.Blocks:
    """``demo`` with every call passing the gate (an instance override of ``process_api``)."""
    if not log.handlers:  # the app's own short lines, whatever the root logger does
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s catgan: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    inner = demo.process_api

    async def process_api(block_fn, inputs, state=None, request=None, *args, **kwargs):
        fn = demo.fns[block_fn] if isinstance(block_fn, int) else block_fn
        api = fn.api_name or getattr(fn.fn, "__name__", "event")
        try:
            if not isinstance(inputs, list) or len(inputs) != len(fn.inputs):
                n = len(inputs) if isinstance(inputs, list) else 0
                raise fail(f"/{api} takes {len(fn.inputs)} values (see the page's API docs); it got {n}.")
            inputs = [check_value(c, v) for c, v in zip(fn.inputs, inputs)]
        except gr.Error as e:
            REFUSALS.note(api, e.message)
            raise fail(e.message) from None
        one = request[0] if isinstance(request, list) else request
        client = request_keys(one)[1] if one is not None else None
        if client not in (None, *LOCAL) and not CALLS.admit(f"{api}|{client}", RATES.get(api, DEFAULT_RATE)):
            REFUSALS.note(api, "over its rate")
            raise fail(SLOW)
        token = CLIENT.set(client)
        try:
            return _aliased(await inner(block_fn, inputs, state, request, *args, **kwargs))
        except gr.Error as e:
            REFUSALS.note(api, e.message)
            raise fail(e.message) from None  # fail(): scrubbed, short, and no traceback printed
        except Exception as e:  # noqa: BLE001 - a bug or a value no check foresaw: one line, no value
            where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
            log.warning("error in /%s: %s at %s:%s", short(api, 40), short(type(e).__name__, 60),
                        os.path.basename(where.filename) if where else "?", where.lineno if where else "?")
            raise fail(DEAD) from None
        finally:
            CLIENT.reset(token)

    demo.process_api = process_api
    return demo

