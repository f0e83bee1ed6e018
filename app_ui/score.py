"""Score tab: ask a judge whether an image is a cat; a batch like Table 1 of the poster (the student
study this project reproduces); all judges side by side."""
from __future__ import annotations

import functools
import threading
import warnings
from collections import OrderedDict

import gradio as gr
import torch

from catgan import quiz
from catgan.eval.metrics import cat_rate
from catgan.images import to_pil
from catgan.judges import JUDGES, JudgeUnavailable, load_judge
from catgan.judges.cam import explain, overlay, watch

from .common import to_png, upload_image
from .guard import bounded, fail, heavy, scrub, short
from .model import Models, generate
from .sample import SampleControls, model_picker

MAX_BATCH = 256
BATCH_STEP = 8  # the batch slider's values: 8, 16, ..., 256
CHUNK = 8  # a batch is generated and scored this many images at a time: bounded memory
JUDGE_SLOTS = 2  # /score and /compare calls at a time (two cores); a batch has a slot of its own
MAX_TABLES = 64  # batch results kept (by model, n, seed, judge)
MIN_MAP_SIDE = 256  # a 64 px cat's map is shown at least this big


@functools.lru_cache(maxsize=8)
def _judge(name: str):
    """(judge, notice): loaded once per name and shared by all users. Its maps' hooks are set here,
    before anyone else can use it, so scores, maps and batches run side by side (catgan.judges.cam)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        judge = load_judge(name)
    watch(judge.model)
    notice = "; ".join(str(w.message) for w in caught if "judge" in str(w.message)) or None
    return judge, notice


def get_judge(name: str):
    if name not in JUDGES:
        raise fail(f"Unknown judge {short(name)!r}; choose one of {', '.join(JUDGES)}.")
    try:
        return _judge(name)
    except (JudgeUnavailable, OSError, ValueError) as e:
        raise fail(f"The judge {name} is not available here: {short(e, 300)}") from None


def verdict_of(v) -> str:
    """A verdict in a word or two: ImageNet's lions and tigers are big cats, never cats."""
    return "cat" if v.is_cat else ("big cat" if v.is_big_cat else "not a cat")


def top1(v) -> str:
    return f"{v.top5[0][0]} ({v.top5[0][1]:.2f})"


def judge_line(judge, notice) -> str:
    line = f"Judge **{judge.name}**, weights: {scrub(judge.weights)}"
    return line + (f"  \n⚠️ {scrub(notice)}" if notice else "")


NO_IMAGE = "Upload an image first, or send the current sample from the Sample tab."


def score_image(image, judge: str):
    if image is None:
        raise fail(NO_IMAGE)
    scorer, notice = get_judge(judge)
    v, (picture, _) = where_it_looks(scorer, image)
    verdict = "**a cat** 🐱" if v.is_cat else ("**a big cat**, not a house cat" if v.is_big_cat else "**not a cat**")
    text = f"P(cat) = **{v.p_cat:.3f}**: the judge says this is {verdict}.  \n" + judge_line(scorer, notice)
    return {label: p for label, p in v.top5}, text, picture


def where_it_looks(judge, image) -> tuple:
    """(verdict, (picture, caption)): the judge's verdict and its Grad-CAM for its top class over the
    image, at least 256 px, from one pass through the judge. The picture is a PNG file of its own
    (common.to_png): Gradio rewrites a returned PIL image's cache file in place, so two visitors
    scoring the same image could cut each other's download short."""
    v, m = explain(judge, image)
    picture = overlay(image, m.heat)
    if min(picture.size) < MIN_MAP_SIDE:
        scale = MIN_MAP_SIDE / min(picture.size)
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    return v, (to_png(picture), f"{judge.name}: {m.label} ({m.prob:.2f})")


_TABLES: OrderedDict[tuple, list] = OrderedDict()
_TABLES_LOCK = threading.Lock()
BATCH_SIZES = f"a whole number from {BATCH_STEP} to {MAX_BATCH} in steps of {BATCH_STEP}"


def batch_table(models: Models, model, judge: str, n, seed: int = 0):
    if isinstance(n, bool) or not isinstance(n, int) or not BATCH_STEP <= n <= MAX_BATCH or n % BATCH_STEP:
        raise fail(f"Images per row: send {BATCH_SIZES}.")
    settings = models.settings
    key_model, _ = models.load(model)
    scorer, notice = get_judge(judge)
    key = (key_model, n, seed, scorer.name, scorer.weights, settings.real_source)
    with _TABLES_LOCK:  # cached: the same question always gets the same answer, computed once
        if key not in _TABLES:
            loaded, z = models.latents(model, seed, 1.0, None, n)
            rows = [_row(f"generated: {model}", scored(scorer, lambda a, b: generate(loaded.generator, z[a:b]), n))]
            if settings.real_source:
                try:
                    photos = quiz.real_photos(settings.real_source, 64, settings.real_limit)
                except quiz.QuizError as e:
                    raise fail(e) from None
                pick = torch.randperm(len(photos), generator=torch.Generator().manual_seed(seed))[:n]
                rows.insert(0, _row("real photos", scored(scorer, lambda a, b: photos[pick[a:b]], len(pick))))
            _TABLES[key] = rows
            while len(_TABLES) > MAX_TABLES:
                _TABLES.popitem(last=False)
        _TABLES.move_to_end(key)
        rows = _TABLES[key]
    note = (f"{n} generated images (seeds {seed}..{seed + n - 1} of one batch) and {n} real photos, scored by "
            if settings.real_source else f"{n} generated images scored by ") + judge_line(scorer, notice)
    if not settings.real_source:
        note += "  \nNo real-photo source is configured, so there is no real row. " + quiz.HOW_TO_ADD
    return rows, note


def scored(scorer, images, n: int) -> list:
    """Verdicts on ``images(a, b)`` for a, b in chunks of CHUNK up to ``n``: bounded memory."""
    verdicts = []
    for a in range(0, n, CHUNK):
        verdicts += scorer.score(images(a, min(n, a + CHUNK)), batch_size=CHUNK)
    return verdicts


def _row(name: str, verdicts) -> list:
    r = cat_rate([v.is_cat for v in verdicts], [v.p_cat for v in verdicts])
    big = sum(v.is_big_cat for v in verdicts) / len(verdicts)
    return [name, r["n"], f"{100 * r['cat_rate']:.1f} %", f"{100 * r['ci95'][0]:.1f}–{100 * r['ci95'][1]:.1f} %",
            round(r["mean_p_cat"], 3), f"{100 * big:.1f} %"]


def compare(image):
    if image is None:
        raise fail(NO_IMAGE)
    rows, maps = [], []
    for name in JUDGES:
        try:
            judge, notice = _judge(name)
        except (JudgeUnavailable, OSError, ValueError) as e:
            rows.append([name, "unavailable", "", "", short(scrub(str(e)), 160)])
            continue
        if judge.name != name:  # it fell back to another judge, which has its own row
            rows.append([name, "unavailable", "", "", f"uses {judge.name} instead"])
            continue
        v, picture = where_it_looks(judge, image)
        maps.append(picture)
        rows.append([name, verdict_of(v), round(v.p_cat, 3), top1(v), scrub(judge.weights)])
    return rows, maps


def build(models: Models, sample: SampleControls) -> gr.Dropdown:
    """The tab; returns the batch's model picker (it follows the Sample tab's until changed)."""
    gr.Markdown("Ask a pretrained classifier whether an image is a cat (ImageNet classes 281–285; lions and "
                "tigers count as big cats, not cats).")
    with gr.Row():
        with gr.Column(scale=1):
            image = upload_image(label="Image (PNG, JPEG, WebP, GIF, BMP, TIFF; up to 10 MB)", type="pil",
                                sources=["upload", "clipboard"], height=260)
            send = gr.Button("Use the current sample (Sample tab, first cat)")
            judge = bounded(gr.Dropdown(list(JUDGES), value=models.settings.default_judge, label="Judge"))
            go = gr.Button("Score", variant="primary")
        with gr.Column(scale=1):
            top5 = gr.Label(num_top_classes=5, label="Top-5")
            verdict = gr.Markdown(label="Verdict")
        with gr.Column(scale=1):
            where = gr.Image(label="Where the judge looks (Grad-CAM of its top class)", type="filepath", format="png",
                             interactive=False, height=260)

    def use_sample(model, seed, truncation, **pcs):  # its argument names are the API's parameter names
        return to_pil(models.images(model, seed, truncation, pcs)[1])[0]

    send.click(use_sample, [sample.model, sample.seed, sample.truncation], image, inputs_kwargs=sample.pcs(),
               api_name="send_sample")
    go.click(score_image, [image, judge], [top5, verdict, where], api_name="score", concurrency_id="judge",
             concurrency_limit=JUDGE_SLOTS)
    with gr.Accordion("Compare: the same image, every judge", open=False):
        cmp_go = gr.Button("Compare judges")
        cmp_table = gr.Dataframe(headers=["judge", "verdict", "P(cat)", "top-1", "weights"], interactive=False,
                                 wrap=True, label="Judges", show_label=False)
        cmp_maps = gr.Gallery(label="Where each judge looks", columns=4, height=300, format="png")
    cmp_go.click(compare, image, [cmp_table, cmp_maps], api_name="compare", concurrency_id="judge")
    with gr.Accordion("Batch: generated vs real, like Table 1 of the poster this project reproduces", open=False):
        with gr.Row():
            model = model_picker(models, label="Model (starts as the Sample tab's)")
            n = gr.Slider(BATCH_STEP, MAX_BATCH, value=64, step=BATCH_STEP, label="Images per row (N)")
            batch_go = gr.Button("Score a batch")
        table = gr.Dataframe(headers=["images", "n", "cat-rate", "95 % CI", "mean P(cat)", "big-cat rate"],
                             interactive=False, label="Cat-rates", show_label=False)
        note = gr.Markdown(label="Note")
    batch_go.click(heavy(functools.partial(batch_table, models)), [model, judge, n], [table, note],
                   api_name="batch", concurrency_id="batch", concurrency_limit=1)  # its own slot: /score stays quick
    return model
