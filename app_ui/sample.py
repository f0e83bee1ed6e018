"""Sample tab: a seeded grid of cats, truncation, and sliders that edit it live: the model's named
directions first (catgan.latent.directions: "dark ↔ light fur", "Siamese ↔", ...), and the GANSpace
principal directions in a folded section (open when a model has no named directions).

Slider ``.change`` (trigger_mode="always_last", no progress spinner) renders just the image while
the slider moves, so a drag never queues up stale frames; ``.release`` renders once more and
writes the caption that says which directions were moved. The sample controls themselves are
the per-user "current sample" that the Interpolate and Score tabs read; those tabs have their own
model pickers, which follow this one until changed.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import gradio as gr

from .common import NO_WEIGHTS
from .guard import MAX_SEED, bounded
from .model import N_NAMED, N_SLIDERS, NAMED, PCS, Models, amounts_of

SLIDER_RANGE = 5.0  # prior standard deviations
MAX_CATS = 64


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
    startup: tuple = ()  # (fn, inputs, outputs) for demo.load: label the sliders, draw the first grid

    def pcs(self) -> dict:
        """Every direction slider as a keyword input (``inputs_kwargs``): the API names them d1..d6
        (the model's named directions) and pc1..pc8 (its principal directions)."""
        return {**dict(zip(NAMED, self.named)), **dict(zip(PCS, self.sliders))}


def model_picker(models: Models, label: str = "Model (weights/ or a Hub repo id USER/REPO[@REVISION])",
                 value: str | None = None, **kwargs) -> gr.Dropdown:
    """The model dropdown, the same in every tab: the listed models, or a Hub repo id typed in;
    ``value`` (default: the first listed) is shown first."""
    choices = models.choices()
    return bounded(gr.Dropdown(choices, value=value or (choices[0][1] if choices else None), allow_custom_value=True,
                               label=label, **kwargs))


def caption(models: Models, model, seed, n, truncation, sliders: dict | None = None) -> str:
    named, _ = models.directions(model)
    labels = named + [f"PC{i + 1}" for i in range(N_SLIDERS)]
    amounts = amounts_of(sliders, NAMED)[:len(named)] + amounts_of(sliders)
    moved = ", ".join(f"{label} {a:+.1f}" for label, a in zip(labels, amounts) if a)
    return (models.describe(model) + f"  \nseed {int(seed or 0)}, {int(n)} cats, truncation ψ={truncation:g}"
            + (f"; moved along {moved}" if moved else ""))


def slider_updates(models: Models, model) -> list:
    """Every slider relabelled for ``model`` and set to 0: its named directions (hidden when it has
    none), then its principal directions, then the folded section (open when there are no named ones)."""
    names, labels = models.directions(model)
    return ([gr.update(value=0, label=names[i], visible=True) if i < len(names) else gr.update(value=0, visible=False)
             for i in range(N_NAMED)]
            + [gr.update(value=0, label=labels[i], interactive=True) if i < len(labels)
               else gr.update(value=0, label=f"PC{i + 1} (not available for this model)", interactive=False)
               for i in range(N_SLIDERS)]
            + [gr.update(open=not names)])


def direction_sliders() -> tuple[list, list, gr.Accordion]:
    """(named, principal, the principal ones' folded section): the sliders that move a cat, labelled
    for a model by ``slider_updates``."""
    named = [gr.Slider(-3, 3, value=0, step=0.1, label=f"direction {i + 1}", visible=False) for i in range(N_NAMED)]
    with gr.Accordion("Principal directions (GANSpace)", open=False) as folded:
        sliders = [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0, step=0.1, label=f"PC{i + 1}")
                   for i in range(N_SLIDERS)]
    return named, sliders, folded


def build(models: Models) -> SampleControls:
    gr.Markdown("Pick a model and a seed. The sliders move every cat along the model's named directions "
                "(found without labels: a pretrained judge names them), and, folded below, its principal "
                "directions (GANSpace: PCA of its first-layer features), largest first.")
    if not models.settings.sources:
        gr.Markdown("⚠️ " + NO_WEIGHTS)
    with gr.Row():
        model = model_picker(models, scale=3)
        seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED, scale=1)
        new = gr.Button("New cats", variant="primary", scale=1)
    with gr.Row():
        n = gr.Slider(1, MAX_CATS, value=16, step=1, label="Grid size (cats)")
        truncation = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation ψ (1 = none, smaller = more typical)")
        resampling = bounded(gr.Radio(["nearest", "bicubic"], value="nearest", label="Upscaling"))
        zoom = gr.Slider(1, 8, value=3, step=1, label="Zoom (×)")
    with gr.Row(elem_classes=["catgan-cats"]):  # on a phone, the cats come first (app.CSS)
        with gr.Column(scale=3):
            image = gr.Image(label="Cats", format="png", type="filepath", interactive=False, show_label=False,
                             buttons=["download"])
            info = gr.Markdown(label="Caption")  # Markdown labels are not shown; they name outputs in the API
        with gr.Column(scale=2):
            named, sliders, folded = direction_sliders()
            reset = gr.Button("Reset sliders")
    c = SampleControls(model, seed, n, truncation, resampling, zoom, sliders, named, folded, image, info)

    # The handlers' argument names are the API's parameter names (see README, "Use it from Python").
    def slide(model, seed, n, truncation, resampling, zoom, **pcs):
        return models.grid(model, seed, n, truncation, resampling, zoom, pcs)

    def sample(model, seed, n, truncation, resampling, zoom, **pcs):
        return slide(model, seed, n, truncation, resampling, zoom, **pcs), caption(models, model, seed, n, truncation,
                                                                                    pcs)

    def new_cats(model, n, truncation, resampling, zoom, **pcs):
        seed = secrets.randbelow(2**31)
        return (seed, *sample(model, seed, n, truncation, resampling, zoom, **pcs))

    def select_model(model, seed, n, truncation, resampling, zoom):
        return (*slider_updates(models, model), *sample(model, seed, n, truncation, resampling, zoom))

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

    def first(model, seed, n, truncation, resampling, zoom):
        if not model:
            return (*[gr.update() for _ in range(N_NAMED + N_SLIDERS + 1)], None, "")
        try:
            return select_model(model, seed, n, truncation, resampling, zoom)
        except gr.Error as e:
            return (*[gr.update() for _ in range(N_NAMED + N_SLIDERS + 1)], None, f"⚠️ {e.message}")

    c.startup = first, grid, [*named, *sliders, folded, *shown]
    return c
