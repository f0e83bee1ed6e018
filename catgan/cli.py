"""Command lines from frozen dataclasses, their inverse, and one way to report a user's mistake.

Every catgan command line (train.py, catgan.eval.evaluate, catgan.judges train, catgan.latent.directions) builds
its flags here:
each dataclass field becomes ``--field-name``, typed from its annotation (``bool`` gives
``--x/--no-x``, ``tuple`` takes one or more values, ``X | None`` means optional), and its help text
is the comment written after the field, so a config documents itself once. ``to_flags`` turns a
config back into those flags (the "Reproduce" line of model cards). An in-house generator
rather than tyro or simple-parsing: the flags stay exactly as they were, the Space installs
nothing more, and it is about a hundred lines.

Exit status, the same for every command (``run``): 2 when the command line is wrong (an unknown
flag, a value out of range, a path that is missing or is not what the flag takes: argparse's
errors, ``UsageError``, a config's ``__post_init__``, anything raised inside ``argument_checks``),
found before any work starts; 1 when the work fails; 0 when it succeeds. Either way the
mistake is one ``error: ...`` line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import sys
import tokenize
import types
import typing
from dataclasses import MISSING, asdict, fields, is_dataclass
from typing import Callable

from . import env

MAX_MESSAGE = 400  # characters of an error message shown; user input inside it is never echoed unbounded
USAGE, FAILURE = 2, 1  # exit statuses: a wrong command line (argparse's own), a failed run


class UsageError(ValueError):
    """The command line is wrong (a bad value, a missing path): exit status 2, like argparse's errors."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (``error: ... (see PROG --help)``), exit status 2."""

    def error(self, message: str):
        self.exit(USAGE, f"error: {one_line(message)} (see {self.prog} --help)\n")


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
    """The dataclass ``cls`` from parsed flags (lists become tuples, so configs stay hashable); a value
    its ``__post_init__`` refuses is a UsageError."""
    values = {f.name: getattr(args, f.name) for f in fields(cls)}
    with argument_checks():
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def to_flags(values, defaults, *, always: tuple[str, ...] = (), aliases: dict | None = None) -> list[str]:
    """The inverse of ``add_dataclass_args`` + ``from_args``: the command-line words that give ``values``
    (a dataclass or its ``asdict``; a dict may come from an older run) when every other flag keeps its
    default. ``defaults`` is the dataclass instance whose fields are the flags; fields equal to it are
    left out, except those named in ``always``, and so are keys it does not have and values no flag
    can say (None, an empty tuple). ``aliases`` as for ``add_dataclass_args``: the first alias is
    written (``--size 64``). Join the words with ``shlex.join``."""
    given = asdict(values) if is_dataclass(values) else dict(values)
    words = []
    for f in fields(defaults):
        if f.name not in given:
            continue
        value, default = given[f.name], getattr(defaults, f.name)
        if f.name not in always and (value == default or (isinstance(value, list) and tuple(value) == default)):
            continue
        flag = ((aliases or {}).get(f.name) or [f"--{f.name.replace('_', '-')}"])[0]
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (tuple, list)) and value:
            words += [flag, *map(str, value)]
        elif value is not None and not isinstance(value, (tuple, list)):
            words += [flag, str(value)]
    return words


@contextlib.contextmanager
def argument_checks():
    """Checks of the command line, before any work: what they raise (ValueError, OSError) ends as a
    UsageError, exit status 2."""
    try:
        yield
    except UsageError:
        raise
    except (ValueError, OSError) as e:
        raise UsageError(str(e)) from e


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
    """Call ``main(argv)``; a mistake ends as one ``error: ...`` line on stderr: exit status 2 for a
    UsageError (argparse's own errors exit 2 too), 1 for a failed run (ValueError, OSError,
    RuntimeError, MemoryError). ``CATGAN_DEBUG=1`` shows the traceback."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        return main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, MemoryError) as e:
        if env.flag(env.DEBUG):
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        return USAGE if isinstance(e, UsageError) else FAILURE


def command(main: Callable[[list[str]], int]) -> Callable[[], int]:
    """``main`` as a console-script entry point: ``run(main)`` on ``sys.argv[1:]``."""
    return lambda: run(main)
