"""Sample tab: a seeded grid of cats, truncation, and GANSpace sliders that edit it live.

Slider ``.change`` (trigger_mode="always_last", no progress spinner) renders just the image while
the slider moves, so a drag never queues up stale frames; ``.release`` renders once more and
writes the caption that says which directions were moved. The sample controls themselves are
the per-user "current sample" that the Interpolate and Score tabs read.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import gradio as gr

from catgan import hub, latent

from .common import NO_WEIGHTS, Settings, describe, generate, load_model, to_png, upscale_grid
from .guard import MAX_SEED, bounded

N_SLIDERS = 8
MAX_CATS = 64
SLIDER_RANGE = 5.0  # prior standard deviations
PCS = [f"pc{i + 1}" for i in range(N_SLIDERS)]  # the sliders' names in the API


def model_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, name) per model; the best-looking first (DCGAN before GAN, 64 px before 32 px),
    Hub entries whose config isn't local yet last."""
    out = []
    for name, src in settings.sources.items():
        try:
            c = hub.read_model_config(src.source)
            what = f"{c.arch.upper()} {c.img_size} px, {src.shown}"
            rank = (c.arch != "dcgan", -c.img_size)
        except (OSError, ValueError):
            what = f"Hub {src.where}"
            rank = (True, 0)
        out.append((rank, (f"{name} ({what})", name)))
    return [choice for _, choice in sorted(out, key=lambda item: (item[0], item[1][1]))]


@dataclass
class SampleControls:
    model: gr.Dropdown
    seed: gr.Number
    n: gr.Slider
    truncation: gr.Slider
    resampling: gr.Radio
    zoom: gr.Slider
    sliders: list
    image: gr.Image
    info: gr.Markdown

    def pcs(self) -> dict:
        """The direction sliders as keyword inputs (``inputs_kwargs``): the API names them pc1..pc8."""
        return dict(zip(PCS, self.sliders))


def amounts_of(pcs: dict) -> list[float]:
    """pc1..pc8 keyword values -> amounts in slider order (a missing one is 0)."""
    return [float(pcs.get(name) or 0) for name in PCS]


def current_latents(settings: Settings, model, seed, truncation, amounts=(), n: int = 1):
    """(generator, loaded, z) for the sample controls' values; ``amounts`` per direction."""
    key, loaded = load_model(settings, model)
    g = loaded.generator
    z = latent.latents(g.config.z_dim, n, int(seed or 0), float(truncation))
    if any(amounts):
        z = latent.cached_directions(key, g, N_SLIDERS).apply(z, amounts)
    return g, loaded, z


def render(settings: Settings, model, seed, n, truncation, resampling, zoom, amounts=()) -> str:
    n = int(min(max(n or 1, 1), MAX_CATS))
    g, _, z = current_latents(settings, model, seed, truncation, amounts, n=n)
    return to_png(upscale_grid(generate(g, z), g.config.img_size * int(zoom), resampling))


def caption(settings: Settings, model, seed, n, truncation, amounts=()) -> str:
    _, loaded = load_model(settings, model)
    moved = ", ".join(f"PC{i + 1} {a:+.1f}" for i, a in enumerate(amounts) if a)
    return (describe(model, loaded) + f"  \nseed {int(seed or 0)}, {int(n)} cats, truncation ψ={truncation:g}"
            + (f"; moved along {moved}" if moved else ""))


def slider_updates(settings: Settings, model) -> list:
    """The sliders relabelled for ``model``'s directions (computed once per model) and set to 0."""
    key, loaded = load_model(settings, model)
    d = latent.cached_directions(key, loaded.generator, N_SLIDERS)
    labels = d.labels()
    return [gr.update(value=0, label=labels[i], interactive=True) if i < len(labels)
            else gr.update(value=0, label=f"PC{i + 1} (not available for this model)", interactive=False)
            for i in range(N_SLIDERS)]


def build(settings: Settings) -> SampleControls:
    choices = model_choices(settings)
    first = choices[0][1] if choices else None
    gr.Markdown("Pick a model and a seed. The sliders move every cat along the generator's principal "
                "directions (GANSpace: PCA of its first-layer features), largest first.")
    if not choices:
        gr.Markdown("⚠️ " + NO_WEIGHTS)
    with gr.Row():
        model = bounded(gr.Dropdown(choices, value=first, allow_custom_value=True, scale=3,
                                    label="Model (weights/ or a Hub repo id USER/REPO[@REVISION])"))
        seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED, scale=1)
        new = gr.Button("New cats", variant="primary", scale=1)
    with gr.Row():
        n = gr.Slider(1, MAX_CATS, value=16, step=1, label="Grid size (cats)")
        truncation = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation ψ (1 = none, smaller = more typical)")
        resampling = bounded(gr.Radio(["nearest", "bicubic"], value="nearest", label="Upscaling"))
        zoom = gr.Slider(1, 8, value=3, step=1, label="Zoom (×)")
    with gr.Row():
        with gr.Column(scale=3):
            image = gr.Image(label="Cats", format="png", type="filepath", interactive=False, show_label=False,
                             buttons=["download"])
            info = gr.Markdown(label="Caption")  # Markdown labels are not shown; they name outputs in the API
        with gr.Column(scale=2):
            sliders = [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0, step=0.1, label=f"PC{i + 1}")
                       for i in range(N_SLIDERS)]
            reset = gr.Button("Reset sliders")
    c = SampleControls(model, seed, n, truncation, resampling, zoom, sliders, image, info)

    # The handlers' argument names are the API's parameter names (see README, "Use it from Python").
    def slide(model, seed, n, truncation, resampling, zoom, **pcs):
        return render(settings, model, seed, n, truncation, resampling, zoom, amounts_of(pcs))

    def sample(model, seed, n, truncation, resampling, zoom, **pcs):
        amounts = amounts_of(pcs)
        return (render(settings, model, seed, n, truncation, resampling, zoom, amounts),
                caption(settings, model, seed, n, truncation, amounts))

    def new_cats(model, n, truncation, resampling, zoom, **pcs):
        seed = secrets.randbelow(2**31)
        return (seed, *sample(model, seed, n, truncation, resampling, zoom, **pcs))

    def select_model(model, seed, n, truncation, resampling, zoom):
        return (*slider_updates(settings, model), *sample(model, seed, n, truncation, resampling, zoom))

    grid = [model, seed, n, truncation, resampling, zoom]
    shown = [image, info]
    pcs = c.pcs()
    new.click(new_cats, [model, n, truncation, resampling, zoom], [seed, *shown], inputs_kwargs=pcs,
              api_name="new_cats")
    gr.on([seed.submit, n.release, truncation.release, resampling.change, zoom.release], sample, grid, shown,
          inputs_kwargs=pcs, api_name="sample", trigger_mode="always_last")
    # a new model (or "Reset sliders"): its directions label the sliders, which go back to 0
    gr.on([model.change, reset.click], select_model, grid, [*sliders, *shown], api_name="select_model")
    # live: while dragging, only the image, and only the latest value (stale ones are dropped)
    gr.on([s.change for s in sliders], slide, grid, image, inputs_kwargs=pcs, api_name="slide",
          show_progress="hidden", trigger_mode="always_last", concurrency_id="slide", concurrency_limit=2)
    # settled: the same picture plus the caption naming the moved directions (the API has it as /sample)
    gr.on([s.release for s in sliders], sample, grid, shown, inputs_kwargs=pcs, api_visibility="private",
          show_progress="hidden", trigger_mode="always_last", concurrency_id="slide", concurrency_limit=2)
    return c


def startup(settings: Settings, c: SampleControls):
    """(fn, inputs, outputs) for demo.load: label the sliders and draw the first grid."""
    def first(model, seed, n, truncation, resampling, zoom):
        if not model:
            return (*[gr.update() for _ in range(N_SLIDERS)], None, "")
        try:
            return (*slider_updates(settings, model),
                    render(settings, model, seed, n, truncation, resampling, zoom),
                    caption(settings, model, seed, n, truncation))
        except gr.Error as e:
            return (*[gr.update() for _ in range(N_SLIDERS)], None, f"⚠️ {e.message}")

    return first, [c.model, c.seed, c.n, c.truncation, c.resampling, c.zoom], [*c.sliders, c.image, c.info]
