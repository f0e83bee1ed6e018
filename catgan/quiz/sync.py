"""Quiz answers that outlive a Space: a copy in a Hugging Face dataset repo.

A Space's disk is wiped on every restart (each push, each wake from sleep). With
``CATGAN_QUIZ_REPO=USER/quiz-answers`` every counted answer is also appended to a JSONL file that
huggingface_hub's ``CommitScheduler`` pushes to that dataset repo every few minutes, the Hub's
documented way to keep a Space's data, and at start-up the answers already there are loaded into
the SQLite store, which stays the one the app reads.

Each process writes its own file, ``answers/<random id>.jsonl``, named when it starts: two
replicas, or a replica and its own restart, never write the same file, so no push replaces another
process's answers. Every answer carries its pair's id, which the store keeps unique: loading a file
twice, or the file this very process writes, counts nothing twice. The token (HF_TOKEN, a Space
secret with write access) is never printed or stored.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

from huggingface_hub import CommitScheduler

from .. import env
from ..hub.fetch import client, fetch
from .store import ANSWER_ID, QuizStore, valid_answer  # noqa: F401 - ANSWER_ID: the id checked

log = logging.getLogger(__name__)

EVERY_MIN = 5.0  # minutes between pushes; an answer can be lost only if the process dies in between
FOLDER = "answers"
MAX_LINE = 1_000  # characters; an answer line is about 110


class AnswerLog:
    """This process's JSONL file of answers, pushed to ``repo_id`` (a dataset repo, created private
    if missing) every ``every`` minutes and when the process exits."""

    def __init__(self, repo_id: str, *, every: float = EVERY_MIN, token: str | None = None,
                 folder: str | os.PathLike | None = None):
        self.repo_id = repo_id
        self.folder = Path(folder or tempfile.mkdtemp(prefix="catgan-answers-"))  # this process's alone
        self.name = f"{FOLDER}/{uuid.uuid4().hex}.jsonl"
        self.path = self.folder / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.scheduler = CommitScheduler(repo_id=repo_id, repo_type="dataset", folder_path=self.folder,
                                         every=every, private=True, allow_patterns=[f"{FOLDER}/*.jsonl"],
                                         hf_api=client(token))

    def append(self, row: dict) -> None:
        line = json.dumps(row, separators=(",", ":")) + "\n"
        with self.scheduler.lock:  # the scheduler reads the file under this lock
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)

    def push(self) -> None:
        """Push now and wait (a test, or a clean shutdown)."""
        self.scheduler.trigger().result()

    def close(self) -> None:
        self.push()
        self.scheduler.stop()


def load_answers(repo_id: str, store: QuizStore, token: str | None = None) -> tuple[int, int]:
    """Load every answer file of ``repo_id`` into ``store``: (new answers, unreadable lines)."""
    folder, _ = fetch(repo_id, [f"{FOLDER}/*.jsonl"], repo_type="dataset", token=token)
    rows, bad = [], 0
    for path in sorted(folder.glob(f"{FOLDER}/*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            row = _parse(line)
            if row is not None:
                rows.append(row)
            elif line.strip():
                bad += 1
    return store.import_answers(rows), bad


def _parse(line: str) -> dict | None:
    """One answer line, or None unless every field is exactly as ``QuizStore.record`` writes it
    (catgan.quiz.store.valid_answer: the repo is writable by hand too). Whether its model is one
    this app knows is the store's check, at import."""
    if len(line) > MAX_LINE:
        return None
    try:
        row = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return row if valid_answer(row) else None


def _no_constant(name: str):
    raise ValueError(f"{name} is not an answer's value")


def open_store(db_path: str | os.PathLike, repo_id: str | None = None, *, every: float = EVERY_MIN,
               models: Iterable[str] | None = None) -> tuple[QuizStore, str | None]:
    """(store, notice): the SQLite store; with ``repo_id``, also loaded from and mirrored to that
    dataset repo. When the Hub can't be reached the store works alone, and ``notice`` says so.
    ``models``: the app's model names, the only ones imported and shown (QuizStore's ``models``)."""
    if not repo_id:
        return QuizStore(db_path, models=models), None
    try:
        answers = AnswerLog(repo_id, every=every)
    except Exception as e:  # noqa: BLE001 - offline, no token, no rights: the quiz goes on locally
        return QuizStore(db_path, models=models), (
            f"Answers are kept on this machine only: the dataset {repo_id} could not be "
            f"opened ({type(e).__name__}); check HF_TOKEN and {env.QUIZ_REPO}.")
    store = QuizStore(db_path, mirror=answers, models=models)
    try:
        new, bad = load_answers(repo_id, store)
    except Exception as e:  # noqa: BLE001
        return store, (f"Earlier answers could not be loaded from {repo_id} ({type(e).__name__}); "
                       "new ones are still saved there.")
    log.info("loaded %d answers from %s (%d unreadable lines)", new, repo_id, bad)
    return store, f"Answers are saved to the dataset {repo_id} every {every:g} minutes."

