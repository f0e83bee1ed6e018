"""Sample tab: a seeded grid of cats, truncation, and sliders that edit it live: the model's named
directions first (catgan.latent.directions: "dark ↔ light fur", "Siamese ↔", ...), and the GANSpace
principal directions in a folded section (open when a model has no named directions).

Slider ``.change`` (trigger_mode="always_last", no progress spinner) renders just the image while
the slider moves, so a drag never queues up stale frames; ``.release`` renders once more and
writes the caption that says which directions were moved. The sample controls themselves are
the per-user "current sample" that the Interpolate and Score tabs read.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import gradio as gr

from catgan import latent
from catgan.hub import loader as hub
from catgan.latent.directions import load_directions

from .common import NO_WEIGHTS, Settings, describe, generate, load_model, to_png, upscale_grid
from .guard import MAX_SEED, bounded

N_SLIDERS = 8
N_NAMED = 6
MAX_CATS = 64
SLIDER_RANGE = 5.0  # prior standard deviations
PCS = [f"pc{i + 1}" for i in range(N_SLIDERS)]  # the sliders' names in the API
NAMED = [f"d{i + 1}" for i in range(N_NAMED)]  # the named directions' sliders, in the model's order


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
    sliders: list  # the PCA sliders
    named: list  # the named-direction sliders
    folded: gr.Accordion
    image: gr.Image
    info: gr.Markdown

    def pcs(self) -> dict:
        """Every direction slider as a keyword input (``inputs_kwargs``): the API names them d1..d6
        (the model's named directions) and pc1..pc8 (its principal directions)."""
        return {**dict(zip(NAMED, self.named)), **dict(zip(PCS, self.sliders))}


def amounts_of(pcs: dict, names=PCS) -> list[float]:
    """Keyword slider values -> amounts in slider order (a missing one is 0)."""
    return [float(pcs.get(name) or 0) for name in names]


def named_directions(loaded: hub.Loaded):
    """The named directions shipped with a model (None for a model without them)."""
    return load_directions(loaded.folder)


def current_latents(settings: Settings, model, seed, truncation, pcs: dict | None = None, n: int = 1):
    """(generator, loaded, z) for the sample controls' values; ``pcs`` the sliders' keyword values."""
    key, loaded = load_model(settings, model)
    g = loaded.generator
    z = latent.latents(g.config.z_dim, n, int(seed or 0), float(truncation))
    pca, named = amounts_of(pcs or {}), amounts_of(pcs or {}, NAMED)
    if any(pca):
        z = latent.cached_directions(key, g, N_SLIDERS).apply(z, pca)
    if any(named) and (directions := named_directions(loaded)) is not None:
        z = directions.apply(z, named)
    return g, loaded, z


def render(settings: Settings, model, seed, n, truncation, resampling, zoom, pcs: dict | None = None) -> str:
    n = int(min(max(n or 1, 1), MAX_CATS))
    g, _, z = current_latents(settings, model, seed, truncation, pcs, n=n)
    return to_png(upscale_grid(generate(g, z), g.config.img_size * int(zoom), resampling))


def caption(settings: Settings, model, seed, n, truncation, pcs: dict | None = None) -> str:
    _, loaded = load_model(settings, model)
    named = named_directions(loaded)
    labels = (named.labels() if named else []) + [f"PC{i + 1}" for i in range(N_SLIDERS)]
    amounts = (amounts_of(pcs or {}, NAMED)[:len(named)] if named else []) + amounts_of(pcs or {})
    moved = ", ".join(f"{label} {a:+.1f}" for label, a in zip(labels, amounts) if a)
    return (describe(model, loaded) + f"  \nseed {int(seed or 0)}, {int(n)} cats, truncation ψ={truncation:g}"
            + (f"; moved along {moved}" if moved else ""))


def slider_updates(settings: Settings, model) -> list:
    """Every slider relabelled for ``model`` and set to 0: its named directions (hidden when it has
    none), then its principal directions (computed once per model), then the folded section."""
    key, loaded = load_model(settings, model)
    named = named_directions(loaded)
    names = named.labels() if named else []
    labels = latent.cached_directions(key, loaded.generator, N_SLIDERS).labels()
    return ([gr.update(value=0, label=names[i], visible=True) if i < len(names) else gr.update(value=0, visible=False)
             for i in range(N_NAMED)]
            + [gr.update(value=0, label=labels[i], interactive=True) if i < len(labels)
               else gr.update(value=0, label=f"PC{i + 1} (not available for this model)", interactive=False)
               for i in range(N_SLIDERS)]
            + [gr.update(open=not names)])


def build(settings: Settings) -> SampleControls:
    choices = model_choices(settings)
    first = choices[0][1] if choices else None
    gr.Markdown("Pick a model and a seed. The sliders move every cat along the model's named directions "
                "(found without labels: a pretrained judge names them), and, folded below, its principal "
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
            named = [gr.Slider(-3, 3, value=0, step=0.1, label=f"direction {i + 1}", visible=False)
                     for i in range(N_NAMED)]
            with gr.Accordion("Principal directions (GANSpace)", open=False) as folded:
                sliders = [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0, step=0.1, label=f"PC{i + 1}")
                           for i in range(N_SLIDERS)]
            reset = gr.Button("Reset sliders")
    c = SampleControls(model, seed, n, truncation, resampling, zoom, sliders, named, folded, image, info)

    # The handlers' argument names are the API's parameter names (see README, "Use it from Python").
    def slide(model, seed, n, truncation, resampling, zoom, **pcs):
        return render(settings, model, seed, n, truncation, resampling, zoom, pcs)

    def sample(model, seed, n, truncation, resampling, zoom, **pcs):
        return (render(settings, model, seed, n, truncation, resampling, zoom, pcs),
                caption(settings, model, seed, n, truncation, pcs))

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
    gr.on([model.change, reset.click], select_model, grid, [*named, *sliders, folded, *shown],
          api_name="select_model")
    # live: while dragging, only the image, and only the latest value (stale ones are dropped)
    gr.on([s.change for s in [*named, *sliders]], slide, grid, image, inputs_kwargs=pcs, api_name="slide",
          show_progress="hidden", trigger_mode="always_last", concurrency_id="slide", concurrency_limit=2)
    # settled: the same picture plus the caption naming the moved directions (the API has it as /sample)
    gr.on([s.release for s in [*named, *sliders]], sample, grid, shown, inputs_kwargs=pcs, api_visibility="private",
          show_progress="hidden", trigger_mode="always_last", concurrency_id="slide", concurrency_limit=2)
    return c


def startup(settings: Settings, c: SampleControls):
    """(fn, inputs, outputs) for demo.load: label the sliders and draw the first grid."""
    n_updates = N_NAMED + N_SLIDERS + 1

    def first(model, seed, n, truncation, resampling, zoom):
        if not model:
            return (*[gr.update() for _ in range(n_updates)], None, "")
        try:
            return (*slider_updates(settings, model),
                    render(settings, model, seed, n, truncation, resampling, zoom),
                    caption(settings, model, seed, n, truncation))
        except gr.Error as e:
            return (*[gr.update() for _ in range(n_updates)], None, f"⚠️ {e.message}")

    return first, [c.model, c.seed, c.n, c.truncation, c.resampling, c.zoom], [*c.named, *c.sliders, c.folded,
                                                                                 c.image, c.info]
