"""Interpolate tab: walk the latent space between two cats; MP4, GIF and a strip of frames."""
from __future__ import annotations

import gradio as gr
import torch

from catgan import latent
from catgan.images import save_gif, to_pil, write_mp4

from .common import out_dir, to_png
from .guard import MAX_SEED, bounded, fail, heavy, short
from .model import RESAMPLING, Models, generate, shown_location, upscale_grid
from .sample import SampleControls, model_picker
from .your_cat import YOURS, YourCat

MAX_FRAMES = 120
STRIP = 12  # frames shown in the strip


START, END = ("seed", "current sample", YOURS), ("seed", YOURS)


def interpolate(models: Models, start, seed_a, seed_b, method, frames, fps, mode, resampling,
                model, sample_seed, truncation, pcs: dict | None = None, end: str = "seed",
                mine: YourCat | None = None):
    frames, fps = int(frames), float(fps)
    if not 2 <= frames <= MAX_FRAMES:
        raise fail(f"Frames must be between 2 and {MAX_FRAMES}.")
    if not 1 <= fps <= 60:
        raise fail("Frames per second must be between 1 and 60.")
    if method not in latent.METHODS or mode not in latent.MODES or resampling not in RESAMPLING:
        raise fail("Unknown interpolation method, mode or upscaling.")
    if start not in START or end not in END:
        raise fail(f"Start from one of {', '.join(START)}; end at one of {', '.join(END)}.")
    if YOURS in (start, end):  # your cat's twin lives in one model: the walk uses it
        if mine is None:
            raise fail(f"Find your cat's twin in the {YOURS.capitalize()} tab first.")
        model = mine.model
    current = start == "current sample"  # the first cat of the Sample tab, sliders included
    if start == YOURS:
        loaded, z_a = models.load(model)[1], mine.moved
    else:
        loaded, z_a = models.latents(model, sample_seed if current else seed_a, truncation, pcs if current else None)
    g = loaded.generator
    z_b = mine.moved if end == YOURS else models.latents(model, seed_b, truncation)[1]
    z = latent.path(z_a, z_b, frames, method=method, mode=mode)
    if YOURS in (start, end):  # the twin's tuned tail, blended away toward the other end
        t = latent.schedule(frames, mode)
        x = mine.draw(models, z, 1.0 if start == end else 1 - t if start == YOURS else t)
    else:
        x = generate(g, z)  # (T, 3, S, S)
    size = g.config.img_size
    scale = max(1, 256 // size)
    big = [im.resize((size * scale, size * scale), RESAMPLING[resampling]) for im in to_pil(x)]
    folder = out_dir(len(big) * big[0].width * big[0].height)  # MP4 + GIF: about a byte per pixel at most
    mp4 = write_mp4(big, folder / "interpolation.mp4", fps)
    gif = folder / "interpolation.gif"
    save_gif(big, gif, duration_ms=max(20, round(1000 / fps)), loop=0)
    picks = torch.linspace(0, len(x) - 1, min(STRIP, len(x))).round().long()
    strip = upscale_grid(x[picks], size * 2, resampling, nrow=len(picks))
    what = {"current sample": "the current sample", YOURS: YOURS}.get(start, f"seed {int(seed_a or 0)}")
    to = YOURS if end == YOURS else f"seed {int(seed_b or 0)}"
    info = (f"{len(x)} frames ({method}, {mode}) from {what} to {to} at {fps:g} fps; "
            f"model {short(model)} (weights `{shown_location(loaded)}`)")
    return str(mp4), str(gif), to_png(strip), [str(mp4), str(gif)], info  # a file of its own: see score.where_it_looks


def build(models: Models, sample: SampleControls, mine: gr.State) -> tuple[gr.Dropdown, gr.Radio]:
    """The tab; ``mine`` is the visitor's YourCat (app_ui.your_cat). Returns its model picker (it follows
    the Sample tab's until changed) and its start choice (the Your cat tab sets it)."""
    gr.Markdown("Walk from one cat to another through the latent space. Slerp follows the sphere where "
                "Gaussian latents live; lerp takes the straight line (and passes closer to the mean cat).")
    with gr.Row():
        model = model_picker(models, label="Model (starts as the Sample tab's)", scale=2)
        start = bounded(gr.Radio(list(START), value="seed", label="Start from"))
        seed_a = gr.Number(0, precision=0, label="Start seed", minimum=0, maximum=MAX_SEED)
        end = bounded(gr.Radio(list(END), value="seed", label="End at"))
        seed_b = gr.Number(1, precision=0, label="End seed", minimum=0, maximum=MAX_SEED)
    with gr.Row():
        method = bounded(gr.Radio(list(latent.METHODS), value="slerp", label="Path"))
        frames = gr.Slider(2, MAX_FRAMES, value=48, step=1, label="Frames")
        fps = gr.Slider(1, 60, value=24, step=1, label="Frames per second")
        mode = bounded(gr.Radio(list(latent.MODES), value="ping-pong", label="Playback"))
        go = gr.Button("Interpolate", variant="primary")
    with gr.Row():
        video = gr.Video(label="MP4", format="mp4", autoplay=True, loop=True, interactive=False, height=300)
        gif = gr.Image(label="Animated GIF", type="filepath", interactive=False, height=300)
    strip = gr.Image(label="Frames", type="filepath", format="png", interactive=False)
    files = gr.File(label="Downloads (MP4 and GIF)", file_count="multiple", interactive=False)
    info = gr.Markdown(label="About")

    # the argument names are the API's parameter names; sample_seed, truncation and pc1..pc8 are the
    # Sample tab's (with d1..d6), used when start == "current sample"; mine (your cat) is no parameter
    @heavy
    def run(start, seed_a, seed_b, method, frames, fps, mode, resampling, model, sample_seed, truncation, mine,
            end="seed", **pcs):
        return interpolate(models, start, seed_a, seed_b, method, frames, fps, mode, resampling, model,
                           sample_seed, truncation, pcs, end, mine)

    go.click(run, [start, seed_a, seed_b, method, frames, fps, mode, sample.resampling,
                   model, sample.seed, sample.truncation, mine], [video, gif, strip, files, info],
             inputs_kwargs={"end": end, **sample.pcs()}, api_name="interpolate", concurrency_limit=1)
    return model, start
