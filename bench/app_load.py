"""Many simulated users on loopback: each loops through quiz pairs, answers and new samples via
gradio_client against a running app (`python app.py` in a subprocess, with a fresh quiz DB and the
quiz's limits on), and every few rounds an interpolation, a score of an uploaded image or a batch
(a few users only: a batch holds its own slot). Each user sends its own X-Forwarded-For address,
as the Space's proxy would.

    python bench/app_load.py [--users 32] [--seconds 120] [--real ../shared/data/cat-faces-64.zip]

Reports errors, p50/p95 latency per call, the server's memory (RSS) before and after, and the
answers: sent, counted by the app (the reply says when one is not: too fast for a person) and stored
in SQLite; counted must equal stored-and-counted, and every answer sent must be stored. Prints
figures; never fails because a machine is slow.
"""
from __future__ import annotations

import argparse
import contextlib
import random
import sqlite3
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from _server import ROOT, AppServer, percentiles
from gradio_client import Client, handle_file
from PIL import Image

REAL = ROOT.parent / "shared" / "data" / "cat-faces-64.zip"


BATCH_SIZES = (32, 64, 128, 256)  # the batch slider's values (fresh ones are computed, repeats cached)
JUDGE = "efficientnet_lite0"  # the judge every machine has (offline, resnet50 falls back to it)


def extras(c: Client, model: str, rng: random.Random, image: str, batcher: bool) -> list:
    """The heavier calls, one per round in turn: an interpolation, a score, and (for a few users) a batch."""
    calls = [("interpolate", lambda: c.predict("seed", rng.randrange(1000), rng.randrange(1000), "slerp", 24, 12,
                                               "loop", "nearest", model, 0, 1.0, api_name="/interpolate")),
             ("score", lambda: c.predict(handle_file(image), JUDGE, api_name="/score"))]
    if batcher:
        calls.append(("batch", lambda: c.predict(model, JUDGE, rng.choice(BATCH_SIZES), api_name="/batch")))
    return calls


def user(url: str, folder: Path, model: str, until: float, think: float, grid: int, stats: dict,
         lock: threading.Lock, seed: int, image: str, batcher: bool, mix: str = "all") -> None:
    rng = random.Random(seed)
    try:
        c = Client(url, analytics_enabled=False, verbose=False, download_files=str(folder),
                   headers={"X-Forwarded-For": f"198.18.{seed // 250}.{seed % 250 + 1}"})  # one address per user
    except Exception as e:  # noqa: BLE001
        with lock:
            stats["errors"].append(f"connect: {e}")
        return
    heavy, turn = extras(c, model, rng, image, batcher), seed
    while time.time() < until:
        turn += 1
        light = (("quiz_new", lambda: c.predict(api_name="/quiz_new")),
                 ("quiz_answer", lambda: c.predict(rng.choice(["left", "right"]), api_name="/quiz_answer")),
                 ("new_cats", lambda: c.predict(model, grid, 1.0, "nearest", 2, api_name="/new_cats")))
        for name, call in ((*light, heavy[turn % len(heavy)]) if mix == "all" else heavy[-1:]):
            t = time.perf_counter()
            try:
                reply = call()
            except Exception as e:  # noqa: BLE001
                with lock:
                    stats["errors"].append(f"{name}: {type(e).__name__}: {str(e)[:120]}")
                if name == "quiz_new":
                    break  # no pair, no answer: start the loop again
                continue
            with lock:
                stats["latency"][name].append(time.perf_counter() - t)
                if name == "quiz_answer":
                    stats["answers"] += 1
                    stats["counted"] += "Not counted" not in reply[2]
            time.sleep(rng.uniform(0, 2 * think))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=32)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--think", type=float, default=1.0, help="mean pause between a user's clicks, seconds")
    p.add_argument("--grid", type=int, default=16, help="cats per new sample")
    p.add_argument("--real", default=str(REAL) if REAL.is_file() else None)
    p.add_argument("--batchers", type=int, default=4, help="users who also ask for batches")
    p.add_argument("--mix", choices=["all", "score-batch"], default="all",
                   help="score-batch: the batchers ask only for batches, the other users only for scores")
    args = p.parse_args()
    if not args.real:
        raise SystemExit("give --real PATH (a folder or zip of cat photos) for the quiz")
    tmp = Path(tempfile.mkdtemp(prefix="catgan-load-"))
    db = tmp / "quiz.sqlite"
    server = AppServer(args.real, db)
    model = sorted(d.name for d in server.weights.iterdir() if (d / "config.json").is_file())[0]
    stats = {"errors": [], "latency": defaultdict(list), "answers": 0, "counted": 0}
    lock = threading.Lock()
    image = tmp / "cat.png"
    Image.effect_noise((128, 128), 60).convert("RGB").save(image)
    try:
        warm = Client(server.url, analytics_enabled=False, verbose=False, download_files=str(tmp / "warm"))
        warm.predict(api_name="/quiz_new")  # decode the real photos once before the clock starts
        warm.predict(handle_file(str(image)), JUDGE, api_name="/score")  # and load the judge
        rss_before = server.rss_mb()
        until = time.time() + args.seconds
        threads = [threading.Thread(target=user, args=(server.url, tmp / f"u{i}", model, until, args.think, args.grid,
                                                       stats, lock, i, str(image), i < args.batchers, args.mix))
                   for i in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1)
        rss_after, rss_peak = server.rss_mb(), server.rss_mb("VmHWM")
    finally:
        server.close()
    with contextlib.closing(sqlite3.connect(db)) as con:
        stored = dict(con.execute("SELECT counted, COUNT(*) FROM answers GROUP BY counted").fetchall())
    everything = [x for xs in stats["latency"].values() for x in xs]
    print(f"{args.users} users ({args.batchers} with batches, mix {args.mix}) for {args.seconds:.0f} s "
          f"(think {args.think} s, {args.grid}-cat grids) "
          f"against {server.url}")
    print(f"errors: {len(stats['errors'])}" + (f" (first: {stats['errors'][0]})" if stats["errors"] else ""))
    for kind, n in sorted(Counter(e.split(":")[0] for e in stats["errors"]).items()):
        print(f"  {kind}: {n}")
    print(f"server memory (RSS): {rss_before:.0f} MB before, {rss_after:.0f} MB after "
          f"({rss_after - rss_before:+.0f} MB), peak {rss_peak:.0f} MB")
    print(f"{'call':12s} {'n':>6s} {'p50 s':>7s} {'p95 s':>7s}")
    for name, xs in [*sorted(stats["latency"].items()), ("all", everything)]:
        p50, p95 = percentiles(xs)
        print(f"{name:12s} {len(xs):6d} {p50:7.3f} {p95:7.3f}")
    total, counted = sum(stored.values()), stored.get(1, 0)
    print(f"answers sent: {stats['answers']}, stored in SQLite: {total}"
          f" ({'equal' if total == stats['answers'] else 'MISMATCH'}); counted by the app: {stats['counted']}, "
          f"stored as counted: {counted} ({'equal' if counted == stats['counted'] else 'MISMATCH'}); "
          f"not counted (too fast): {stored.get(0, 0)}")


if __name__ == "__main__":
    main()
