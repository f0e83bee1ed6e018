"""The weights-folder format, one for every catgan network (generators and the resnet-animals judge),
the same on disk and on the Hugging Face Hub:

    config.json             the network's frozen config dataclass, flat
    model.safetensors       its state dict (never a pickle); fp16 files load back into fp32 models
    README.md               the model card
    samples.png, evolution.gif                  a generator's sample grid and its training, as a GIF
    directions.safetensors, directions.json     a generator's named latent directions and their effects
    directions.jpg                              the named directions, pictured
    encoder.safetensors, encoder.json           a generator's inversion encoder (catgan.latent.encoder)
    critic.safetensors, critic.json             a generator's critic for rejection sampling (catgan.latent.critic)

A folder is written beside its final place and swapped in, so it is never half-written; it is read
back strictly (every key and shape must match, and no tensor may hold NaN/inf).
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .fileio import atomic_path, atomic_write_text

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
SAMPLES_NAME, EVOLUTION_NAME = "samples.png", "evolution.gif"
DIRECTIONS_NAME, DIRECTIONS_META, DIRECTIONS_PICTURE = "directions.safetensors", "directions.json", "directions.jpg"
ENCODER_NAME, ENCODER_META = "encoder.safetensors", "encoder.json"
CRITIC_NAME, CRITIC_META = "critic.safetensors", "critic.json"
# every file a weights folder may hold: what publish and deploy ship
FOLDER_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, SAMPLES_NAME, EVOLUTION_NAME, DIRECTIONS_NAME, DIRECTIONS_META,
                DIRECTIONS_PICTURE, ENCODER_NAME, ENCODER_META, CRITIC_NAME, CRITIC_META)


def save_folder(out: str | os.PathLike, model: nn.Module, config, *, card: str, fp16: bool = False,
                extra: dict[str, Callable[[Path], object]] | None = None) -> Path:
    """Write ``out`` = config.json (``config``: a dataclass) + model.safetensors + README.md (``card``),
    plus each ``extra[name](path)``; float tensors are stored as fp16 with ``fp16``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / WEIGHTS_NAME).is_file())):
        raise ValueError(f"{out} exists and is not a weights folder; refusing to replace it (pick another path)")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / CONFIG_NAME).write_text(json.dumps(asdict(config), indent=2))
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if fp16:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, tmp / WEIGHTS_NAME)
    shutil.copymode(tmp / CONFIG_NAME, tmp / WEIGHTS_NAME)  # safetensors writes it private (0600)
    (tmp / CARD_NAME).write_text(card)
    for name, write in (extra or {}).items():
        write(tmp / name)
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)
    return out


def save_beside(module: nn.Module, config, folder: str | os.PathLike, name: str, meta: str) -> Path:
    """A network that accompanies a generator (its encoder, its critic) into the generator's weights
    folder: ``name`` (the state dict, fp16 safetensors) and ``meta`` (``config``, a dataclass, as
    JSON), each written atomically."""
    folder = Path(folder)
    tensors = {k: v.detach().cpu().half().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(folder / name) as tmp:
        save_file(tensors, str(tmp))
    atomic_write_text(folder / meta, json.dumps(asdict(config), indent=2))
    return folder / name


def read_beside(folder: str | os.PathLike, name: str, meta: str, config_cls: type, hint: str):
    """(config, weights file) of a network saved by ``save_beside``: FileNotFoundError (with ``hint``)
    when the folder has none, ValueError when ``meta`` is not a ``config_cls``."""
    folder = Path(folder)
    if not (folder / meta).is_file() or not (folder / name).is_file():
        raise FileNotFoundError(f"no {name} + {meta} in {folder}; {hint}")
    data = json.loads((folder / meta).read_text())
    unknown = sorted(set(data) - {f.name for f in fields(config_cls)}) if isinstance(data, dict) else ["?"]
    if unknown:
        raise ValueError(f"{folder / meta} has unknown keys {unknown}; is it a catgan {name.split('.')[0]}?")
    return config_cls(**data), folder / name


def read_config(folder: str | os.PathLike, parse: Callable[[dict], object]):
    """``parse(config.json as a dict)``; FileNotFoundError or ValueError naming the file otherwise."""
    config_file = Path(folder) / CONFIG_NAME
    if not config_file.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {folder}")
    try:
        data = json.loads(config_file.read_text())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return parse(data)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"{config_file} is not a catgan config ({e})") from None


def load_weights_strict(model: nn.Module, path: str | os.PathLike, map_location: str = "cpu") -> None:
    """Load a safetensors file into ``model``: every key and shape must match, every value be finite.

    fp16/bf16 files load into fp32 models transparently (the copy casts).
    """
    try:
        state = load_file(str(path), device=str(map_location))
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
    arch, size = getattr(cfg, "arch", None), getattr(cfg, "img_size", None)
    return f"({arch}, {size}px)" if arch and size else ""
