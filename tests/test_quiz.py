"""catgan.quiz: fair pairs, one answer per pair, a human pace, the SQLite
store, real-photo sources; and the same served by the app, against concurrent and scripted callers."""
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import jpeg_bytes, synthetic_faces
from PIL import Image

from catgan import env, quiz
from catgan.quiz import sync as quiz_sync
from catgan.quiz.limits import Pace, QuizLimits, client_address, client_key, request_keys


def test_store_counts_rates_and_persists(tmp_path):
    db = tmp_path / "sub" / "quiz.sqlite"
    store = quiz.QuizStore(db)
    assert store.stats()["total"]["n"] == 0
    for fooled in (True, False, False, True):
        assert store.record("dcgan-64", 64, fooled) == quiz.Recorded(True, True)
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
    monkeypatch.setattr(sqlite3, "connect", connect)
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


def test_32_concurrent_answers_to_one_pair_store_exactly_one(tmp_path):
    """Before: the 'answered' flag lived in the session's gr.State, read by up to 4 requests at
    once, and one pair could be counted 4 times. Now the pair's id is unique in SQLite."""
    store = quiz.QuizStore(tmp_path / "q.sqlite")
    start, results, checks = threading.Barrier(32), [], []

    def answer(i):
        start.wait()
        results.append(store.record("dcgan-64", 64, i % 2 == 0, uid="a" * 32, check=lambda: checks.append(i)))

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.stored for r in results) == 1 and len(checks) == 1  # only the one that claimed it was checked
    assert store.count() == 1 and store.count(counted=False) == 0


def test_answers_too_fast_are_stored_but_not_counted(tmp_path):
    store = quiz.QuizStore(tmp_path / "q.sqlite")
    done = store.record("m", 64, True, check=lambda: "too fast")
    assert done == quiz.Recorded(True, False, "too fast")
    assert store.count() == 0 and store.count(counted=False) == 1 and store.stats()["total"]["n"] == 0


def test_imported_answers_count_once_and_old_stores_are_migrated(tmp_path):
    db = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as con:  # the schema before answers had ids
        con.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, at REAL NOT NULL, model TEXT NOT NULL, "
                    "resolution INTEGER NOT NULL, fooled INTEGER NOT NULL CHECK (fooled IN (0, 1)))")
        con.executemany("INSERT INTO answers (at, model, resolution, fooled) VALUES (1.0, 'gan-32', 32, ?)", [(0,), (1,)])
        con.commit()
    store = quiz.QuizStore(db)
    assert store.count() == 2
    rows = [{"id": f"{i:032x}", "at": 2.0, "model": "dcgan-64", "resolution": 64, "fooled": i % 2 == 0} for i in range(5)]
    assert store.import_answers(rows) == 5 and store.import_answers(rows[2:]) == 0
    assert store.record("dcgan-64", 64, True, uid=rows[0]["id"]).stored is False  # an imported pair is answered
    assert store.count() == 7 and quiz.QuizStore(db).count() == 7


def test_uncounted_answers_are_bounded_per_client_and_in_all(tmp_path):
    """Before: every uncounted answer was kept; one client stored 22.4 rows/s, none counted (~1.9 M
    a day). Now a client keeps its newest few, the store a fixed total, and no counted one is lost."""
    db = tmp_path / "q.sqlite"
    store = quiz.QuizStore(db, client_uncounted=5, max_rows=30)
    store.PRUNE_EVERY = 1

    def too_fast():
        return "too fast"

    for _ in range(10):
        assert store.record("m", 64, True, client="81.2.69.160").counted
    uids = [f"{i:032x}" for i in range(50)]
    for uid in uids:  # one client, all too fast: every answer is still revealed and claims its pair
        assert store.record("m", 64, True, uid=uid, check=too_fast, client="1.2.3.4") == quiz.Recorded(True, False, "too fast")
    with contextlib.closing(sqlite3.connect(db)) as con:
        kept = [u for u, in con.execute("SELECT uid FROM answers WHERE counted = 0 ORDER BY id")]
        clients = {c for c, in con.execute("SELECT DISTINCT client FROM answers")}
    assert kept == uids[-5:]  # its newest 5
    assert not clients & {"1.2.3.4", "81.2.69.160"}  # kept as keyed hashes, not addresses
    for i in range(100):  # many clients (or none named): the total holds
        store.record("m", 64, True, check=too_fast, client=f"5.6.{i}.1" if i % 2 else None)
    assert store.count() == 10 and store.count() + store.count(counted=False) <= 30
    for _ in range(40):  # counted answers beyond the total: the uncounted go, nothing counted does
        store.record("m", 64, False, client="81.2.69.161")
    assert store.count() == 50 and store.count(counted=False) == 0
    assert store.import_answers([{"id": "e" * 32, "at": 2.0, "model": "m", "resolution": 64, "fooled": True}]) == 1
    assert quiz.QuizStore(db).count() == 51


GOOD = {"id": "f" * 32, "at": 1.5, "model": "dcgan-64", "resolution": 64, "fooled": True}


@pytest.mark.parametrize("bad", [
    {**GOOD, "id": GOOD["id"] + "\n"},  # "$" matched before a final newline: a second copy of an answer
    {**GOOD, "id": "F" * 32}, {**GOOD, "id": 12}, {**GOOD, "id": "f" * 31},
    {**GOOD, "at": True}, {**GOOD, "at": "1.5"}, {**GOOD, "at": -1}, {**GOOD, "at": 1e30},
    {**GOOD, "model": "<script>alert(1)</script>"}, {**GOOD, "model": "javascript:alert(1)"},
    {**GOOD, "model": "dcgan-64\n"}, {**GOOD, "model": ""}, {**GOOD, "model": "m" * 65}, {**GOOD, "model": ["m"]},
    {**GOOD, "resolution": 65}, {**GOOD, "resolution": 64.0}, {**GOOD, "resolution": True},
    {**GOOD, "fooled": 1}, {**GOOD, "fooled": "true"}, {**GOOD, "extra": "x"}, {k: v for k, v in GOOD.items() if k != "at"},
])
def test_imported_answers_are_checked_field_by_field(tmp_path, bad):
    """Before: an id ending in a newline passed the id check, and 100 such copies of stored answers
    were imported as new, counted rows; model names were any string of up to 100 characters."""
    assert quiz_sync._parse(json.dumps(GOOD)) == GOOD
    assert quiz_sync._parse(json.dumps(bad)) is None
    store = quiz.QuizStore(tmp_path / "q.sqlite")
    assert store.import_answers([GOOD, bad]) == 1 and store.import_answers([bad]) == 0 and store.count() == 1


def test_answer_lines_that_are_not_plain_json_records_are_refused(tmp_path):
    line = json.dumps(GOOD)
    for bad in (line.replace("1.5", "NaN"), line.replace("1.5", "Infinity"), line + " " * 1000, "[" * 900 + "]" * 900):
        assert quiz_sync._parse(bad) is None
    store = quiz.QuizStore(tmp_path / "q.sqlite", models={"dcgan-64"})  # the app's own models
    assert store.import_answers([GOOD, {**GOOD, "id": "e" * 32, "model": "gan-32"}]) == 1  # gan-32: not one of them


def test_stats_show_only_known_model_names_and_stay_short(tmp_path):
    """Before: a hostile answers repo made the statistics text 82,716 characters, sent with every
    answer, carrying raw <script> and javascript: strings."""
    db = tmp_path / "q.sqlite"
    quiz.QuizStore(db)
    hostile = ["<script>alert(1)</script>", "javascript:alert(1)", "a\nb", "x" * 500]
    rows = [(f"{i:032x}", hostile[i % 4] if i < 400 else f"m{i}", 10**6 if i % 5 == 0 else 64) for i in range(3000)]
    rows += [(f"{i:032x}", "dcgan-64", 32) for i in range(3000, 3010)]
    with contextlib.closing(sqlite3.connect(db)) as con:  # what the old import let in
        con.executemany("INSERT INTO answers (uid, at, model, resolution, fooled, counted) VALUES (?, 1.0, ?, ?, 1, 1)",
                        rows)
        con.commit()
    for models in (None, {"dcgan-64", "<script>alert(1)</script>"}):
        s = quiz.QuizStore(db, models=models).stats()
        text = repr(s)
        assert "<" not in text and "javascript" not in text and "\\n" not in text and len(text) < 8_000
        assert 1 <= len(s["by_model"]) <= quiz.MAX_MODELS
        assert all(quiz.MODEL_NAME.fullmatch(r["model"]) for r in s["by_model"])
        assert {r["resolution"] for r in s["by_resolution"]} <= {32, 64}
        assert s["total"]["n"] == sum(r["n"] for r in s["by_resolution"])
    assert [(r["model"], r["n"]) for r in s["by_model"]] == [("dcgan-64", 10)] and s["total"]["n"] == 10


# ---------------------------------------------------------------- pace and clients

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_pace_counts_only_human_speed_answers():
    clock = Clock()
    pace = Pace(QuizLimits(min_view_s=0.5, min_gap_s=1.0, client_max=3, client_window_s=60), clock)
    shown = clock.now
    clock.now += 0.2
    assert "within 0.5 s" in pace.check("s1", "1.2.3.4", shown)  # too soon after the pair appeared
    clock.now += 0.9
    assert "one answer per 1 s" in pace.check("s1", "1.2.3.4", shown)  # 0.9 s after the last attempt
    clock.now += 1.1
    assert pace.check("s1", "1.2.3.4", shown) is None
    for session in ("s2", "s3"):  # new sessions from the same address: counted up to the cap
        assert pace.check(session, "1.2.3.4", shown) is None
    assert "over 3 answers from one address" in pace.check("s4", "1.2.3.4", shown)
    assert pace.check("s5", "5.6.7.8", shown) is None  # another address is not held back
    clock.now += 61
    assert pace.check("s4", "1.2.3.4", shown) is None  # the window moved on


def test_pace_memory_is_bounded():
    pace = Pace(QuizLimits.off(), Clock())
    pace.MAX_KEYS = pace._counted.max_keys = 100
    for i in range(1000):
        pace.check(f"s{i}", f"c{i}", 0.0)
    assert len(pace._last) == len(pace._counted) == 100


@pytest.mark.parametrize("peer, header, expected", [
    ("8.8.8.8", None, "8.8.8.8"),  # no proxy
    ("8.8.8.8", "1.1.1.1", "8.8.8.8"),  # a header from the internet is not believed
    ("10.0.3.7", "81.2.69.160", "81.2.69.160"),  # behind the Space's proxy
    ("10.0.3.7", "1.1.1.1, 81.2.69.160", "81.2.69.160"),  # a made-up first hop: the proxy's own is last
    ("10.0.3.7", "1.1.1.1, 81.2.69.160, 10.0.0.2", "81.2.69.160"),  # internal hops after it are skipped
    ("127.0.0.1", "10.1.0.5", "10.1.0.5"),  # all private (a local proxy): the first hop
    ("127.0.0.1", "not-an-ip", "127.0.0.1"),
    (None, None, "unknown"),
])
def test_client_address_holds_behind_a_proxy(peer, header, expected):
    assert client_address(peer, header) == expected


@pytest.mark.parametrize("header, expected", [
    ("5.6.7.8:1234", "5.6.7.8"),  # before: a hop with a port was no address, and every visitor was the proxy
    ("[2a00:1450:4001:81c::200e]:443", "2a00:1450:4001:81c::200e"),
    ('"[2a00:1450:4001:81c::200e]"', "2a00:1450:4001:81c::200e"),
    ("2A00:1450:4001:81C::200E", "2a00:1450:4001:81c::200e"),
    ("1.1.1.1, 81.2.69.160:5000, 10.0.0.2:80", "81.2.69.160"),
    ("::ffff:81.2.69.160", "81.2.69.160"),
    ("5.6.7.8:123456", "10.0.3.7"), ("[5.6.7.8]:80", "10.0.3.7"), ("2a00:1450::1:443:", "10.0.3.7"),  # not addresses
])
def test_client_address_reads_hops_with_ports(header, expected):
    assert client_address("10.0.3.7", header) == expected


def test_ipv6_clients_are_capped_per_64():
    """Before: each IPv6 address was a client of its own, and rotating addresses inside one /64 (what
    a single subscriber gets) had 243 of 243 answers counted in 26 s against a cap of 120."""
    clock = Clock()
    pace = Pace(QuizLimits(min_view_s=0.0, min_gap_s=0.0, client_max=120, client_window_s=600), clock)
    counted = 0
    for i in range(243):
        clock.now += 0.1
        address = client_address("10.0.3.7", f"2a00:1450:4001:81c:{i:x}:{i:x}:{i:x}:1")
        counted += pace.check(f"s{i}", address, clock.now - 1) is None
    assert counted == 120
    assert pace.check("s", "2a00:1450:4001:81d::1", 0.0) is None  # the next /64 is someone else
    assert client_key("2a00:1450:4001:81c:1:2:3:4") == client_key("2a00:1450:4001:81c::/64") == "2a00:1450:4001:81c::/64"
    assert client_key("81.2.69.160") == "81.2.69.160" and client_key("unknown") == "unknown"

    request = SimpleNamespace(headers={"x-forwarded-for": "[2a00:1450:4001:81c::200e]:443"},  # as a gr.Request
                              client=SimpleNamespace(host="10.0.3.7"), session_hash="abc")
    assert request_keys(request) == ("abc", "2a00:1450:4001:81c::/64")


# ---------------------------------------------------------------- pairs and photos

def test_pairs_are_small_identical_in_form_and_sides_are_random(tmp_path):
    real = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    fake = torch.rand(3, 32, 32) * 2 - 1
    sides, sizes, ids = set(), set(), set()
    for _ in range(40):
        pair = quiz.make_pair(real, fake, 32, tmp_path)
        sides.add(pair.real_side)
        ids.add(pair.id)
        left, right = Image.open(pair.left), Image.open(pair.right)
        assert left.size == right.size == (quiz.PAIR_PX, quiz.PAIR_PX) and left.mode == right.mode == "RGB"
        assert left.info.keys() == right.info.keys() and not (set(left.info) - {"dpi"})  # no metadata
        sizes |= {pair.left.stat().st_size, pair.right.stat().st_size}
        assert len(pair.left.stem) == len(pair.right.stem) == 32  # random names
    assert sides == {"left", "right"} and len(ids) == 40
    assert len(sizes) == 1  # every file has the same byte count, whatever it shows
    assert 2 * sizes.pop() < 30_000  # bytes per pair (256 px pairs were 394 KB)


def test_present_is_the_same_path_for_uint8_and_float():
    x = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    as_float = x.float() / 127.5 - 1
    assert quiz.present(x, 32).tobytes() == quiz.present(as_float, 32).tobytes()


@pytest.mark.parametrize("resolution", [32, 64])
def test_a_real_photo_cannot_be_looked_up_and_both_sides_share_one_view(tmp_path, resolution):
    """Before: the real side was the plain processing of a public photo: processing the set the same
    way, hashing it and looking each pair up found the real photo 200 times in 200. Now each pair is
    shown through its own random view, which the fake goes through too."""
    photos = [torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous() for img in synthetic_faces(30, seed=3)]
    plain = quiz.present(photos[0], resolution)
    known = {hashlib.sha256(img.tobytes()).hexdigest() for p in photos  # the set as the quiz showed it, and mirrored
             for img in (quiz.present(p, resolution), quiz.present(p, resolution).transpose(Image.Transpose.FLIP_LEFT_RIGHT))}
    fakes = [torch.rand(3, resolution, resolution) * 2 - 1 for _ in photos]
    pairs = [quiz.make_pair(photo, fake, resolution, tmp_path) for photo, fake in zip(photos, fakes)]
    shown = [(Image.open(getattr(pair, pair.real_side)).convert("RGB"),
              Image.open(getattr(pair, quiz.SIDES[1 - quiz.SIDES.index(pair.real_side)])).convert("RGB")) for pair in pairs]
    assert not [real for real, _ in shown if hashlib.sha256(real.tobytes()).hexdigest() in known]
    views = set()
    for photo, fake, pair, (real, shown_fake) in zip(photos, fakes, pairs, shown):
        assert real.tobytes() == quiz.present(photo, resolution, view=pair.view).tobytes()
        assert shown_fake.tobytes() == quiz.present(fake, resolution, view=pair.view).tobytes()  # the same path
        left, top, right, bottom = pair.view.box
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1 and 0.85 <= right - left < 1
        assert right - left == pytest.approx(bottom - top)
        views.add(pair.view)
    assert len(views) == len(photos) and {v.flip for v in views} == {True, False}
    same = quiz.make_pair(photos[0], photos[0].float() / 127.5 - 1, resolution, tmp_path)  # one image, both sides
    assert Image.open(same.left).tobytes() == Image.open(same.right).tobytes() != plain.tobytes()


def test_each_session_sees_every_photo_once_before_any_repeats():
    n, deck, seen = 50, None, []
    for _ in range(n):
        i, deck = quiz.next_photo(deck, n)
        seen.append(i)
    assert sorted(seen) == list(range(n))
    again = [quiz.next_photo(deck, n)[0] for _ in range(3)]  # used up: a new shuffle starts
    assert all(0 <= i < n for i in again)
    other = None
    others = []
    for _ in range(n):
        i, other = quiz.next_photo(other, n)
        others.append(i)
    assert others != seen  # every session has its own order


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


def test_the_whole_set_is_used_not_the_first_2000(tmp_path):
    path = tmp_path / "many.zip"
    tiny = jpeg_bytes(Image.new("RGB", (8, 8), (200, 120, 40)), "PNG")
    with zipfile.ZipFile(path, "w") as z:
        for i in range(2100):
            z.writestr(f"cats/{i:04d}.png", tiny)
    assert len(quiz.real_photos(path, 16)) == 2100


def test_default_db_path_honours_the_env(monkeypatch, tmp_path):
    monkeypatch.setenv(env.QUIZ_DB, str(tmp_path / "x.sqlite"))
    assert quiz.default_db_path() == tmp_path / "x.sqlite"


# ---------------------------------------------------------------- served

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["NO_PROXY"] = "127.0.0.1,localhost" + (f",{os.environ['NO_PROXY']}" if os.environ.get("NO_PROXY") else "")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app with the limits on (a 3-answer cap per address, so the cap shows quickly), real
    photos: 12 distinct synthetic faces."""
    import app
    from catgan.models import ModelConfig, build_generator

    tmp = tmp_path_factory.mktemp("served")
    g = build_generator(ModelConfig(arch="dcgan", img_size=64, z_dim=16, g_width=8, d_width=8))
    g.save_pretrained(tmp / "weights" / "dcgan-64", config=g.config)
    (tmp / "real").mkdir()
    for i, img in enumerate(synthetic_faces(12, seed=5)):
        img.save(tmp / "real" / f"{i}.png")
    limits = QuizLimits(min_view_s=0.5, min_gap_s=1.0, client_max=3, client_window_s=600)
    demo = app.queued(app.build_demo(tmp / "weights", real_source=str(tmp / "real"), quiz_db=tmp / "quiz.sqlite",
                                     quiz_repo="", quiz_limits=limits))
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
    yield url, tmp
    demo.close()


def client(served, address=None):
    from gradio_client import Client

    url, tmp = served
    return Client(url, analytics_enabled=False, verbose=False, download_files=str(tmp / "dl"),
                  headers={"X-Forwarded-For": address} if address else None)


def test_served_32_concurrent_answers_to_one_pair_count_once(served):
    import time

    store = quiz.QuizStore(served[1] / "quiz.sqlite")
    before = store.count() + store.count(counted=False)
    c = client(served, "81.2.69.1")
    c.predict(api_name="/quiz_new")
    time.sleep(0.6)
    jobs = [c.submit("left", api_name="/quiz_answer") for _ in range(32)]
    ok, refused = [], []
    for job in jobs:
        try:
            ok.append(job.result())
        except Exception as e:  # noqa: BLE001
            refused.append(str(e))
    assert len(ok) == 1 and "Not counted" not in ok[0][2]
    assert len(refused) == 31 and all("already answered" in e for e in refused)
    assert store.count() + store.count(counted=False) == before + 1


def test_served_answers_count_only_at_a_human_pace_and_per_address(served):
    import time

    c = client(served, "81.2.69.2")
    c.predict(api_name="/quiz_new")
    assert "Not counted in everyone's answers: answered within 0.5 s" in c.predict("left", api_name="/quiz_answer")[2]
    counted = 0
    for i in range(4):  # fresh sessions from one address, each at a human pace: the cap of 3 holds
        c = client(served, "81.2.69.2" if i < 3 else "1.1.1.1, 81.2.69.2")  # a made-up first hop changes nothing
        c.predict(api_name="/quiz_new")
        time.sleep(0.6)
        reveal = c.predict("right", api_name="/quiz_answer")[2]
        counted += "Not counted" not in reveal
    assert counted == 3 and "over 3 answers from one address" in reveal
    c = client(served, "81.2.69.3")  # another address still counts
    c.predict(api_name="/quiz_new")
    time.sleep(0.6)
    assert "Not counted" not in c.predict("right", api_name="/quiz_answer")[2]


def test_served_session_never_sees_a_real_photo_twice(served):
    import time

    c = client(served, "81.2.69.4")
    seen = set()
    for _ in range(12):
        left, right, *_ = c.predict(api_name="/quiz_new")
        reveal = c.predict("left", api_name="/quiz_answer")[2]
        real = left if "**left** cat is the real photo" in reveal else right
        seen.add(Image.open(real).convert("RGB").tobytes())
        time.sleep(0.05)
    assert len(seen) == 12  # 12 photos, 12 pairs: each once
