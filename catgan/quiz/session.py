"""The quiz as data: a new pair with its files, an answer's outcome with the score and the fooled
rates. The app only lays these out.

One ``Quiz`` serves everyone (the photos, the fakes, the store, the pace); what is one visitor's
(their shuffle of the photos, the pair on screen and its truth, their score) is a frozen ``Visit``
that goes in and comes back new, so it can live in the app's per-session state, which never leaves
the server.
"""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ..cli import one_line
from .limits import Pace
from .pairs import PAIR_PX, SIDES, make_pair
from .photos import HOW_TO_ADD, QuizError, next_photo, real_photos
from .store import QuizStore


class NoOpenPair(QuizError):
    """An answer without a pair on screen, or to one answered already."""


@dataclass(frozen=True)
class Fake:
    model: str
    arch: str
    resolution: int
    image: torch.Tensor  # (3, S, S) in [-1, 1]


@dataclass(frozen=True)
class Shown:
    """A pair on screen and its truth."""
    id: str  # the pair's random id, also its answer's
    real_side: str
    model: str
    arch: str
    resolution: int
    shown_at: float  # time.monotonic() when it was made
    answered: bool = False

    @property
    def fake_side(self) -> str:
        return SIDES[1 - SIDES.index(self.real_side)]


@dataclass(frozen=True)
class Score:
    answered: int = 0
    correct: int = 0
    streak: int = 0
    best_streak: int = 0

    def after(self, correct: bool) -> Score:
        streak = self.streak + 1 if correct else 0
        return Score(self.answered + 1, self.correct + correct, streak, max(self.best_streak, streak))


@dataclass(frozen=True)
class Visit:
    """One visitor's quiz: their own shuffle of the photos, the pair on screen, their score."""
    deck: dict | None = None
    shown: Shown | None = None
    score: Score = field(default_factory=Score)


@dataclass(frozen=True)
class Outcome:
    correct: bool
    shown: Shown  # the answered pair: which side was real, which model made the other
    counted: bool  # in everyone's statistics
    reason: str  # why not, when not counted
    visit: Visit
    stats: dict  # QuizStore.stats() after this answer


class Quiz:
    """The quiz for everyone. ``source``: real photos (None: the quiz is off); ``fake()``: a fresh
    generated cat; ``folder(n_bytes)``: a fresh folder for a pair's files."""

    def __init__(self, source: str | os.PathLike | None, fake: Callable[[], Fake], store: QuizStore | None,
                 pace: Pace, folder: Callable[[int], Path], limit: int | None = None):
        self.source, self.fake, self.store, self.pace = source, fake, store, pace
        self.folder, self.limit = folder, limit

    def photos(self) -> torch.Tensor:
        if not self.source:
            raise QuizError(HOW_TO_ADD)
        return real_photos(self.source, PAIR_PX, self.limit)

    def warm(self) -> None:
        """Decode the photos and make one fake, so that the first pair is quick. A failure is said
        again, to the visitor, when a pair is asked for."""
        try:
            self.photos()
            self.fake()
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"the quiz is not warm: {one_line(e, 200)}", stacklevel=2)

    def new_pair(self, visit: Visit) -> tuple[Path, Path, Visit]:
        """(left file, right file, visit): the next photo of this visitor's shuffle beside a fresh fake."""
        photos = self.photos()
        fake = self.fake()
        index, deck = next_photo(visit.deck, len(photos))
        pair = make_pair(photos[index], fake.image, fake.resolution, self.folder(2 * 3 * PAIR_PX**2))
        shown = Shown(pair.id, pair.real_side, fake.model, fake.arch, pair.resolution, time.monotonic())
        return pair.left, pair.right, replace(visit, deck=deck, shown=shown)

    def answer(self, visit: Visit, side: str, session_key: str, client: str) -> Outcome:
        """``side``: where the visitor saw the real photo. Stored once per pair; counted at a human pace."""
        if self.store is None:
            raise QuizError(HOW_TO_ADD)
        if side not in SIDES:
            raise QuizError("answer 'left' or 'right'")
        shown = visit.shown
        if shown is None or shown.answered:
            raise NoOpenPair("no pair waits for an answer")
        correct = side == shown.real_side
        done = self.store.record(shown.model, shown.resolution, fooled=not correct, uid=shown.id,
                                 check=lambda: self.pace.check(session_key, client, shown.shown_at), client=client)
        if not done.stored:  # another request of this visitor answered it first
            raise NoOpenPair("this pair was answered already")
        shown = replace(shown, answered=True)
        visit = replace(visit, shown=shown, score=visit.score.after(correct))
        return Outcome(correct, shown, done.counted, done.reason, visit, self.store.stats())

    def stats(self) -> dict | None:
        return self.store.stats() if self.store is not None else None

