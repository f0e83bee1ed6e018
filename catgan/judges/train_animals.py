"""Train resnet-animals on the animal classes of cifar10.zip and write its weights folder + card.

    python -m catgan.judges train --data ../shared/data/cifar10.zip --out weights/resnet-animals

SGD + Nesterov momentum, cosine or one-cycle learning rate, random crop (``--pad``, reflect) + flip,
optional cutout (``--cutout``: a square of that side set to the data mean), an optional EMA of the
weights (catgan.train.ema, the GAN trainer's), bf16 autocast and channels_last (on CPU too: about 2x
faster with AVX512-BF16). A checkpoint (catgan.train.checkpoint) is written to ``--run`` after every
epoch; ``--resume`` continues from it exactly (same data order) and refuses changed settings. The
card states the accuracy of the saved files on the CIFAR-10 test split of those classes. ``ship``
copies a finished run (one trained elsewhere, say on a GPU machine) into weights/, re-measures it
here and re-writes its card with this checkout's paths.
"""
from __future__ import annotations

import json
import math
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..cli import to_flags
from ..fileio import atomic_write_text
from ..images import to_float
from ..train.checkpoint import (
    CHECKPOINT_NAME,
    check_run_folder,
    drop_log_rows_after,
    load_checkpoint,
    move_run_aside,
    refuse_changed_settings,
    save_checkpoint,
)
from ..train.ema import EMA
from ..weights import CARD_NAME, save_folder
from .animals import ANIMALS, OTHER, PREPROCESS, AnimalNetConfig, build_net, load_cifar, load_model, mirror_average
from .animals_card import render_card

MAX_FP32_BYTES = 5_000_000  # weights/ budget for the judge: bigger nets ship as fp16

RESUMABLE_CHANGES = {"resume", "overwrite", "max_steps", "device", "out"}  # may differ between a run and its resume
SCHEDULES = ("cosine", "onecycle")
PRECISIONS = ("bf16", "fp32")
CHECKPOINT_KEYS = ("model", "opt", "sched", "ema", "gen", "step", "epoch", "config", "train_time_s")


@dataclass(frozen=True)
class AnimalTrainConfig:
    data: str = "../shared/data/cifar10.zip"  # cifar10.zip: train/<class>/ and test/<class>/ images
    out: str = "weights/resnet-animals"  # the weights folder to write: config.json, model.safetensors, README.md
    arch: str = "cifar-resnet"  # cifar-resnet (He et al. 2016) or fast-resnet (ResNet-9 / airbench family)
    depth: int = 20  # cifar-resnet: 6n + 2
    width: int = 32  # cifar-resnet: first stage's channels; fast-resnet: stages of w, 4w, 4w
    flip_tta: bool = False  # the judge averages over the image and its mirror (stated on the card)
    epochs: int = 120  # the learning-rate schedule spans all of them
    batch_size: int = 128  # images per SGD step
    lr: float = 0.1  # peak learning rate (SGD, Nesterov momentum 0.9)
    schedule: str = "cosine"  # cosine, or onecycle: linear warm-up over `warmup` of the steps, then linear to 0
    warmup: float = 0.2  # onecycle: the share of the steps spent warming up
    weight_decay: float = 5e-4  # SGD weight decay
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    pad: int = 4  # random-crop translation, pixels
    cutout: int = 0  # > 0: side of a random square (clipped at the border) set to the data mean
    ema: float = 0.0  # > 0: ship an EMA of the weights (catgan.train.ema: this decay per step, warmed up; BN stats copied)
    other_per_class: int = 0  # > 0: a seventh class, "other", of this many training images per vehicle class
    limit_per_class: int | None = None  # at most this many images per class and split (small subsets, for tests)
    max_steps: int | None = None  # stop early (for tests); the schedule still spans all epochs
    device: str = "cpu"  # cpu, cuda, cuda:1, ...
    precision: str = "bf16"  # bf16 autocast or fp32
    run: str = "runs/resnet-animals"  # checkpoint.pt, metrics.jsonl and summary.json
    resume: bool = False  # continue from RUN/checkpoint.pt with the run's own settings
    overwrite: bool = False  # start again in a RUN that holds a run; the old one is kept as RUN.replaced-DATE-TIME
    seed: int = 0  # weight init, data order and augmentation

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"--schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        AnimalNetConfig(self.depth, self.width, ANIMALS, self.arch, self.flip_tta)  # arch and depth
        for name, (allowed, ok) in RANGES.items():
            value = getattr(self, name)
            if value is not None and not ok(value):  # comparisons with NaN are False: NaN is refused too
                raise ValueError(f"--{name.replace('_', '-')} must be in {allowed}, got {value}")
        try:
            torch.device(self.device)
        except RuntimeError:
            raise ValueError(f"--device must name a torch device (cpu, cuda, cuda:1, ...), got {self.device!r}") from None


# every numeric field's range, as said and as checked; None stays allowed where the default is None
RANGES = {
    "depth": ("[8, 1202]", lambda v: 8 <= v <= 1202),  # He et al. 2016 go up to ResNet-1202
    "width": ("[1, 1024]", lambda v: 1 <= v <= 1024),
    "epochs": ("[1, inf)", lambda v: v >= 1),
    "batch_size": ("[1, inf)", lambda v: v >= 1),
    "lr": ("(0, inf)", lambda v: 0 < v < math.inf),
    "warmup": ("[0, 1]", lambda v: 0 <= v <= 1),
    "weight_decay": ("[0, inf)", lambda v: 0 <= v < math.inf),
    "label_smoothing": ("[0, 1)", lambda v: 0 <= v < 1),
    "pad": ("[0, 31]", lambda v: 0 <= v <= 31),  # reflect padding needs less than the 32 px side
    "cutout": ("[0, 32]", lambda v: 0 <= v <= 32),
    "ema": ("[0, 1)", lambda v: 0 <= v < 1),
    "other_per_class": ("[0, inf)", lambda v: v >= 0),
    "limit_per_class": ("[1, inf)", lambda v: v >= 1),
    "max_steps": ("[1, inf)", lambda v: v >= 1),
    "seed": ("[0, 2^63)", lambda v: 0 <= v < 2**63),
}


def reproduce_command(config: dict) -> str:
    """The command line that trains a run's ``config`` (its asdict) again."""
    again = {k: v for k, v in config.items() if k not in ("resume", "overwrite")}
    return "python -m catgan.judges train " + shlex.join(to_flags(again, AnimalTrainConfig(),
                                                                  always=("data", "out", "run")))


def _normalise(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> the net's input, normalised as the judge does it."""
    return PREPROCESS.normalise(to_float(x_uint8))


def _augment(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random 32px crop of the reflect-padded batch + horizontal flip; x is (N, 3, 32, 32)."""
    n = x.shape[0]
    padded = F.pad(x, (pad,) * 4, mode="reflect")
    dx, dy = (torch.randint(0, 2 * pad + 1, (2, n), generator=gen)).to(x.device)
    idx = torch.arange(32, device=x.device)
    rows = (dy[:, None] + idx)[:, None, :, None].expand(n, 3, 32, 32 + 2 * pad)
    x = padded.gather(2, rows)
    cols = (dx[:, None] + idx)[:, None, None, :].expand(n, 3, 32, 32)
    x = x.gather(3, cols)
    flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, device) -> dict:
    """Top-1 accuracy on the animal images (labels < 6) as the judge computes it (``accuracy``,
    ``per_class``: with flip averaging iff ``model.config.flip_tta``), plus both variants for
    reference. ``per_class`` includes ``other`` when the net has it: the share of vehicles it calls other."""
    model.eval()
    plain, flipped = [], []
    for i in range(0, len(images), 500):
        x = _normalise(images[i:i + 500].to(device)).contiguous(memory_format=torch.channels_last)
        logits = model(x)
        plain.append(logits.float().argmax(-1).cpu())
        flipped.append(mirror_average(logits, model(x.flip(3))).argmax(-1).cpu())  # as FlipAverage, one pass fewer
    preds, preds_flip = torch.cat(plain), torch.cat(flipped)
    judged = preds_flip if model.config.flip_tta else preds
    per_class = {c: float((judged[labels == k] == k).float().mean()) for k, c in enumerate(model.config.classes)}
    animal = labels < len(ANIMALS)
    return {"accuracy": float((judged == labels)[animal].float().mean()), "per_class": per_class,
            "n": int(animal.sum()), "n_other": int((~animal).sum()),
            "accuracy_plain": float((preds == labels)[animal].float().mean()),
            "accuracy_flip_tta": float((preds_flip == labels)[animal].float().mean())}


def _cutout(x: torch.Tensor, gen: torch.Generator, size: int) -> torch.Tensor:
    """Zero a random ``size`` square of each normalised image (0 = the data mean); centres are uniform
    over the image, so the square may be clipped at the border (DeVries & Taylor 2017)."""
    n, _, h, w = x.shape
    cy, cx = torch.randint(0, h, (n,), generator=gen), torch.randint(0, w, (n,), generator=gen)
    ys, xs = torch.arange(h), torch.arange(w)
    inside_y = (ys[None] >= (cy - size // 2)[:, None]) & (ys[None] < (cy - size // 2 + size)[:, None])
    inside_x = (xs[None] >= (cx - size // 2)[:, None]) & (xs[None] < (cx - size // 2 + size)[:, None])
    mask = (inside_y[:, :, None] & inside_x[:, None, :]).to(x.device)
    return x.masked_fill(mask[:, None], 0.0)


def _lr_factor(cfg: AnimalTrainConfig, total: int):
    if cfg.schedule == "cosine":
        return lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    warm = max(1, round(cfg.warmup * total))
    return lambda s: s / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))


def train(cfg: AnimalTrainConfig, progress: bool = True) -> dict:
    classes = ANIMALS + (OTHER,) if cfg.other_per_class else ANIMALS
    net_config = AnimalNetConfig(cfg.depth, cfg.width, classes, cfg.arch, cfg.flip_tta)  # checked before loading
    run = Path(cfg.run)
    check_run_folder(run, resume=cfg.resume, overwrite=cfg.overwrite)  # refusals come before any data is loaded
    state = load_checkpoint(run, required=CHECKPOINT_KEYS) if cfg.resume else None
    if state is not None:  # checkpoints older than a setting ran with its default
        refuse_changed_settings(state["config"], asdict(cfg), RESUMABLE_CHANGES, asdict(AnimalTrainConfig()))
    device = torch.device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest convolutions
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x_train, y_train = load_cifar(cfg.data, "train", ANIMALS, cfg.limit_per_class, cfg.other_per_class)
    # the test split's vehicles are all "other" (when that class exists); accuracy counts the animals only
    x_test, y_test = load_cifar(cfg.data, "test", ANIMALS, cfg.limit_per_class, None if cfg.other_per_class else 0)
    model = build_net(net_config)
    if hasattr(model, "init_whitening"):
        model.init_whitening(_normalise(x_train[torch.randperm(len(x_train), generator=gen)[:5000]]))
    model.to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, momentum=0.9,
                          nesterov=True, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    schedule = cfg.epochs * steps_per_epoch  # the schedule runs over all epochs; --max-steps only stops early
    total = min(schedule, cfg.max_steps or schedule)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(cfg, schedule))
    ema = EMA(model, cfg.ema) if cfg.ema else None
    shipped = ema.model if ema is not None else model  # what is evaluated each epoch and saved
    if cfg.overwrite:
        move_run_aside(run)
    run.mkdir(parents=True, exist_ok=True)
    step, epoch, elapsed = 0, 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        gen.set_state(state["gen"])
        step, epoch, elapsed = state["step"], state["epoch"], state["train_time_s"]
        drop_log_rows_after(run / "metrics.jsonl", "epoch", epoch)
    x_dev, y_dev = x_train.to(device), y_train.to(device)
    start = time.time() - elapsed
    bar = tqdm(total=total, initial=step, desc="resnet-animals", unit="step", disable=not progress)
    while step < total:
        model.train()
        order = torch.randperm(len(x_train), generator=gen).to(device)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            x = _normalise(_augment(x_dev[idx], gen, cfg.pad))
            if cfg.cutout:
                x = _cutout(x, gen, cfg.cutout)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                loss = F.cross_entropy(model(x).float(), y_dev[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model, step)
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            if step >= total:
                break
        if i + cfg.batch_size < len(order):  # stopped mid-epoch (--max-steps): no epoch checkpoint
            break
        epoch += 1
        test = evaluate(shipped, x_test, y_test, device)
        bar.set_postfix(loss=f"{loss.item():.3f}", test=f"{100 * test['accuracy']:.1f}%")
        with open(run / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"epoch": epoch, "step": step, "loss": round(loss.item(), 4),
                                "test_accuracy": test["accuracy"], "test_accuracy_plain": test["accuracy_plain"],
                                "test_accuracy_flip_tta": test["accuracy_flip_tta"],
                                "lr": sched.get_last_lr()[0], "time_s": round(time.time() - start, 1)}) + "\n")
        save_checkpoint({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                         "ema": ema.state_dict() if ema is not None else None,
                         "gen": gen.get_state(), "step": step, "epoch": epoch, "config": asdict(cfg),
                         "train_time_s": time.time() - start}, run / CHECKPOINT_NAME)
    bar.close()
    wall = round(time.time() - start, 1)
    shipped = shipped.cpu().to(memory_format=torch.contiguous_format)
    fp16 = sum(p.numel() for p in shipped.state_dict().values()) * 4 > MAX_FP32_BYTES
    save_folder(cfg.out, shipped, shipped.config, card="", fp16=fp16)  # the card follows, once measured
    shipped = load_model(cfg.out)  # the card states the accuracy of the files as shipped (fp16 included)
    where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    summary = {"test": evaluate(shipped, x_test, y_test, "cpu"), "steps": step, "epochs": epoch,
               "train_images": len(x_train), "wall_time_s": wall, "device": where, "fp16": fp16,
               "config": asdict(cfg)}
    atomic_write_text(Path(cfg.out) / CARD_NAME, render_card(shipped, summary, reproduce_command(summary["config"])))
    atomic_write_text(run / "summary.json", json.dumps(summary, indent=2))
    return summary


def ship(run: str | Path, out: str | Path, data: str | Path, note: str = "") -> dict:
    """Measure ``run``/export (written by ``train``) on ``data`` (it must score the run's own figure: same
    weights, same test images), then write it to ``out`` with a card that names ``data``, ``out`` and
    ``run`` as given here, plus ``note`` (how the run was made). The tensors are copied unchanged."""
    run, out = Path(run), Path(out)
    if out.resolve() == (run / "export").resolve():
        raise ValueError(f"--out {out} is the run's own export; ship it to another folder")
    summary = json.loads((run / "summary.json").read_text())
    model = load_model(run / "export")
    x, y = load_cifar(data, "test", ANIMALS, summary["config"]["limit_per_class"],
                      None if OTHER in model.config.classes else 0)
    test = evaluate(model, x, y, "cpu")
    was = summary["test"]
    if (test["n"], test["n_other"]) != (was["n"], was["n_other"]) or abs(test["accuracy"] - was["accuracy"]) > 1e-6:
        raise ValueError(f"{run / 'export'} scores {100 * test['accuracy']:.2f} % on {test['n']} test images of "
                         f"{data}, but the run measured {100 * was['accuracy']:.2f} % on {was['n']}: "
                         "not the same weights or test images")
    summary = {**summary, "test": test, "note": note,
               "config": {**summary["config"], "data": str(data), "out": str(out), "run": str(run)}}
    # fp16 files hold values that fp32 represents exactly, so re-saving as fp16 gives the same tensors
    card = render_card(model, summary, reproduce_command(summary["config"]))
    save_folder(out, model, model.config, card=card, fp16=summary["fp16"])
    atomic_write_text(run / "summary-shipped.json", json.dumps(summary, indent=2))
    return summary
