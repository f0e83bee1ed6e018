"""catgan.quiz: fair pairs, the SQLite answer store, real-photo sources."""
import contextlib
import sqlite3
import threading

import pytest
import torch
from PIL import Image

from catgan import quiz


def test_store_counts_rates_and_persists(tmp_path):
    db = tmp_path / "sub" / "quiz.sqlite"
    store = quiz.QuizStore(db)
    assert store.stats()["total"]["n"] == 0
    for fooled in (True, False, False, True):
        store.record("dcgan-64", 64, fooled)
    store.record("gan-32", 32, True)
    again = quiz.QuizStore(db)  # a restart: same file, same figures
    s = again.stats()
    assert s["total"]["n"] == 5 and s["total"]["fooled"] == 3
    by_model = {r["model"]: r for r in s["by_model"]}
    assert by_model["dcgan-64"]["rate"] == 0.5 and by_model["gan-32"]["rate"] == 1.0
    assert {r["resolution"]: r["n"] for r in s["by_resolution"]} == {32: 1, 64: 4}
    lo, hi = s["total"]["ci95"]
    assert 0 < lo < 0.6 < hi < 1
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_closes_every_connection(tmp_path, monkeypatch):
    opened = []

    def connect(*args, **kw):
        opened.append(real_connect(*args, **kw))
        return opened[-1]

    real_connect = sqlite3.connect
    monkeypatch.setattr(quiz.sqlite3, "connect", connect)
    store = quiz.QuizStore(tmp_path / "q.sqlite")
    store.record("m", 64, True)
    assert store.count() == 1 and store.stats()["total"]["n"] == 1
    assert len(opened) == 4
    for con in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            con.execute("SELECT 1")


def test_store_loses_nothing_under_concurrent_writers(tmp_path):
    store = quiz.QuizStore(tmp_path / "q.sqlite")
    errors = []

    def write(i):
        try:
            mine = quiz.QuizStore(tmp_path / "q.sqlite")  # as another worker would
            for j in range(25):
                mine.record(f"m{i % 3}", 64, (i + j) % 2 == 0)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and store.count() == 200


def test_pairs_are_processed_identically_and_sides_are_random(tmp_path):
    real = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    fake = torch.rand(3, 32, 32) * 2 - 1
    sides, sizes = set(), set()
    for _ in range(40):
        pair = quiz.make_pair(real, fake, 32, tmp_path)
        sides.add(pair.real_side)
        left, right = Image.open(pair.left), Image.open(pair.right)
        assert left.size == right.size == (quiz.DISPLAY, quiz.DISPLAY) and left.mode == right.mode == "RGB"
        assert left.info.keys() == right.info.keys() and not (set(left.info) - {"dpi"})  # no metadata
        sizes |= {pair.left.stat().st_size, pair.right.stat().st_size}
        assert len(pair.left.stem) == len(pair.right.stem) == 32  # random names
    assert sides == {"left", "right"}
    assert len(sizes) == 1  # every file has the same byte count, whatever it shows


def test_present_is_the_same_path_for_uint8_and_float():
    x = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    as_float = x.float() / 127.5 - 1
    assert quiz.present(x, 32).tobytes() == quiz.present(as_float, 32).tobytes()


def test_real_sources(tmp_path, cats_zip, monkeypatch):
    assert quiz.resolve_real_source(None) is None
    with pytest.raises(quiz.QuizError, match="not found"):
        quiz.resolve_real_source(str(tmp_path / "missing.zip"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(quiz.QuizError, match="could not get the dataset"):
        quiz.resolve_real_source("nobody/no-such-cats")
    photos = quiz.real_photos(cats_zip, 64, limit=20)
    assert photos.shape == (20, 3, 64, 64) and photos.dtype == torch.uint8
    assert quiz.real_photos(cats_zip, 64, limit=20) is photos  # decoded once per process


def test_default_db_path_honours_the_env(monkeypatch, tmp_path):
    monkeypatch.setenv(quiz.ENV_DB, str(tmp_path / "x.sqlite"))
    assert quiz.default_db_path() == tmp_path / "x.sqlite"
