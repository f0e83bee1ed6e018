"""Score tab: ask a judge whether an image is a cat; a batch like Table 1 of the poster (the student
study this project reproduces); all judges side by side."""
from __future__ import annotations

import functools
import threading
import warnings

import gradio as gr
import torch

from catgan import quiz
from catgan.eval.metrics import cat_rate
from catgan.images import to_pil
from catgan.judges import JUDGES, JudgeUnavailable, load_judge
from catgan.judges.cam import judge_map, overlay

from .common import upload_image
from .guard import bounded, fail, scrub, short
from .model import Models
from .sample import SampleControls, model_picker

MAX_BATCH = 256
MIN_MAP_SIDE = 256  # a 64 px cat's map is shown at least this big


@functools.lru_cache(maxsize=8)
def _judge(name: str):
    """(judge, notice): loaded once per name; read-only afterwards, so shared by all users."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        judge = load_judge(name)
    notice = "; ".join(str(w.message) for w in caught if "judge" in str(w.message)) or None
    return judge, notice


def get_judge(name: str):
    if name not in JUDGES:
        raise fail(f"Unknown judge {short(name)!r}; choose one of {', '.join(JUDGES)}.")
    try:
        return _judge(name)
    except (JudgeUnavailable, OSError, ValueError) as e:
        raise fail(f"The judge {name} is not available here: {short(e, 300)}") from None


def judge_line(judge, notice) -> str:
    line = f"Judge **{judge.name}**, weights: {scrub(judge.weights)}"
    return line + (f"  \n⚠️ {scrub(notice)}" if notice else "")


NO_IMAGE = "Upload an image first, or send the current sample from the Sample tab."


def score_image(image, judge: str):
    if image is None:
        raise fail(NO_IMAGE)
    scorer, notice = get_judge(judge)
    v = scorer.score([image])[0]
    verdict = "**a cat** 🐱" if v.is_cat else ("**a big cat**, not a house cat" if v.is_big_cat else "**not a cat**")
    text = f"P(cat) = **{v.p_cat:.3f}**: the judge says this is {verdict}.  \n" + judge_line(scorer, notice)
    return {label: p for label, p in v.top5}, text, where_it_looks(scorer, image)[0]


def where_it_looks(judge, image) -> tuple:
    """(picture, caption): the judge's Grad-CAM for its top class over the image, at least 256 px."""
    m = judge_map(judge, image)
    picture = overlay(image, m.heat)
    if min(picture.size) < MIN_MAP_SIDE:
        scale = MIN_MAP_SIDE / min(picture.size)
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    return picture, f"{judge.name}: {m.label} ({m.prob:.2f})"


_TABLES: dict[tuple, tuple] = {}
_TABLES_LOCK = threading.Lock()


def batch_table(models: Models, model, judge: str, n):
    n, settings = int(n), models.settings
    if not 1 <= n <= MAX_BATCH:
        raise fail(f"Batch size must be between 1 and {MAX_BATCH}.")
    key_model, _ = models.load(model)
    scorer, notice = get_judge(judge)
    key = (key_model, scorer.name, scorer.weights, n, settings.real_source)
    with _TABLES_LOCK:  # cached: the same question always gets the same answer, computed once
        if key not in _TABLES:
            rows = [_row(f"generated: {model}", scorer.score(models.images(model, 0, n=n)[1]))]
            if settings.real_source:
                try:
                    photos = quiz.real_photos(settings.real_source, 64, settings.real_limit)
                except quiz.QuizError as e:
                    raise fail(e) from None
                pick = torch.randperm(len(photos), generator=torch.Generator().manual_seed(0))[:n]
                rows.insert(0, _row("real photos", scorer.score(photos[pick])))
            _TABLES[key] = rows
        rows = _TABLES[key]
    note = (f"{n} generated images (seeds 0..{n - 1} of one batch) and {n} real photos, scored by "
            if settings.real_source else f"{n} generated images scored by ") + judge_line(scorer, notice)
    if not settings.real_source:
        note += "  \nNo real-photo source is configured, so there is no real row. " + quiz.HOW_TO_ADD
    return rows, note


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
        v = judge.score([image])[0]
        top = f"{v.top5[0][0]} ({v.top5[0][1]:.2f})"
        rows.append([name, "cat" if v.is_cat else "not a cat", round(v.p_cat, 3), top, scrub(judge.weights)])
        maps.append(where_it_looks(judge, image))
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
            where = gr.Image(label="Where the judge looks (Grad-CAM of its top class)", type="pil", format="png",
                             interactive=False, height=260)

    def use_sample(model, seed, truncation, **pcs):  # its argument names are the API's parameter names
        return to_pil(models.images(model, seed, truncation, pcs)[1])[0]

    send.click(use_sample, [sample.model, sample.seed, sample.truncation], image, inputs_kwargs=sample.pcs(),
               api_name="send_sample")
    go.click(score_image, [image, judge], [top5, verdict, where], api_name="score", concurrency_id="judge",
             concurrency_limit=1)
    with gr.Accordion("Compare: the same image, every judge", open=False):
        cmp_go = gr.Button("Compare judges")
        cmp_table = gr.Dataframe(headers=["judge", "verdict", "P(cat)", "top-1", "weights"], interactive=False,
                                 wrap=True, label="Judges", show_label=False)
        cmp_maps = gr.Gallery(label="Where each judge looks", columns=4, height=300, format="png")
    cmp_go.click(compare, image, [cmp_table, cmp_maps], api_name="compare", concurrency_id="judge")
    with gr.Accordion("Batch: generated vs real, like Table 1 of the poster this project reproduces", open=False):
        with gr.Row():
            model = model_picker(models, label="Model (starts as the Sample tab's)")
            n = gr.Slider(8, MAX_BATCH, value=64, step=8, label="Images per row (N)")
            batch_go = gr.Button("Score a batch")
        table = gr.Dataframe(headers=["images", "n", "cat-rate", "95 % CI", "mean P(cat)", "big-cat rate"],
                             interactive=False, label="Cat-rates", show_label=False)
        note = gr.Markdown(label="Note")
    batch_go.click(functools.partial(batch_table, models), [model, judge, n], [table, note],
                   api_name="batch", concurrency_id="judge")
    return model
