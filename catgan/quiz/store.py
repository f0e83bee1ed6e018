"""The quiz's answers in SQLite, and the fooled rates built from them.

Answers go to a SQLite file in WAL mode. Every pair has a random id that is also its answer's id:
claiming the pair and storing its answer is one ``BEGIN IMMEDIATE`` transaction, so however many
requests race to answer one pair, exactly one is stored, and an answer imported twice (from the
Hub, by catgan.quiz.sync) is stored once. Answers given too fast are stored but not counted, and
kept within bounds: the newest ``client_uncounted`` per client, ``max_rows`` in all (the oldest
uncounted ones go first; counted answers are never dropped). An imported answer is checked field
by field (``valid_answer``), and the statistics list only valid, known model names, so whatever a
hand-edited answers file holds, the text built from them stays short and plain.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import env
from ..eval.metrics import wilson_interval

ANSWER_ID = re.compile(r"[0-9a-f]{32}")  # a pair's id (uuid4().hex); always with fullmatch
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # "dcgan-64"; nothing markup can hide in
RESOLUTIONS = frozenset(2**k for k in range(3, 11))  # 8 ... 1024 px
ANSWER_KEYS = frozenset({"id", "at", "model", "resolution", "fooled"})
MAX_MODELS = 32  # rows of the per-model statistics (the most answered)


def default_db_path() -> Path:
    """$CATGAN_QUIZ_DB, else quiz.sqlite in catgan's cache folder (never inside the repository)."""
    return env.path_from(env.QUIZ_DB, env.cache_root() / "quiz.sqlite")


@dataclass(frozen=True)
class Recorded:
    stored: bool  # False: the pair had been answered already, nothing was written
    counted: bool  # stored and counted in the statistics
    reason: str = ""  # why a stored answer is not counted


class QuizStore:
    """Answers in SQLite (WAL). One short-lived connection per call, always closed: safe from any
    thread or process. ``mirror``: an object whose ``append(row)`` gets every counted answer (the
    Hub copy of catgan.quiz.sync). ``models``: the model names the statistics may show and an import
    may bring (None: any name ``MODEL_NAME`` allows). ``client_uncounted``: uncounted answers kept per
    client, the newest; ``max_rows``: answers kept in all, beyond which the oldest uncounted go."""

    PRUNE_EVERY = 256  # inserts between checks of the total (a COUNT(*) reads the whole index)

    def __init__(self, path: str | os.PathLike, mirror=None, *, models: Iterable[str] | None = None,
                 client_uncounted: int = 500, max_rows: int = 1_000_000):
        self.path, self.mirror = Path(path), mirror
        self.models = None if models is None else frozenset(models)
        self.client_uncounted, self.max_rows = client_uncounted, max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            db.execute("""CREATE TABLE IF NOT EXISTS answers (
                id INTEGER PRIMARY KEY, at REAL NOT NULL, model TEXT NOT NULL, resolution INTEGER NOT NULL,
                fooled INTEGER NOT NULL CHECK (fooled IN (0, 1)), uid TEXT, counted INTEGER NOT NULL DEFAULT 1,
                client TEXT)""")
            columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
            if "uid" not in columns:  # a store from before answers had ids: its rows stay counted, once
                db.execute("ALTER TABLE answers ADD COLUMN uid TEXT")
                db.execute("ALTER TABLE answers ADD COLUMN counted INTEGER NOT NULL DEFAULT 1")
            if "client" not in columns:  # before storage was bounded per client
                db.execute("ALTER TABLE answers ADD COLUMN client TEXT")
            db.execute("CREATE UNIQUE INDEX IF NOT EXISTS answers_uid ON answers (uid)")
            db.execute("CREATE INDEX IF NOT EXISTS answers_uncounted ON answers (client, id) WHERE counted = 0")
            # clients are kept as keyed hashes, never as addresses; the key stays in this file
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('client_key', randomblob(16))")
            self._client_key = db.execute("SELECT value FROM meta WHERE key = 'client_key'").fetchone()[0]
            db.execute("COMMIT")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (transactions are explicit), closed on exit. (sqlite3's own
        ``with connection:`` only commits; it never closes.)"""
        with contextlib.closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
            yield db

    def record(self, model: str, resolution: int, fooled: bool, *, uid: str | None = None,
               check: Callable[[], str | None] | None = None, client: str | None = None) -> Recorded:
        """Store the answer to pair ``uid`` (default: a new id) unless that pair is answered already;
        ``fooled``: the person took the generated image for the real one. ``check`` runs only for
        the one request that claims the pair, inside the transaction; a reason it returns keeps the
        answer out of the statistics. ``client``: who answered (catgan.quiz.limits.request_keys), so
        that only its newest ``client_uncounted`` uncounted answers are kept."""
        uid = uid or uuid.uuid4().hex
        who = None if client is None else hashlib.blake2b(client.encode(), key=self._client_key, digest_size=8).hexdigest()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time; a failure before COMMIT is rolled back on close
            if db.execute("SELECT 1 FROM answers WHERE uid = ?", (uid,)).fetchone():
                db.execute("ROLLBACK")
                return Recorded(False, False, "this pair was answered already")
            reason = (check() if check else None) or ""
            row = {"id": uid, "at": time.time(), "model": model, "resolution": int(resolution), "fooled": bool(fooled)}
            rowid = db.execute("INSERT INTO answers (uid, at, model, resolution, fooled, counted, client) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", (uid, row["at"], model, row["resolution"],
                                                                int(row["fooled"]), int(not reason), who)).lastrowid
            if reason and who is not None:  # this client's older uncounted answers beyond its share
                db.execute("DELETE FROM answers WHERE id IN (SELECT id FROM answers WHERE client = ? AND counted = 0 "
                           "ORDER BY id DESC LIMIT -1 OFFSET ?)", (who, self.client_uncounted))
            if rowid % self.PRUNE_EVERY == 0:
                self._prune(db)
            db.execute("COMMIT")
        if self.mirror is not None and not reason:
            self.mirror.append(row)
        return Recorded(True, not reason, reason)

    def _prune(self, db: sqlite3.Connection) -> None:
        """Beyond ``max_rows`` answers, drop the oldest uncounted ones (never a counted one)."""
        extra = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] - self.max_rows
        if extra > 0:
            db.execute("DELETE FROM answers WHERE id IN (SELECT id FROM answers WHERE counted = 0 ORDER BY id LIMIT ?)",
                       (extra,))

    def import_answers(self, rows: Iterable[dict]) -> int:
        """Add counted answers (dicts as ``record`` mirrors them); ids already here, and rows that are
        not ``valid_answer``s for this store's models, are skipped. Returns how many were new."""
        values = [(r["id"], float(r["at"]), r["model"], r["resolution"], int(r["fooled"]))
                  for r in rows if valid_answer(r, self.models)]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO answers (uid, at, model, resolution, fooled, counted) "
                           "VALUES (?, ?, ?, ?, ?, 1)", values)
            new = db.total_changes - before
            self._prune(db)
            db.execute("COMMIT")
        return new

    def count(self, counted: bool = True) -> int:
        """Counted answers (``counted=False``: those stored but not counted)."""
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM answers WHERE counted = ?", (int(counted),)).fetchone()[0])

    def stats(self) -> dict:
        """Fooled rates (with 95 % Wilson intervals) of the counted answers: overall, per model (at most
        ``MAX_MODELS``, the most answered, by name) and per resolution (``RESOLUTIONS`` only). Answers
        whose model is not a valid name known to this store are left out of all three, so every name
        in it matches ``MODEL_NAME`` and the whole stays small, whatever the file holds."""
        with self._connect() as db:
            groups = db.execute("SELECT model, resolution, COUNT(*), SUM(fooled) FROM answers WHERE counted = 1 "
                                "GROUP BY model, resolution").fetchall()
        models: dict[str, list[int]] = {}
        resolutions: dict[int, list[int]] = {}
        for model, resolution, n, fooled in groups:
            if valid_model(model, self.models) and resolution in RESOLUTIONS:
                for total in (models.setdefault(model, [0, 0]), resolutions.setdefault(resolution, [0, 0])):
                    total[0] += n
                    total[1] += fooled
        shown = sorted(sorted(models, key=lambda m: (-models[m][0], m))[:MAX_MODELS])
        n, fooled = (sum(v[i] for v in models.values()) for i in (0, 1))
        return {"total": _rate(n=n, fooled=fooled), "by_model": [_rate(*models[m], model=m) for m in shown],
                "by_resolution": [_rate(*resolutions[r], resolution=r) for r in sorted(resolutions)]}


def valid_model(name, models: frozenset[str] | None = None) -> bool:
    """A model name the statistics may show: ``MODEL_NAME``, and one of ``models`` when given."""
    return isinstance(name, str) and MODEL_NAME.fullmatch(name) is not None and (models is None or name in models)


def valid_answer(row, models: frozenset[str] | None = None) -> bool:
    """Whether ``row`` is an answer exactly as ``record`` mirrors it: these five keys, a pair id, a
    time (s since 1970, not in the future), a ``valid_model``, a resolution in ``RESOLUTIONS`` and a
    bool. (An answers file on the Hub can be edited by hand: nothing in one is taken on trust.)"""
    return (isinstance(row, dict) and row.keys() == ANSWER_KEYS
            and isinstance(row["id"], str) and ANSWER_ID.fullmatch(row["id"]) is not None
            and type(row["at"]) in (int, float) and 0 <= row["at"] <= time.time() + 86_400  # NaN fails both
            and valid_model(row["model"], models)
            and type(row["resolution"]) is int and row["resolution"] in RESOLUTIONS
            and type(row["fooled"]) is bool)


def _rate(n: int, fooled: int, **key) -> dict:
    lo, hi = wilson_interval(int(fooled), int(n))
    return {**key, "n": int(n), "fooled": int(fooled), "rate": fooled / n if n else float("nan"), "ci95": (lo, hi)}


__all__ = ["ANSWER_ID", "MAX_MODELS", "MODEL_NAME", "RESOLUTIONS", "QuizStore", "Recorded", "default_db_path",
           "valid_answer", "valid_model"]
