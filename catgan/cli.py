"""Command lines from frozen dataclasses, and one way to report a user's mistake.

Every catgan command line (train.py, catgan.eval.evaluate, catgan.judges train, catgan.latent.directions) builds
its flags here:
each dataclass field becomes ``--field-name``, typed from its annotation (``bool`` gives
``--x/--no-x``, ``tuple`` takes one or more values, ``X | None`` means optional), and its help text
is the comment written after the field, so a config documents itself once. An in-house generator
rather than tyro or simple-parsing: the flags stay exactly as they were, the Space installs
nothing more, and it is about a hundred lines.
"""
from __future__ import annotations

import argparse
import inspect
import io
import os
import sys
import tokenize
import types
import typing
from dataclasses import MISSING, fields
from typing import Callable

MAX_MESSAGE = 400  # characters of an error message shown; user input inside it is never echoed unbounded


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (``error: ... (see PROG --help)``), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {one_line(message)} (see {self.prog} --help)\n")


def field_comments(cls) -> dict[str, str]:
    """``{field: comment}`` for every ``name: type = default  # comment`` line of a dataclass body."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments, first_name = {}, {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        row = tok.start[0]
        if tok.type == tokenize.NAME and row not in first_name:
            first_name[row] = tok.string
        elif tok.type == tokenize.COMMENT and row in first_name:
            comments[first_name[row]] = tok.string.lstrip("# ").strip()
    return comments


def add_dataclass_args(parser: argparse.ArgumentParser, cls, *, aliases: dict | None = None,
                       choices: dict | None = None, title: str | None = None) -> None:
    """One ``--flag`` per field of ``cls``: typed, defaulted and documented from the field."""
    hints, comments = typing.get_type_hints(cls), field_comments(cls)
    group = parser.add_argument_group(title or cls.__name__)
    for f in fields(cls):
        kind = _unwrap(hints[f.name])
        names = [f"--{f.name.replace('_', '-')}", *(aliases or {}).get(f.name, [])]
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        what = comments.get(f.name, "").replace("%", "%%")  # argparse formats help with %
        kw = dict(dest=f.name, default=default, help=f"{what} (default: %(default)s)")
        if kind is bool:
            group.add_argument(*names, action=argparse.BooleanOptionalAction, **kw)
        elif typing.get_origin(kind) is tuple:
            group.add_argument(*names, nargs="+", type=typing.get_args(kind)[0], metavar=f.name.upper(), **kw)
        else:
            options = (choices or {}).get(f.name)
            metavar = None if options else ("N" if kind in (int, float) else f.name.upper())
            group.add_argument(*names, type=kind, choices=options, metavar=metavar, **kw)


def from_args(cls, args: argparse.Namespace):
    """The dataclass ``cls`` from parsed flags (lists become tuples, so configs stay hashable)."""
    values = {f.name: getattr(args, f.name) for f in fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _unwrap(hint) -> type:
    """``int | None`` -> int (None stays a possible default); ``int`` -> int."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def one_line(message: object, limit: int = MAX_MESSAGE) -> str:
    """``message`` as one line of at most ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(main: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    """Call ``main(argv)``; a user's mistake (ValueError, OSError, RuntimeError and their kin) ends as
    one ``error: ...`` line on stderr and exit status 1. ``CATGAN_DEBUG=1`` shows the traceback."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        return main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, MemoryError) as e:
        if os.environ.get("CATGAN_DEBUG"):
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1


def command(main: Callable[[list[str]], int]) -> Callable[[], int]:
    """``main`` as a console-script entry point: ``run(main)`` on ``sys.argv[1:]``."""
    return lambda: run(main)
