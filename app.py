"""catgan demo: grow cats, edit them along latent directions, interpolate, take the real-vs-fake
quiz, and ask a judge whether they are cats.

    python app.py                              # serves on http://127.0.0.1:7860
    python app.py --real cat-faces-64.zip      # turns the quiz on (or set CATGAN_REAL)
    python app.py --weights DIR --quiz-db quiz.sqlite

The page and its wiring live here and in app_ui/; the work is done by the catgan package.
"""
import argparse
import ctypes
import ctypes.util
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

# Before gradio is imported: nothing phones home, and uploads/outputs go to our own temp folder (the
# one name it has; app_ui.common.BUDGET keeps it in budget and drops what is older than 15 minutes).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "catgan-gradio"))

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from app_ui import interpolate, quiz_tab, sample, score, your_cat  # noqa: E402
from app_ui.common import BUDGET, MAX_UPLOAD_MB, Settings, out_dir  # noqa: E402
from app_ui.gate import guard  # noqa: E402
from app_ui.guard import RequestLimits, scrub  # noqa: E402
from app_ui.model import Models  # noqa: E402
from app_ui.sources import find_sources  # noqa: E402
from catgan import (
    env,  # noqa: E402
    quiz,  # noqa: E402
)
from catgan.judges import DEFAULT_JUDGE, JUDGES  # noqa: E402
from catgan.quiz import sync as quiz_sync  # noqa: E402
from catgan.quiz.limits import Pace, QuizLimits  # noqa: E402
from catgan.quiz.session import Quiz  # noqa: E402

WEIGHTS = Path(__file__).resolve().parent / "weights"
# a phone (up to 640 px wide) sees the cats first, and the five short tab labels fit without a "…" menu
CSS = quiz_tab.CSS + """
@media (max-width: 640px) {
  .catgan-cats { order: -1; }
  .tab-container button { padding-left: 5px !important; padding-right: 5px !important;
                          font-size: 14px !important; }  /* the tabs, and the hidden copy that Gradio measures */
}"""


def build_demo(weights_root: Path = WEIGHTS, *, real_source: str | None = None, quiz_db: str | Path | None = None,
               real_limit: int | None = None, judge: str = DEFAULT_JUDGE, quiz_repo: str | None = None,
               quiz_limits: QuizLimits = QuizLimits()) -> gr.Blocks:
    """The whole app, built without touching global state. ``real_source``: a folder, zip or HF
    dataset id for the quiz (None: $CATGAN_REAL; "": none). ``quiz_db``: the SQLite file (None:
    $CATGAN_QUIZ_DB or the cache folder). ``quiz_repo``: a dataset repo that keeps the answers across
    restarts (None: $CATGAN_QUIZ_REPO; "": none). ``quiz_limits``: when an answer counts."""
    sources, sources_error = find_sources(Path(weights_root))
    real = env.value(env.REAL) if real_source is None else real_source
    settings = Settings(Path(weights_root), sources, sources_error, real or None, real_limit,
                        Path(quiz_db) if quiz_db else quiz.default_db_path(), judge)
    repo = env.value(env.QUIZ_REPO) if quiz_repo is None else quiz_repo
    store, notice = (quiz_sync.open_store(settings.quiz_db, repo, models=settings.sources) if settings.real_source
                     else (None, None))  # the statistics show only this app's models
    models = Models(settings)
    the_quiz = Quiz(settings.real_source, models.fake, store, Pace(quiz_limits), out_dir, settings.real_limit)
    with gr.Blocks(title="catgan", analytics_enabled=False) as demo:
        gr.Markdown("# 🐱 catgan\nCats grown by GANs trained on unlabeled cat faces, and a classifier that "
                    "judges them.")
        mine = gr.State(None, time_to_live=your_cat.KEEP_S)  # the visitor's own cat, once its twin is found
        with gr.Tabs() as tabs:
            with gr.Tab("Sample", id="sample"):
                controls = sample.build(models)
            with gr.Tab("Your cat", id="your-cat"):
                walk = your_cat.build(models, controls, mine)
            with gr.Tab("Interpolate", id="interpolate"):
                walker, start = interpolate.build(models, controls, mine)
            with gr.Tab("Quiz", id="quiz") as quiz_page:
                opened = quiz_tab.build(the_quiz, notice)
            with gr.Tab("Score", id="score"):
                followers = [walker, score.build(models, controls)]
        gr.Markdown(about(settings))
        demo.load(*controls.startup, api_visibility="private")
        walk.click(lambda: (gr.Tabs(selected="interpolate"), your_cat.YOURS), None, [tabs, start],
                   api_visibility="private")
        quiz_page.select(*opened, api_visibility="private")
        # the other tabs' model pickers follow the Sample tab's (in the browser) until changed there
        controls.model.change(None, controls.model, followers, js="(m) => [m, m]", api_visibility="private")

    async def warm_up():  # one of Gradio's start-up events: runs at launch, and must not hold it up
        threading.Thread(target=warm, args=(models, the_quiz), daemon=True, name="catgan-warm-up").start()

    demo.extra_startup_events.append(warm_up)
    return guard(demo)  # every call's inputs checked first, refusals logged in one line, no server paths


def warm(models: Models, the_quiz: Quiz) -> None:
    """Load every model and decode the quiz's photos, so that no visitor waits for either (a cold
    first quiz pair took 5.5 s)."""
    models.warm()
    if the_quiz.source:
        the_quiz.warm()


def about(settings: Settings) -> str:
    if settings.sources:
        models = ", ".join(f"`{s.name}` ({s.shown})" for s in settings.sources.values())
    else:
        models = "none yet (see the Sample tab)"
    text = f"**Weights:** {models}. **Judge:** `{settings.default_judge}` by default (pick another in the Score tab)."
    error = settings.sources_error
    return text + (f"  \n⚠️ {env.WEIGHTS} ignored: {scrub(error)}" if error else "")


def launch_options(host: str = "127.0.0.1", port: int | None = None) -> dict:
    """launch() arguments shared by `python app.py`, the tests and the benchmarks. Request bodies
    are bounded, and uploads make room in the temp folder's budget (app_ui.guard)."""
    return dict(server_name=host, server_port=port, max_file_size=f"{MAX_UPLOAD_MB}mb", allowed_paths=[],
                show_error=False, css=CSS,
                app_kwargs={"middleware": [Middleware(RequestLimits, budget=BUDGET)]})


def queued(demo: gr.Blocks) -> gr.Blocks:
    """Concurrency goes through the queue: two jobs at a time by default (two cores), per-event
    limits where an event is heavier or lighter, and a bounded backlog."""
    return demo.queue(default_concurrency_limit=2, max_size=256)


def few_malloc_arenas(n: int = 2) -> None:
    """glibc gives busy threads malloc arenas of their own (up to 8 per core), and memory freed in one
    stays there: with Gradio's 40 worker threads, RSS grew 870 MB in a 2-minute load test. Process-
    wide (like torch's threads), so only under __main__; a no-op where glibc's mallopt is missing."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(-8, n)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def stop(*_):
    """SIGTERM (how a Space stops the app) ends it like Ctrl-C, so atexit handlers run: the last
    push of quiz answers (catgan.quiz.sync). A second SIGTERM must not cut that push short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="folder of weights folders")
    parser.add_argument("--real", default=None, help=f"real photos for the quiz: folder, .zip or HF dataset id "
                                                     f"(default ${env.REAL})")
    parser.add_argument("--real-limit", type=int, default=None, help="use at most this many real photos (default: all)")
    parser.add_argument("--quiz-db", default=None, help=f"quiz answers (SQLite; default ${env.QUIZ_DB} or "
                                                        f"{quiz.default_db_path()})")
    parser.add_argument("--quiz-repo", default=None, help=f"dataset repo USER/REPO that keeps the answers across "
                                                          f"restarts (default ${env.QUIZ_REPO})")
    parser.add_argument("--judge", default=DEFAULT_JUDGE, choices=list(JUDGES))
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--torch-threads", type=int, default=1, help="1 keeps small forward passes fast on a "
                                                                      "busy 2-core machine")
    parser.add_argument("--temp-budget-mb", type=int, default=BUDGET.max_bytes // 2**20,
                        help="bytes the temp folder may hold (uploads and outputs; the oldest go first)")
    parser.add_argument("--temp-min-age-s", type=float, default=BUDGET.min_age_s,
                        help="temp files this young are never deleted; one visitor's may fill 1/4 of the budget")
    args = parser.parse_args()
    BUDGET.max_bytes, BUDGET.min_age_s = args.temp_budget_mb * 2**20, args.temp_min_age_s
    torch.set_num_threads(args.torch_threads)  # process-wide, so only here and never in build_demo
    few_malloc_arenas()
    demo = build_demo(args.weights, real_source=args.real, quiz_db=args.quiz_db, real_limit=args.real_limit,
                      judge=args.judge, quiz_repo=args.quiz_repo)
    signal.signal(signal.SIGTERM, stop)
    queued(demo).launch(**launch_options(args.host, args.port))
