"""Model cards: README.md with YAML metadata (Hub model-card spec) for exported generators.

The card's metadata also keeps what it was rendered from (``catgan:`` key: training config, run
summary, metrics row), so ``catgan.hub.publish`` can re-render it for a repo id without the run folder.
"""
import json
import os
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import env
from ..cli import to_flags
from ..fileio import atomic_write_text
from ..latent.critic import has_critic, load_critic
from ..latent.directions import effect_table, load_directions
from ..models import ModelConfig, architecture
from ..train.config import ALIASES, TrainConfig
from ..weights import (
    CARD_NAME,
    CRITIC_META,
    CRITIC_NAME,
    DIRECTIONS_PICTURE,
    ENCODER_META,
    ENCODER_NAME,
    EVOLUTION_NAME,
    SAMPLES_NAME,
    read_config,
)

TASK = "unconditional-image-generation"
METRICS = (("fid", "FID", "{:.2f}", "lower is better"), ("kid", "KID", "{:.4f}", "lower is better"),
           ("cat_rate", "cat-rate", "{:.3f}", "share of samples a pretrained classifier calls a cat; higher is better"))


@dataclass(frozen=True)
class Dataset:
    key: str  # the card's `datasets:` entry
    title: str
    about: str
    license: str
    citation: str


CAT_FACES_DATASET = Dataset(
    "cat-faces-64", "Cats faces 64x64 (Spandan Ghosh, Kaggle 2018)",
    "9,303 byte- and pixel-unique 64x64 RGB cat-face crops. The faces come from the CAT dataset "
    "(Zhang, Sun & Tang, ECCV 2008), about 10k cat photos from the web.",
    "No licence file ships with the data. The CAT dataset was released for research and the photos' copyright "
    "stays with their owners: research / non-commercial use only. Credit Spandan Ghosh (Kaggle) and Zhang et al. 2008.",
    "@inproceedings{zhang2008cat,\n"
    "  title={Cat Head Detection - How to Effectively Exploit Shape and Texture Features},\n"
    "  author={Zhang, Weiwei and Sun, Jian and Tang, Xiaoou},\n"
    "  booktitle={European Conference on Computer Vision (ECCV)},"
    "\n  year={2008}\n}\n@misc{ghosh2018catfaces,\n  author={Ghosh, Spandan},\n"
    "  title={Cats faces 64x64 (For generative models)},\n  howpublished={Kaggle},\n  year={2018}\n}",
)
CIFAR_CATS_DATASET = Dataset(
    "uoft-cs/cifar10", "CIFAR-10, class `cat` (Krizhevsky 2009)",
    "The 6,000 32x32 cat images of CIFAR-10 (JPEG re-encodings of the original arrays).",
    "CIFAR-10 is distributed by the University of Toronto without a formal licence and is used for research.",
    "@techreport{krizhevsky2009learning,\n  title={Learning Multiple Layers of Features from Tiny Images},\n"
    "  author={Krizhevsky, Alex},\n  institution={University of Toronto},\n  year={2009}\n}",
)
CAT_FACES = f"{CAT_FACES_DATASET.title}, derived from the CAT dataset (Zhang, Sun & Tang, ECCV 2008)"


PATH_KEYS = ("data", "out", "cache_dir", "init_from")  # TrainConfig's paths


def portable(train_config: dict | None) -> dict | None:
    """``train_config`` as a card shows it: absolute paths beside the checkout relative to it
    ("../shared/data/cat-faces-64.zip"), any other absolute path by its name alone, so a card never
    carries the trainer's own filesystem."""
    if not train_config:
        return train_config
    beside = env.REPO_ROOT.parent
    out = dict(train_config)
    for key in PATH_KEYS:
        path = out.get(key)
        if isinstance(path, str) and os.path.isabs(path):
            inside = Path(os.path.normpath(path)).is_relative_to(beside)
            out[key] = os.path.relpath(path, env.REPO_ROOT) if inside else Path(path).name
    return out


def dataset_for(train_config: dict | None) -> Dataset:
    data = str((train_config or {}).get("data", "")).lower()
    return CIFAR_CATS_DATASET if "cifar" in data else CAT_FACES_DATASET


def render_card(config: ModelConfig, *, folder: str | os.PathLike | None = None, train_config: dict | None = None,
                summary: dict | None = None, metrics: dict | None = None, repo_id: str | None = None,
                gif: bool = False, directions: dict | None = None, encoder: bool = False,
                critic: dict | None = None) -> str:
    """README.md for a weights folder. ``folder``: where it goes, which may name a variant of the family
    (ModelConfig.name_in; default: the family's name).
    ``metrics`` is a results row (catgan.eval.results.find_row); ``directions`` the meta of its named
    latent directions (catgan.latent.directions); ``critic`` its critic's config (catgan.latent.critic)."""
    name, train_config = config.name_in(folder) if folder else config.name, portable(train_config)
    family = architecture(config.arch).title
    data = dataset_for(train_config)
    values = metric_values(metrics) if metrics else []
    card_data = ModelCardData(
        library_name="catgan", license="other", license_name="research-only",
        tags=["gan", "image-generation", TASK, "cats", "pytorch", "safetensors"], pipeline_tag=TASK,
        datasets=[data.key], metrics=list(dict.fromkeys(m.key for m in values)) or None,
        model_name=f"catgan-{name}", eval_results=[
            EvalResult(task_type=TASK, dataset_type=data.key, dataset_name=data.title, metric_type=m.key,
                       metric_name=m.label, metric_value=m.value) for m in values] or None,
        catgan={k: v for k, v in (("train_config", train_config), ("summary", summary), ("metrics", metrics)) if v}
        or None,
    )
    lines = [
        "---", card_data.to_yaml(), "---", "",
        f"# catgan {name}", "",
        f"A {family} generator of {config.img_size}x{config.img_size} cat faces, trained with "
        "[catgan](https://github.com/catgan/catgan). This is the EMA copy of the generator: it maps a "
        f"{config.z_dim}-d standard normal latent to an RGB image in [-1, 1]. Weights are safetensors only.", "",
        f"![samples]({SAMPLES_NAME})", "",
    ]
    if gif:
        lines += ["Training evolution (fixed latents, one frame per sample step):", "",
                  f"![evolution]({EVOLUTION_NAME})", ""]
    lines += ["## Load and sample", "", "```python",
              "from catgan import load_generator, sample",
              f"generator = load_generator(\"{repo_id or 'weights/' + name}\")",
              "images = sample(generator, n=16, seed=0)  # list of PIL images"]
    if critic:
        lines += ["", "# as the metrics below were measured: through the critic (its files come with the model)",
                  "from catgan.hub.loader import load",
                  "from catgan.latent.critic import critic_latents, load_critic",
                  f"loaded = load(\"{repo_id or 'weights/' + name}\")",
                  "critic = load_critic(loaded.folder, loaded.generator)",
                  "z, kept = critic_latents(loaded.generator, critic, n=16, seed=0)",
                  "images = sample(loaded.generator, z=z)"]
    lines += ["```", ""]
    lines += ["## Training data", "", f"**{data.title}.** {data.about}", "", f"Licence: {data.license}", "",
              "```bibtex", data.citation, "```", ""]
    if train_config:
        lines += ["## Training configuration", "", "```json", json.dumps(train_config, indent=2), "```", ""]
        lines += ["Reproduce:", "", "```bash", reproduce_command(config, train_config), "```", ""]
    if summary:
        keys = ("steps", "images_seen", "wall_time_s", "mean_images_per_s", "device", "precision")
        lines += ["| steps | images seen | wall time (s) | images/s | device | precision |",
                  "|---|---|---|---|---|---|",
                  "| " + " | ".join(str(summary.get(k, "")) for k in keys) + " |", ""]
        if standing := summary.get("standing_statistics"):
            lines += [f"Its BatchNorm statistics were recomputed for these weights at release, dropout off: the "
                      f"average over {standing['batches']} batches of {standing['batch_size']} latents "
                      "(standing statistics, as in BigGAN).", ""]
    lines += ["## Metrics", ""] + _metrics_section(metrics, values)
    if directions:
        lines += _directions_section(directions)
    if encoder:
        lines += ["## Inversion encoder", "",
                  f"`{ENCODER_NAME}` + `{ENCODER_META}` map a face at this generator's size to its latent z: the "
                  "first guess of \"Your cat\" in the app, refined by latent optimisation and by tuning the "
                  "generator's last layers to the photo "
                  "(`python -m catgan.latent.twin photo.jpg --weights FOLDER`).", ""]
    if critic:
        lines += ["## Critic", "",
                  f"`{CRITIC_NAME}` + `{CRITIC_META}`: a discriminator trained against this generator after its "
                  "training (which left it frozen), then calibrated on held-out faces so that its output s(x) "
                  "estimates log p_data(x) / p_G(x). Sampling keeps a cat with probability "
                  f"min(1, exp({critic['strength']:g} × (s(x) - ceiling))) and redraws the rest: discriminator "
                  f"rejection sampling (Azadi et al. 2019) at strength {critic['strength']:g}. It keeps "
                  f"{critic['keep_rate']:.1%} of the generator's samples; the samples above and the metrics are "
                  "of the kept ones.", ""]
    lines += ["## Model config", "", "```json", json.dumps(asdict(config), indent=2), "```", ""]
    return "\n".join(lines)


def refresh_card(folder: str | os.PathLike, *, metrics: dict | None = None, keep_metrics: bool = True) -> Path:
    """Re-render a weights folder's README.md from what the folder holds: the card's own metadata
    (training config, summary, and metrics unless ``metrics`` replaces them or ``keep_metrics`` is
    False), its evolution GIF, named directions, encoder and critic."""
    folder = Path(folder)
    card = folder / CARD_NAME
    data = read_card_data(card.read_text()) if card.is_file() else {}
    named = load_directions(folder)
    critic = asdict(load_critic(folder).config) if has_critic(folder) else None  # read back strictly
    metrics = metrics or (data.get("metrics") if keep_metrics else None)
    atomic_write_text(card, render_card(read_config(folder, ModelConfig.from_dict), folder=folder,
                                        train_config=data.get("train_config"), summary=data.get("summary"),
                                        metrics=metrics, gif=(folder / EVOLUTION_NAME).is_file(),
                                        directions=named.meta if named else None,
                                        encoder=(folder / ENCODER_NAME).is_file(), critic=critic))
    return card


def _directions_section(meta: dict) -> list[str]:

    shipped = ", ".join(f"\"{d['label']}\"" for d in meta["directions"]) or "none"
    return ["## Named latent directions", "",
            f"Directions found without labels: attributes measured on generated images (the {meta['judge']} "
            "judge's breed probabilities and P(cat), fur lightness and warmth, background lightness), a linear "
            "boundary per attribute in z (InterFaceGAN), and only directions that move their own attribute "
            f"significantly and more than any other ship: {shipped}. Rows: -3 to +3 units, three seeds each.", "",
            f"![directions]({DIRECTIONS_PICTURE})", "",
            f"Mean change from -{meta['step']:g} to +{meta['step']:g} units over {meta['config']['n_test']} held-out "
            "seeds, in units of each attribute's spread (bold: the named attribute):", "",
            effect_table(meta), ""]


def _metrics_section(metrics: dict | None, values: list) -> list[str]:
    if not values:
        return ["Not evaluated yet. Run `python -m catgan.eval`, then publish with "
                "`python -m catgan.hub.publish weights/NAME USER/REPO --results results/table1.json`.", ""]
    lines = ["| metric | value | 95% CI / ± std | note |", "|---|---|---|---|"]
    for m in values:
        fmt = m.fmt.format
        spread = (f"[{fmt(m.ci[0])}, {fmt(m.ci[1])}]" if m.ci else f"± {fmt(m.std)}" if m.std is not None else "n/a")
        lines.append(f"| {m.label} | {fmt(m.value)} | {spread} | {m.note} |")
    if metrics.get("n"):
        lines += ["", f"{metrics['n']} generated images per metric."]
    lines += ["", "### Protocol", ""]
    protocol = metrics.get("protocol")
    if isinstance(protocol, dict):
        lines += [f"- {k}: {v}" for k, v in protocol.items() if isinstance(v, (str, int, float))]
        lines += ["", "<details><summary>full protocol (from the results JSON)</summary>", "", "```json",
                  json.dumps(protocol, indent=2), "```", "", "</details>"]
    elif protocol:
        lines.append(str(protocol))
    else:
        lines.append("As recorded by `catgan.eval.evaluate` (see its results JSON).")
    return lines + [""]


@dataclass(frozen=True)
class Metric:
    key: str  # model-index metric type: fid | kid | cat-rate
    label: str
    value: float
    ci: tuple[float, float] | None
    std: float | None
    fmt: str
    note: str


def metric_values(row: dict) -> list[Metric]:
    """FID, KID (± std) and one cat-rate per judge (with its 95 % CI) of a results row (catgan.eval.results)."""
    out = [Metric("fid", "FID", float(row["fid"]), None, None, *METRICS[0][2:]),
           Metric("kid", "KID", float(row["kid"]), None, float(row["kid_std"]), *METRICS[1][2:])]
    for name, judge in row["judges"].items():
        out.append(Metric("cat-rate", f"cat-rate ({name})", float(judge["cat_rate"]), tuple(map(float, judge["ci95"])),
                          None, *METRICS[2][2:]))
    return out


def read_card_data(text: str) -> dict:
    """The ``catgan:`` metadata block of a card (train_config, summary, metrics), {} if absent."""
    try:
        return dict(ModelCard(text, ignore_metadata_errors=True).data.to_dict().get("catgan") or {})
    except (ValueError, TypeError):
        return {}


def reproduce_command(config: ModelConfig, train_config: dict) -> str:
    words = to_flags(config, ModelConfig(), always=("arch", "img_size"), aliases=ALIASES)
    return "python train.py " + shlex.join(words + to_flags(train_config, TrainConfig(), always=("data", "out")))
