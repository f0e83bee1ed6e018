"""Your cat tab: upload a photo (or take the Sample tab's cat), find the cat's twin in a model's latent
space, move the twin with the model's sliders, and ask a judge about the photo and the twin side by
side. The twin is the visitor's own state (``YourCat`` in a gr.State, kept 30 minutes), which the
Interpolate tab reads as either end of a walk. Its tuned tail (catgan.latent.pivotal), 1.3 MB, is kept
server-side among the latest TAILS twins, so memory is bounded however many visitors come.
"""
from __future__ import annotations

import functools
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import gradio as gr
import torch

from catgan.images import from_uint8, to_pil, to_uint8
from catgan.judges import JUDGES
from catgan.latent.twin import FACE_MODES, FIND, POINT, WHOLE, FaceSpec

from .common import to_png, upload_image
from .guard import bounded, fail, short
from .model import NAMED, PCS, Models, upscale_grid
from .sample import SampleControls, direction_sliders, model_picker, slider_updates
from .score import get_judge, judge_line, top1, verdict_of, where_it_looks

YOURS = "your cat"  # how Interpolate names the twin as an end
KEEP_S = 30 * 60  # a visitor's twin is forgotten this long after their last call
SHOWN = 256  # px of each half of the side-by-side picture
NO_TWIN = "Find your cat's twin first (the button above)."
TAILS = 64  # the latest twins whose tuned tails are kept (float16: 1.3 MB each for dcgan-64)
FORGOTTEN = ("So many cats came in since yours that its twin's tuned detail was let go to make room. "
             "Find its twin again (the button above).")


class Tails:
    """The tuned tails of the latest ``capacity`` twins, by a random key that the visitor's state holds."""

    def __init__(self, capacity: int = TAILS):
        self.capacity, self._tails, self._lock = capacity, OrderedDict(), threading.Lock()

    def keep(self, tail: dict[str, torch.Tensor]) -> str:
        key = secrets.token_hex(8)
        with self._lock:
            self._tails[key] = {name: t.half() for name, t in tail.items()}
            while len(self._tails) > self.capacity:
                self._tails.popitem(last=False)
        return key

    def get(self, key: str) -> dict[str, torch.Tensor]:
        """The tail kept under ``key`` (float16); a gr.Error a visitor reads if it was let go."""
        with self._lock:
            if key not in self._tails:
                raise fail(FORGOTTEN)
            self._tails.move_to_end(key)
            return self._tails[key]


TUNED = Tails()


@dataclass(frozen=True)
class YourCat:
    model: str  # the model the twin lives in
    face: torch.Tensor  # (3, S, S) uint8: the face that was inverted
    z: torch.Tensor  # (1, z_dim) the twin as found
    moved: torch.Tensor  # (1, z_dim) the twin as the sliders left it
    tail: str  # the key of its generator's tuned tail in TUNED

    def draw(self, models: Models, z: torch.Tensor | None = None, weight=1.0) -> torch.Tensor:
        """(N, 3, S, S): latents ``z`` (the twin as moved, by default) drawn with the twin's tuned tail,
        ``weight`` of the way (catgan.latent.pivotal.draw_tuned)."""
        return models.draw(self.model, self.moved if z is None else z, TUNED.get(self.tail), weight)


def side_by_side(face: torch.Tensor, twin: torch.Tensor) -> str:
    """A PNG of the face (uint8) and the twin ([-1, 1]), each SHOWN px; its path."""
    pair = torch.stack([from_uint8(face), twin.clamp(-1, 1)])
    return to_png(upscale_grid(pair, SHOWN, "bicubic", nrow=2))


def describe(twin, face: FaceSpec, model: str) -> str:
    if face.mode == FIND:
        where = f"found by the cat-face detector (confidence {twin.box.confidence:.1f})"
    else:
        where = "where you pointed" if face.mode == POINT else "the whole picture, centre square"
    close = f"PSNR **{twin.psnr:.1f} dB**, the latent alone {twin.psnr_latent:.1f} dB"
    if twin.perceptual is not None:
        close += f", perceptual distance {twin.perceptual:.3f}"
    return (f"Left: your cat's face ({where}); right: its twin in **{short(model)}** ({close}; "
            f"{twin.seconds:.1f} s). Move the sliders to edit the twin; Interpolate can start or end with it.")


def find(models: Models, photo, face, x, y, size, model):
    if photo is None:
        raise fail("Upload a photo of your cat first, or use the Sample tab's cat.")
    spec = FaceSpec(face, x, y, size)  # Gradio has checked the choice, the gate the numbers' ranges
    twin = models.twin(model, photo, spec)
    mine = YourCat(model, to_uint8(twin.face), twin.z[None], twin.z[None], TUNED.keep(twin.tail))
    return side_by_side(mine.face, mine.draw(models)[0]), describe(twin, spec, model), mine  # as every slide draws it


def slide(models: Models, mine: YourCat | None, **sliders):
    """The twin moved along the sliders; the state remembers where (Interpolate and Score use it)."""
    if mine is None:
        raise fail(NO_TWIN)
    moved = models.moved(mine.model, mine.z, sliders)
    return side_by_side(mine.face, mine.draw(models, moved)[0]), replace(mine, moved=moved)


def judge_both(models: Models, mine: YourCat | None, judge: str):
    """(table, map of the face, map of the twin, about the judge): the judge's verdict and map on your
    cat's face and on its twin (as the sliders left it)."""
    if mine is None:
        raise fail(NO_TWIN)
    scorer, notice = get_judge(judge)
    twin = mine.draw(models)[0]
    rows, maps = [], []
    for name, image in (("your cat", to_pil(from_uint8(mine.face)[None])[0]), ("its twin", to_pil(twin[None])[0])):
        v, (picture, _) = where_it_looks(scorer, image)
        rows.append([name, verdict_of(v), round(v.p_cat, 3), top1(v)])
        maps.append(picture)
    return rows, *maps, judge_line(scorer, notice)


def build(models: Models, sample: SampleControls, mine: gr.State) -> gr.Button:
    """The tab; ``mine`` is the visitor's YourCat. Returns its "walk from it" button (app.py sends it
    to the Interpolate tab)."""
    gr.Markdown("Upload a photo of a cat. The app finds its face, then the latent that this model turns into "
                "the closest cat it can draw: its twin. Then move the twin with the sliders, walk from it "
                "in the Interpolate tab, and ask a judge about both.")
    have = models.with_encoder()
    with gr.Row():
        with gr.Column(scale=1):
            photo = upload_image(label="Your cat's photo (PNG, JPEG, WebP, GIF, BMP, TIFF; up to 10 MB)", type="pil",
                                 sources=["upload", "clipboard"], height=260, elem_id="your-cat-photo")
            use_sample = gr.Button("Use the Sample tab's first cat")
            face = bounded(gr.Radio(list(FACE_MODES), value=FIND, label="The face (click it in the photo to point)"))
            with gr.Row():
                x = gr.Slider(0, 1, value=0.5, step=0.01, label="Face centre, across")
                y = gr.Slider(0, 1, value=0.5, step=0.01, label="Face centre, down")
                size = gr.Slider(0.05, 1, value=0.5, step=0.01, label="Face size (of the short side)")
            model = model_picker(models, label="Model (one with an encoder)", value=have[0] if have else None)
            go = gr.Button("Find its twin", variant="primary")
        with gr.Column(scale=2):
            pair = gr.Image(label="Your cat and its twin", type="filepath", format="png", interactive=False,
                            height=300)
            info = gr.Markdown(label="About the twin")
            named, sliders, folded = direction_sliders()
            walk = gr.Button("Walk from it (Interpolate tab)")
    with gr.Row():
        judge = bounded(gr.Dropdown(list(JUDGES), value=models.settings.default_judge, label="Judge"))
        ask = gr.Button("Score both: the judge's verdicts and maps")
    verdicts = gr.Dataframe(headers=["image", "verdict", "P(cat)", "top-1"], interactive=False, label="Verdicts",
                            show_label=False)
    with gr.Row():
        maps = [gr.Image(label=f"Where the judge looks: {name}", type="filepath", format="png", interactive=False,
                         height=280) for name in ("your cat", "its twin")]
    about_judge = gr.Markdown(label="Judge")

    def photo_of_sample(model, seed, truncation, **pcs):
        return to_pil(models.images(model, seed, truncation, pcs)[1])[0], WHOLE

    def point(photo, evt: gr.SelectData):  # a click on the photo: its face is there
        if photo is None or not isinstance(evt.index, (list, tuple)) or len(evt.index) != 2:
            return gr.update(), gr.update(), gr.update()
        return POINT, *(round(min(1, max(0, at / side)), 2) for at, side in zip(evt.index, photo.size))

    use_sample.click(photo_of_sample, [sample.model, sample.seed, sample.truncation], [photo, face],
                     inputs_kwargs=sample.pcs(), api_visibility="private")
    photo.select(point, photo, [face, x, y], api_visibility="private")
    go.click(functools.partial(find, models), [photo, face, x, y, size, model], [pair, info, mine],
             api_name="your_cat", concurrency_id="twin", concurrency_limit=1
             ).success(functools.partial(slider_updates, models), model, [*named, *sliders, folded],
                       api_visibility="private")  # the sliders, labelled for the twin's model
    moving = dict(zip(NAMED, named)) | dict(zip(PCS, sliders))

    def move(mine, **sliders):  # the API's parameter names: d1..d6, pc1..pc8
        return slide(models, mine, **sliders)

    gr.on([s.change for s in [*named, *sliders]], move, mine, [pair, mine], inputs_kwargs=moving,
          api_name="your_cat_slide", show_progress="hidden", trigger_mode="always_last", concurrency_id="slide")
    ask.click(functools.partial(judge_both, models), [mine, judge], [verdicts, *maps, about_judge],
              api_name="your_cat_score", concurrency_id="judge")
    return walk
