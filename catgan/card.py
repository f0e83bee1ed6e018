"""Model cards (README.md with YAML metadata) for exported generators."""
import json
from dataclasses import asdict

from .models import ModelConfig

CAT_FACES = "Cats faces 64x64 (Spandan Ghosh, Kaggle 2018), derived from the CAT dataset (Zhang, Sun & Tang, ECCV 2008)"


def render_card(config: ModelConfig, *, train_config: dict | None = None, summary: dict | None = None,
                metrics: dict | None = None, repo_id: str | None = None) -> str:
    name = f"{config.arch}-{config.img_size}"
    family = ("fully connected GAN (Goodfellow et al. 2014)" if config.arch == "gan"
              else "DCGAN (Radford et al. 2015)")
    lines = [
        "---", "library_name: catgan", "license: other", "license_name: research-only",
        "tags:", "- gan", "- image-generation", "- unconditional-image-generation", "- cats",
        "pipeline_tag: unconditional-image-generation", "---", "",
        f"# catgan {name}", "",
        f"A {family} generator of {config.img_size}x{config.img_size} cat faces, trained with "
        "[catgan](https://github.com/catgan/catgan). This is the EMA copy of the generator.", "",
        "![samples](samples.png)", "",
    ]
    lines += ["## Load and sample", "", "```python",
              "from catgan import load_generator, sample",
              f"generator = load_generator(\"{repo_id or 'weights/' + name}\")",
              "images = sample(generator, n=16, seed=0)  # list of PIL images", "```", ""]
    lines += ["## Training data", "", f"{CAT_FACES}. Research / non-commercial use only; the photos' "
              "copyright stays with their owners.", ""]
    if train_config:
        lines += ["## Training", "", "```json", json.dumps(train_config, indent=2), "```", ""]
        lines += ["Reproduce:", "", "```bash", reproduce_command(config, train_config), "```", ""]
    if summary:
        lines += ["| steps | images seen | wall time (s) | images/s | device | precision |", "|---|---|---|---|---|---|",
                  f"| {summary.get('steps', '')} | {summary.get('images_seen', '')} | {summary.get('wall_time_s', '')} "
                  f"| {summary.get('mean_images_per_s', '')} | {summary.get('device', '')} | {summary.get('precision', '')} |", ""]
    if metrics:
        lines += ["## Metrics", "", "```json", json.dumps(metrics, indent=2), "```", ""]
    lines += ["## Model config", "", "```json", json.dumps(asdict(config), indent=2), "```", ""]
    return "\n".join(lines)


def reproduce_command(config: ModelConfig, train_config: dict) -> str:
    from .config import TrainConfig
    defaults = asdict(TrainConfig())
    args = [f"--arch {config.arch}", f"--size {config.img_size}"]
    for key, value in train_config.items():
        if key in ("data", "out") or value != defaults.get(key):
            flag = key.replace("_", "-")
            if isinstance(value, bool):
                args.append(f"--{flag}" if value else f"--no-{flag}")
            else:
                args.append(f"--{flag} {value}")
    for key in ("z_dim", "g_width", "d_width", "g_dropout", "d_spectral_norm"):
        value = getattr(config, key)
        if value != getattr(ModelConfig(), key):
            args.append(f"--{key.replace('_', '-')}" + ("" if isinstance(value, bool) else f" {value}"))
    return "python train.py " + " ".join(args)
