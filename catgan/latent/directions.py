"""Named latent directions, found without labels: the judges name the generator's directions.

    python -m catgan.latent weights/dcgan-64 [--n-fit 3000] [--n-test 500]

1. Sample latents, generate, and measure attributes on the images: each ImageNet cat breed's
   probability and P(cat) under a pretrained judge, fur lightness and warmth (ginger against grey)
   on the face, and background lightness.
2. For each attribute fit a linear boundary in z, as InterFaceGAN does (Shen et al., CVPR 2020):
   the latents of the top and bottom ``extreme`` share of the attribute, separated by a linear
   classifier (ridge-regularised least squares); its unit normal is the direction. A conditional
   variant projects out the other attributes' normals (InterFaceGAN's conditional manipulation);
   it is kept when it is less entangled.
3. Only directions that work ship: over ``n_test`` held-out seeds, moving ±``step`` units must change
   the named attribute significantly (95 % CI of the mean change excluding 0) and by more, in
   units of each attribute's spread, than it changes any other attribute (P(cat) is not counted
   against a breed: it contains that breed's probability).

Writes ``directions.safetensors`` (k, z_dim) and ``directions.json`` (labels, measured effects)
into the weights folder, so they travel with the model to the Hub, and ``directions.jpg``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save
from tqdm.auto import tqdm

from ..fileio import atomic_write, atomic_write_text
from ..images import luma, make_grid
from ..weights import DIRECTIONS_META, DIRECTIONS_NAME
from .sampling import latents, move

BREEDS = {281: "tabby", 282: "tiger cat", 283: "Persian", 284: "Siamese", 285: "Egyptian cat"}
# attribute -> the slider's label (the direction raises the attribute left to right)
LABELS = {"lightness": "dark ↔ light fur", "warmth": "grey ↔ ginger", "background": "dark ↔ light background",
          "cat": "cat-ness", **{f"p_{b.lower().replace(' ', '_')}": f"{b} ↔" for b in BREEDS.values()}}


@dataclass(frozen=True)
class DirectionsConfig:
    n_fit: int = 3000  # latents the boundaries are fitted on
    n_test: int = 500  # held-out latents the effects are measured on
    n_pick: int = 100  # of those, how many choose between the plain and the conditional direction
    step: float = 2.0  # the move, in latent units (one prior std each), either way
    extreme: float = 0.25  # InterFaceGAN: fit on the top and bottom share of each attribute
    judge: str = "efficientnet_lite0"  # ImageNet judge whose breed probabilities name the directions
    seed: int = 7  # fit latents use seed, held-out ones seed + 1
    batch_size: int = 64  # generator and judge batch size
    progress: bool = True  # progress bars


# ---------------------------------------------------------------- attributes

def regions(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean (size, size) masks: the face (a centred disc, the Kaggle crops are faces) and the
    background (the corners outside the inscribed circle)."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = torch.sqrt((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2) / size
    return r < 0.30, r > 0.50


def colour_attributes(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image (N,): fur lightness (luma, 0..1) and warmth (R - B) on the face, background lightness."""
    x = (images.float().clamp(-1, 1) + 1) / 2
    face, back = regions(x.shape[-1])
    grey = luma(x)
    return {"lightness": grey[:, face].mean(1), "warmth": (x[:, 0] - x[:, 2])[:, face].mean(1),
            "background": grey[:, back].mean(1)}


def judge_attributes(probs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image (N,): each breed's probability and P(cat), their sum, from (N, 1000) ImageNet probs."""
    out = {f"p_{name.lower().replace(' ', '_')}": probs[:, i] for i, name in BREEDS.items()}
    return {**out, "cat": probs[:, list(BREEDS)].sum(1)}


class Measurer:
    """Generates from latents and measures every attribute (a dict of (N,) float64 tensors)."""

    def __init__(self, generator, judge, batch_size: int = 64, progress: bool = False):
        self.generator, self.judge, self.batch_size, self.progress = generator.eval(), judge, batch_size, progress

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, desc: str = "measure") -> dict[str, torch.Tensor]:
        parts: list[dict[str, torch.Tensor]] = []
        for i in tqdm(range(0, len(z), self.batch_size), desc=desc, unit="batch", disable=not self.progress):
            x = self.generator(z[i:i + self.batch_size])
            parts.append({**colour_attributes(x), **judge_attributes(self.judge.probs(x, self.batch_size))})
        return {k: torch.cat([p[k] for p in parts]).double() for k in parts[0]}


# ---------------------------------------------------------------- boundaries

def fit_boundary(z: torch.Tensor, values: torch.Tensor, extreme: float = 0.25, ridge: float = 1.0) -> torch.Tensor:
    """InterFaceGAN's boundary: the unit normal (z_dim,) of a linear classifier separating the
    latents of the top ``extreme`` share of ``values`` (+1) from the bottom share (-1)."""
    lo, hi = torch.quantile(values, extreme), torch.quantile(values, 1 - extreme)
    keep = (values <= lo) | (values >= hi)
    x, y = z[keep].double(), torch.where(values[keep] >= hi, 1.0, -1.0).double()
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    eye = torch.eye(x1.shape[1], dtype=x.dtype)
    eye[-1, -1] = 0  # the bias is not regularised
    w = torch.linalg.solve(x1.T @ x1 + ridge * eye, x1.T @ y)[:-1]
    return (w / w.norm()).float()


def condition(direction: torch.Tensor, others: list[torch.Tensor]) -> torch.Tensor:
    """``direction`` with the span of ``others`` projected out (InterFaceGAN's conditional
    manipulation: moving along it leaves the other attributes' boundaries' scores unchanged)."""
    if not others:
        return direction
    q, _ = torch.linalg.qr(torch.stack(others).T.double())
    d = direction.double() - q @ (q.T @ direction.double())
    return (d / d.norm()).float()


@dataclass(frozen=True)
class Effect:
    mean: float  # mean change over the seeds, in units of the attribute's spread (std over samples)
    lo: float  # 95 % CI
    hi: float
    share_up: float  # share of seeds for which the attribute went up


def effects(measure: Measurer, z: torch.Tensor, direction: torch.Tensor, step: float,
            spread: dict[str, float]) -> dict[str, Effect]:
    """Each attribute's change from z - step * d to z + step * d, over the rows of ``z``."""
    plus, minus = measure(z + step * direction), measure(z - step * direction)
    out = {}
    for key in plus:
        delta = (plus[key] - minus[key]) / max(spread[key], 1e-12)
        mean, half = float(delta.mean()), 1.96 * float(delta.std()) / math.sqrt(len(delta))
        out[key] = Effect(mean, mean - half, mean + half, float((delta > 0).double().mean()))
    return out


def others(name: str, table: dict) -> list[str]:
    """The attributes a direction must change less than its own (P(cat) holds each breed's probability)."""
    return [k for k in table if k != name and not (name.startswith("p_") and k == "cat")]


def margin(name: str, table: dict[str, Effect]) -> float:
    return table[name].mean - max((abs(table[k].mean) for k in others(name, table)), default=0.0)


def passes(name: str, table: dict[str, Effect]) -> bool:
    """Significant (CI above 0) and larger than the change of every other attribute."""
    return table[name].lo > 0 and margin(name, table) > 0


# ---------------------------------------------------------------- the named directions of a model

@dataclass(frozen=True)
class NamedDirections:
    """Directions with names, for the sliders: the same interface as latent.Directions."""

    vectors: torch.Tensor  # (k, z_dim) unit rows
    names: tuple[str, ...]  # attribute keys
    meta: dict

    def __len__(self) -> int:
        return len(self.names)

    def apply(self, z: torch.Tensor, amounts) -> torch.Tensor:
        return move(z, self.vectors, amounts)

    def labels(self) -> list[str]:
        return [LABELS.get(n, n) for n in self.names]


def load_directions(folder: str | os.PathLike | None, z_dim: int | None = None) -> NamedDirections | None:
    """The named directions shipped in a weights folder, or None if it has none. ValueError, one line
    naming the file, when they are malformed: every field catgan reads is checked, and the vectors
    must be finite, one row per named direction (and ``z_dim`` wide, when given)."""
    if folder is None:
        return None
    meta_file, vectors_file = Path(folder) / DIRECTIONS_META, Path(folder) / DIRECTIONS_NAME
    if not (meta_file.is_file() and vectors_file.is_file()):
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"{meta_file} is not JSON ({type(e).__name__})") from None
    problem = _meta_problem(meta)
    if problem:
        raise ValueError(f"{meta_file} is not a catgan directions file: {problem}")
    try:
        vectors = load_file(str(vectors_file)).get("directions")
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(f"{vectors_file} is not a readable safetensors file ({type(e).__name__})") from None
    names = tuple(d["attribute"] for d in meta["directions"])
    if vectors is None or vectors.ndim != 2 or not vectors.is_floating_point() or not torch.isfinite(vectors).all():
        raise ValueError(f"{vectors_file} holds no finite (k, z_dim) float tensor 'directions'")
    if vectors.shape[0] != len(names) or (z_dim is not None and vectors.shape[1] != z_dim):
        raise ValueError(f"{vectors_file} holds {vectors.shape[0]} directions of {vectors.shape[1]} values; "
                         f"{DIRECTIONS_META} names {len(names)}" + (f" and the model's z_dim is {z_dim}" if z_dim else ""))
    return NamedDirections(vectors.float(), names, meta)


def _meta_problem(meta) -> str | None:
    """What is wrong with a directions.json, in a few words, or None: the fields the sliders, the
    model card and ``effect_table`` read, with their types."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if not isinstance(meta, dict):
        return "not a JSON object"
    for key, kind in (("judge", str), ("spread", dict), ("config", dict), ("directions", list), ("tried", list)):
        if not isinstance(meta.get(key), kind):
            return f"{key!r} must be a {'list' if kind is list else 'string' if kind is str else 'JSON object'}"
    if not (number(meta.get("step")) and number(meta["config"].get("n_test"))):
        return "'step' and config's 'n_test' must be numbers"
    if not all(number(v) for v in meta["spread"].values()):
        return "'spread' must map attributes to numbers"
    for row in meta["directions"] + meta["tried"]:
        if not (isinstance(row, dict) and isinstance(row.get("attribute"), str) and isinstance(row.get("label"), str)):
            return "each direction needs a string 'attribute' and 'label'"
    for row in meta["tried"]:
        effects = row.get("effects")
        if not (isinstance(row.get("ships"), bool) and isinstance(effects, dict) and all(
                isinstance(effects.get(a), dict) and number(effects[a].get("mean")) for a in meta["spread"])):
            return "each tried direction needs 'ships' (true/false) and a numeric effect 'mean' per attribute"
    return None


def save_directions(folder: str | os.PathLike, vectors: torch.Tensor, meta: dict) -> None:
    folder = Path(folder)
    blob = save({"directions": vectors.contiguous().float()})
    atomic_write(folder / DIRECTIONS_NAME, lambda f: f.write(blob))
    atomic_write_text(folder / DIRECTIONS_META, json.dumps(meta, indent=2))


def find_directions(generator, judge, cfg: DirectionsConfig) -> tuple[torch.Tensor, dict]:
    """Fit, condition, evaluate and keep the directions that work; returns (vectors, meta)."""
    z_dim = generator.config.z_dim
    measure = Measurer(generator, judge, cfg.batch_size, cfg.progress)
    z_fit, z_test = latents(z_dim, cfg.n_fit, cfg.seed), latents(z_dim, cfg.n_test, cfg.seed + 1)
    fit = measure(z_fit, "fit: measure")
    spread = {k: float(v.std()) for k, v in fit.items()}
    normals = {k: fit_boundary(z_fit, v, cfg.extreme) for k, v in fit.items()}
    tried, kept = [], []
    for name in normals:
        others = [normals[k] for k in ("lightness", "warmth", "background") if k != name]
        candidates = {"plain": normals[name], "conditional": condition(normals[name], others)}
        picks = {kind: effects(measure, z_test[:cfg.n_pick], d, cfg.step, spread) for kind, d in candidates.items()}
        kind = max(picks, key=lambda k: margin(name, picks[k]))  # the less entangled of the two
        table = effects(measure, z_test, candidates[kind], cfg.step, spread)
        row = {"attribute": name, "label": LABELS.get(name, name), "variant": kind, "ships": passes(name, table),
               "effects": {a: asdict(e) for a, e in table.items()}}
        tried.append(row)
        if row["ships"]:
            kept.append((row, candidates[kind]))
    meta = {"config": asdict(cfg), "judge": judge.name, "spread": spread, "step": cfg.step,
            "directions": [row for row, _ in kept], "tried": tried}
    vectors = torch.stack([d for _, d in kept]) if kept else torch.empty(0, z_dim)
    return vectors, meta


@torch.no_grad()
def picture(generator, named: NamedDirections, seeds: int = 3, amounts=(-3, -2, -1, 0, 1, 2, 3)):
    """One labelled block per direction: ``seeds`` rows, moved from -3 to +3 units left to right."""
    z = latents(generator.config.z_dim, seeds, 11)
    blocks = []
    for label, v in zip(named.labels(), named.vectors):
        grid = make_grid(generator.eval()(torch.cat([torch.stack([zi + a * v for a in amounts]) for zi in z])),
                         nrow=len(amounts), pad=2)
        block = Image.new("RGB", (grid.width, grid.height + 16), "white")
        ImageDraw.Draw(block).text((4, 3), f"{label.replace('↔', '<->')}   (-3 ... +3)", fill=(0, 0, 0))
        block.paste(grid, (0, 16))
        blocks.append(block)
    out = Image.new("RGB", (blocks[0].width, sum(b.height for b in blocks)), "white")
    for i, b in enumerate(blocks):
        out.paste(b, (0, sum(x.height for x in blocks[:i])))
    return out


def effect_table(meta: dict) -> str:
    """Markdown: each shipped direction's effect on every attribute (the entanglement)."""
    attrs = list(meta["spread"])
    head = "| direction | " + " | ".join(attrs) + " |\n|---|" + "---|" * len(attrs) + "\n"
    lines = []
    for row in meta["tried"]:
        cells = [f"**{e['mean']:+.2f}**" if a == row["attribute"] else f"{e['mean']:+.2f}"
                 for a, e in ((a, row["effects"][a]) for a in attrs)]
        mark = "" if row["ships"] else " (dropped)"
        lines.append(f"| {row['label']}{mark} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"
