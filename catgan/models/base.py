"""Model config and the Hub-aware base class shared by every catgan network.

A weights folder is the same on disk and on the Hugging Face Hub:
``config.json`` (this dataclass, flat) + ``model.safetensors`` (+ ``README.md``).
Loading is always strict and never unpickles anything.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from torch import nn

ARCHS = ("gan", "dcgan")
SIZES = (32, 64)
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a generator/discriminator pair.

    ``width`` is the base channel count (DCGAN) or the first hidden width (GAN).
    """

    arch: str = "dcgan"
    img_size: int = 64
    z_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    g_dropout: float = 0.0  # the study's stabiliser: dropout in G's hidden layers
    d_spectral_norm: bool = False

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.img_size not in SIZES:
            raise ValueError(f"img_size must be one of {SIZES}, got {self.img_size}")
        if not 0.0 <= self.g_dropout < 1.0:
            raise ValueError(f"g_dropout must be in [0, 1), got {self.g_dropout}")
        if min(self.z_dim, self.g_width, self.d_width) < 1:
            raise ValueError("z_dim, g_width and d_width must be positive")

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config.json has unknown keys {unknown}; is it a catgan model?")
        return cls(**data)


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

    role: ClassVar[str] = ""  # "generator" | "discriminator"

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


def load_weights_strict(model: nn.Module, path: str, map_location: str = "cpu") -> None:
    """Load a safetensors file into ``model``: every key and shape must match.

    fp16/bf16 files load into fp32 models transparently (the copy casts).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path, device=str(map_location))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors file ({e})") from None
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    bad_shapes = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
    if missing or unexpected or bad_shapes:
        raise ValueError(
            f"{path} does not match {type(model).__name__}{_describe(model)}: "
            f"missing={missing[:3]} unexpected={unexpected[:3]} wrong_shape={sorted(bad_shapes)[:3]}"
        )
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ValueError(f"{path}: tensor {k} holds NaN/inf values")
    model.load_state_dict(state, strict=True)


def _describe(model: nn.Module) -> str:
    cfg = getattr(model, "config", None)
    return f"({cfg.arch}, {cfg.img_size}px)" if isinstance(cfg, ModelConfig) else ""
