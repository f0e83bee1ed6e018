"""Training configuration: one frozen dataclass. train.py's flags are generated from its fields
and ``ModelConfig``'s by catgan.cli, help text included, so each option is defined once, here."""
import argparse
import dataclasses
import json
import math
from dataclasses import dataclass

from .. import cli
from ..models import ARCHITECTURES, SIZES, ModelConfig
from .diffaug import validate_policy
from .losses import LOSSES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    data: str = ""  # folder or .zip of cat photos
    out: str = "runs/catgan"  # run folder: checkpoint, samples, metrics
    epochs: int = 25  # passes over the data (ignored when --steps is set)
    steps: int = 0  # >0 overrides --epochs; one step = d_steps D updates + g_steps G updates
    batch_size: int = 64  # images per batch, per process
    lr_g: float = 2e-4  # G's Adam learning rate
    lr_d: float = 2e-4  # D's Adam learning rate
    beta1: float = 0.5  # Adam beta1 (0.5, as in DCGAN)
    beta2: float = 0.999  # Adam beta2
    loss: str = "bce"  # bce | hinge | rals (rals diverged with a BatchNorm D in our probe; see README)
    real_label: float = 1.0  # <1: one-sided soft labels (the poster catgan reproduces used 0.9), bce only
    label_noise: float = 0.0  # fraction of D targets flipped, bce only
    d_steps: int = 1  # D updates per step (the poster's D/G balance)
    g_steps: int = 1  # G updates per step
    lr_decay: int = 0  # the last N steps: both learning rates fall linearly toward 0 (0: constant rates)
    r1: float = 0.0  # R1 penalty weight gamma: D's squared gradient norm at real images (0: off)
    r1_every: int = 16  # the R1 penalty is applied every N steps, weighted by N (lazy regularisation)
    ema_decay: float = 0.999  # EMA of G's weights; the exported generator is the EMA one
    diffaug: str = ""  # DiffAugment policy, e.g. "color,translation"
    flip: bool = True  # random horizontal flips of real images
    limit: int = 0  # use only the first N images (0 = all)
    seed: int = 0  # seeds weights, data order and the fixed sample latents
    device: str = "auto"  # auto | cpu | cuda (auto: cuda when visible)
    precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | fp32 | bf16 | fp16 (CUDA, GradScaler)
    channels_last: bool = True  # channels_last memory format for conv nets (faster on CPU and GPU)
    sync_bn: bool = False  # multi-GPU: BatchNorm statistics over the global batch (CUDA only)
    log_every: int = 10  # steps between metrics.jsonl rows
    sample_every: int = 500  # steps between sample grids (samples/step_N.png, frames of evolution.gif)
    ckpt_every: int = 1000  # steps between checkpoints (checkpoint.pt, to --resume)
    grid_size: int = 64  # images in the fixed-noise sample grid
    cache_dir: str = ""  # decoded-dataset cache (default ~/.cache/catgan)
    init_from: str = ""  # a run whose G, D and EMA weights start this one (not its optimisers, step or settings),
    # or a released generator's weights folder, whose weights start G and EMA G (D starts fresh)
    d_warmup: int = 0  # first N steps update D alone, G and EMA G held: a fresh D meets a trained G

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {LOSSES}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {PRECISIONS}")
        if self.device not in DEVICES:
            raise ValueError(f"--device must be one of {DEVICES}")
        validate_policy(self.diffaug)
        for name in ("batch_size", "d_steps", "g_steps", "log_every", "sample_every", "ckpt_every", "grid_size",
                     "r1_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        for name in ("epochs", "steps", "limit", "seed", "d_warmup", "lr_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.epochs < 1 and self.steps < 1:
            raise ValueError("set --epochs or --steps to at least 1")
        lrs_ok = 0 < self.lr_g < math.inf and 0 < self.lr_d < math.inf  # written so that NaN is refused too
        if not lrs_ok or not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("--lr-g and --lr-d must be finite and > 0, --beta1 and --beta2 in [0, 1)")
        if not 0 < self.real_label <= 1 or not 0 <= self.label_noise < 0.5:
            raise ValueError("--real-label must be in (0, 1] and --label-noise in [0, 0.5)")
        if not 0 <= self.r1 < math.inf:
            raise ValueError("--r1 must be finite and >= 0")
        if not 0 <= self.ema_decay < 1:
            raise ValueError("--ema-decay must be in [0, 1)")


ALIASES = {"img_size": ["--size"]}  # `--size {32,64}`, as the README writes it
CHOICES = {"arch": tuple(ARCHITECTURES), "img_size": SIZES, "loss": LOSSES, "precision": PRECISIONS,
           "device": DEVICES}


def add_train_args(parser: argparse.ArgumentParser) -> None:
    """train.py's flags: one per ModelConfig and TrainConfig field."""
    cli.add_dataclass_args(parser, ModelConfig, aliases=ALIASES, choices=CHOICES, title="model")
    cli.add_dataclass_args(parser, TrainConfig, aliases=ALIASES, choices=CHOICES, title="training")


def run_config_json(model: ModelConfig, train: TrainConfig) -> str:
    return json.dumps({"model": dataclasses.asdict(model), "train": dataclasses.asdict(train)}, indent=2)
