"""Model config, the architecture registry and the Hub-aware base classes of every catgan network.

A weights folder is the same on disk and on the Hugging Face Hub (see catgan.weights):
``config.json`` (ModelConfig, flat) + ``model.safetensors`` (+ ``README.md``).
Loading is always strict and never unpickles anything.

Everything catgan knows about one model family is in its ``Architecture`` (one file in
catgan/models/ each); the registry in catgan/models/__init__.py lists them.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, fields

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from torch import nn

from ..weights import WEIGHTS_NAME, load_weights_strict

SIZES = (32, 64)
# Generator + discriminator: 0.8 GB of fp32 weights, 3.2 GB with Adam's moments and the gradients.
# catgan's nets have 1-15 M; a typo like --g-width 10000000 is refused before anything is allocated.
MAX_PARAMETERS = 200_000_000
VARIANT = r"(?:-[a-z0-9]+)*"  # what a weights folder's name may add to its family's: "dcgan-64" + "-dropout"
ARCHITECTURES: dict[str, "Architecture"] = {}  # name -> Architecture, filled by register()


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a generator/discriminator pair.

    ``width`` is the base channel count (DCGAN) or the first hidden width (GAN).
    """

    arch: str = "dcgan"  # model family (see catgan/models/)
    img_size: int = 64  # image side in pixels
    z_dim: int = 100  # latent size
    g_width: int = 64  # G's base channels (DCGAN) or first hidden width (GAN)
    d_width: int = 64  # D's base channels (DCGAN) or last hidden width (GAN)
    g_dropout: float = 0.0  # dropout in G's hidden layers (the poster used 0.5)
    d_spectral_norm: bool = False  # spectral norm on D's layers (replaces BatchNorm in a DCGAN D)

    def __post_init__(self):
        sizes = architecture(self.arch).sizes  # a registered family, or a ValueError naming them
        if self.img_size not in sizes:
            raise ValueError(f"img_size must be one of {sizes}{'' if sizes == SIZES else f' for {self.arch}'}, "
                             f"got {self.img_size}")
        if not 0.0 <= self.g_dropout < 1.0:
            raise ValueError(f"g_dropout must be in [0, 1), got {self.g_dropout}")
        if min(self.z_dim, self.g_width, self.d_width) < 1:
            raise ValueError("z_dim, g_width and d_width must be positive")
        if (n := parameter_count(self)) > MAX_PARAMETERS:
            raise ValueError(f"z_dim {self.z_dim}, g_width {self.g_width} and d_width {self.d_width} make a "
                             f"{self.arch} of {n / 1e6:,.0f} M parameters (generator + discriminator); the "
                             f"limit is {MAX_PARAMETERS / 1e6:.0f} M")

    @property
    def name(self) -> str:
        """The family's model name, "<arch>-<size>"."""
        return f"{self.arch}-{self.img_size}"

    def name_in(self, folder: str | os.PathLike) -> str:
        """The model's name in a weights folder: the folder's own name where it extends ``name`` with
        variants ("dcgan-64-dropout"), else ``name`` (a run's generator/ folder, a temporary export)."""
        own = os.path.basename(os.path.normpath(folder))
        return own if re.fullmatch(re.escape(self.name) + VARIANT, own) else self.name

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config.json has unknown keys {unknown}; is it a catgan model?")
        return cls(**data)


@functools.lru_cache(maxsize=64)
def parameter_count(config: ModelConfig) -> int:
    """Parameters of ``config``'s generator + discriminator, counted on the meta device: shapes only,
    no memory and no initialisation, so a huge config costs nothing to measure."""
    arch = architecture(config.arch)
    with torch.device("meta"):
        nets = arch.generator(config), arch.discriminator(config)
    return sum(p.numel() for net in nets for p in net.parameters())


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class HubModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="catgan",
    tags=["gan", "image-generation", "cats"],
    repo_url="https://github.com/catgan/catgan",
):
    """Base for every catgan network: strict safetensors-only (de)serialisation."""

    def __init__(self, config: ModelConfig | dict):
        super().__init__()
        # from_pretrained hands us the raw config.json dict: parse it strictly ourselves
        self.config = config if isinstance(config, ModelConfig) else ModelConfig.from_dict(config)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir,
        force_download: bool,
        local_files_only: bool,
        token,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ):
        if not strict:
            raise ValueError("catgan always loads strictly")
        if os.path.isdir(model_id):
            model_file = os.path.join(model_id, WEIGHTS_NAME)
            if not os.path.isfile(model_file):
                raise FileNotFoundError(f"no {WEIGHTS_NAME} in {model_id}")
        else:
            model_file = hf_hub_download(
                repo_id=model_id, filename=WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
                force_download=force_download, token=token, local_files_only=local_files_only,
            )
        model = cls(**model_kwargs)
        load_weights_strict(model, model_file, map_location)
        return model.eval()


class Generator(HubModel):
    """A generator maps latents (N, z_dim) to images (N, 3, S, S) in [-1, 1] through ``self.net``."""

    net: nn.Sequential

    def latent_input(self, z: torch.Tensor) -> torch.Tensor:
        """The latents as ``self.net`` takes them (the latent layout); (N, z_dim) by default."""
        return z.reshape(z.shape[0], -1)

    def early_features(self) -> tuple[nn.Module, str]:
        """GANSpace's "early features": a module from latents (N, z_dim) to the activations after
        ``self.net``'s first nonlinearity, and a name for them."""
        for i, layer in enumerate(self.net):
            if isinstance(layer, (nn.ReLU, nn.LeakyReLU)):
                return _Head(self, i + 1), f"net[0:{i + 1}] ({type(self.net[0]).__name__} block)"
        raise TypeError(f"{type(self).__name__}.net has no ReLU/LeakyReLU: override early_features")


class _Head(nn.Module):
    def __init__(self, generator: Generator, depth: int):
        super().__init__()
        self.generator, self.depth = generator, depth

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator.net[: self.depth](self.generator.latent_input(z))


@dataclass(frozen=True)
class Architecture:
    """One model family: what the registry, the trainer and the model card need to know about it."""

    name: str  # config.json's "arch"; weights folders are named "<name>-<img_size>"
    title: str  # the family and its paper, for model cards
    generator: type[Generator]
    discriminator: type[HubModel]
    channels_last: bool = False  # conv nets train faster in channels_last memory format
    d_aux_loss: bool = False  # D(x, aux=True) returns (logits, a self-supervised loss added to D's on real images)
    sizes: tuple[int, ...] = SIZES  # the image sizes the family is built for


def register(arch: Architecture) -> Architecture:
    """Add ``arch`` to the registry (one line per family in catgan/models/__init__.py)."""
    ARCHITECTURES[arch.name] = arch
    return arch


def architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {tuple(ARCHITECTURES)}, got {name!r}")
    return ARCHITECTURES[name]
