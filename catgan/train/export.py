"""Releases: the EMA generator of a run as a weights folder (config.json, model.safetensors,
README.md model card, samples.png). The same folder layout is pushed to / pulled from the Hub."""
import copy
import json
import os
import shutil
from pathlib import Path

from ..eval.results import find_row, read_table
from ..hub.card import render_card
from ..latent import latents, sample_grid
from ..models import HubModel, ModelConfig, build_generator
from ..weights import EVOLUTION_NAME, SAMPLES_NAME, save_folder
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .ema import standing_statistics

STANDING_BATCH = TrainConfig.batch_size  # latents per batch of standing statistics: the trainer's default batch
STANDING_SEED = 10_000  # their seeds: STANDING_SEED + batch index, apart from the seeds samples and FID use


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *, fp16: bool = False,
               results: str | os.PathLike | None = None, standing: int = 0) -> Path:
    """Export ``run_dir``'s EMA generator to ``out_dir``; with ``results`` (a catgan.eval.evaluate JSON that
    has a row for ``out_dir``) the model card carries the measured metrics. ``standing`` > 0 recomputes
    its BatchNorm statistics over that many batches of latents first (ema.standing_statistics)."""
    run_dir = Path(run_dir)
    metrics = _metrics_row(results, Path(out_dir)) if results else None
    state = load_checkpoint(run_dir, required=("ema", "model_config", "train_config", "step"))
    generator = build_generator(ModelConfig(**state["model_config"]))
    generator.load_state_dict(state["ema"])
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if summary.get("steps") != state["step"]:  # stopped after its last summary: describe the checkpoint instead
        summary = {"steps": state["step"], "wall_time_s": round(state.get("train_time_s", 0.0), 1),
                   **({"cpu_time_s": round(state["cpu_time_s"], 1)} if "cpu_time_s" in state else {}),
                   "note": "the run was stopped before it finished; figures from its last checkpoint"}
    if standing:
        batches = (latents(generator.config.z_dim, STANDING_BATCH, STANDING_SEED + i) for i in range(standing))
        summary["standing_statistics"] = {"batches": standing_statistics(generator, batches),
                                          "batch_size": STANDING_BATCH, "seeds": f"{STANDING_SEED} + batch"}
    gif = run_dir / EVOLUTION_NAME
    return save_generator(generator, out_dir, fp16=fp16, train_config=state["train_config"], summary=summary,
                          metrics=metrics, extra_files=(gif,) if gif.exists() else ())


def _metrics_row(results: str | os.PathLike, out_dir: Path) -> dict:
    row = find_row(read_table(results), [str(out_dir), str(out_dir.resolve()), out_dir.name])
    if row is None:
        raise ValueError(f"{results} has no row for {out_dir}; run catgan.eval.evaluate on it first")
    return row


def save_generator(generator: HubModel, out_dir: str | os.PathLike, *, fp16: bool = False,
                   train_config: dict | None = None, summary: dict | None = None, metrics: dict | None = None,
                   extra_files: tuple = (), n_grid: int = 64, seed: int = 0) -> Path:
    """The weights folder of ``generator`` (catgan.weights' format) + samples.png + ``extra_files``."""
    model = copy.deepcopy(generator).cpu().eval()
    extra = {SAMPLES_NAME: lambda path: sample_grid(model, n_grid, seed).save(path)}
    extra |= {Path(src).name: (lambda path, src=src: shutil.copyfile(src, path)) for src in extra_files}
    card = render_card(model.config, folder=out_dir, train_config=train_config, summary=summary,
                       metrics=metrics, gif=any(Path(src).name == EVOLUTION_NAME for src in extra_files))
    return save_folder(out_dir, model, model.config, card=card, fp16=fp16, extra=extra)
