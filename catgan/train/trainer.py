"""The training loop: (1) update D, (2) update G, (3) EMA of G; AMP, logging, checkpoints."""
import contextlib
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
from PIL import Image
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from ..hub.loader import is_generator_folder, load_folder
from ..images import make_grid, save_gif, save_png
from ..models import ModelConfig, architecture, build_discriminator, build_generator
from . import losses
from .batches import RealBatches
from .checkpoint import (
    CHECKPOINT_NAME,
    drop_log_rows_after,
    load_checkpoint,
    refuse_changed_settings,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .config import TrainConfig, run_config_json
from .devices import resolve_device, resolve_precision
from .diffaug import diff_augment
from .distributed import DistInfo, gather_across_ranks, mean_across_ranks, params_checksum
from .ema import EMA, held_statistics

METRICS_NAME, SUMMARY_NAME, SAMPLES_DIR = "metrics.jsonl", "summary.json", "samples"
RESUMABLE_CHANGES = {  # may differ between a run and its resume: length, where, how fast, how often to log
    "out", "data", "epochs", "steps", "device", "precision", "channels_last", "sync_bn", "log_every",
    "sample_every", "ckpt_every", "grid_size", "cache_dir", "init_from"}
MAX_GIF_FRAMES = 20  # with GIF_FRACTION, keeps evolution.gif under about 2.5 MB: a 64 px folder stays <= 10 MB
GIF_FRACTION = 0.5  # the GIF shows the top half of the sample grid


class NonFiniteLossError(RuntimeError):
    pass


class Trainer:
    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, images: torch.Tensor, *,
                 dist: DistInfo = DistInfo(), progress: bool = True):
        self.model_cfg, self.cfg, self.progress = model_cfg, cfg, progress
        self.world_size, self.is_main = dist.world_size, dist.is_main
        self.device = resolve_device(cfg.device, dist.local_rank)
        self.precision = resolve_precision(cfg.precision, self.device)
        if images.shape[-1] != model_cfg.img_size:
            raise ValueError(f"images are {images.shape[-1]}px but the model is {model_cfg.img_size}px")
        torch.manual_seed(cfg.seed)
        arch = architecture(model_cfg.arch)
        conv, self.d_aux = arch.channels_last, arch.d_aux_loss
        fmt = torch.channels_last if cfg.channels_last and conv else torch.contiguous_format
        self.G = build_generator(model_cfg).to(self.device, memory_format=fmt)
        self.D = build_discriminator(model_cfg).to(self.device, memory_format=fmt)
        self.ema = EMA(self.G, cfg.ema_decay)
        self.g_net, self.d_net = self._wrap_ddp(dist)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas)
        use_scaler = self.precision == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.batches = RealBatches(images, cfg.batch_size, seed=cfg.seed, flip=cfg.flip, device=self.device,
                                   rank=dist.rank, world_size=dist.world_size,
                                   channels_last=fmt == torch.channels_last)
        g = torch.Generator().manual_seed(cfg.seed)
        self.fixed_z = torch.randn(cfg.grid_size, model_cfg.z_dim, generator=g).to(self.device)
        self.total_steps = cfg.steps or max(1, cfg.epochs * self.batches.per_epoch // cfg.d_steps)
        self.step = 0
        self.train_time_s, self._process_t0 = 0.0, None  # wall time summed over the run and every resume
        self.cpu_time_s, self._process_cpu0 = 0.0, None  # this process's CPU time (all threads), likewise
        self.warm_started: dict = {}  # the run a warm start took its networks from: its step and CPU time then
        self.out = Path(cfg.out)

    def _wrap_ddp(self, dist: DistInfo):
        """DDP keeps G and D identical on every rank (gradients are all-reduced, and BatchNorm
        buffers are broadcast from rank 0 at each forward, so EMA copies stay identical too).
        With --sync-bn (CUDA only) BatchNorm statistics are computed over the global batch."""
        if dist.world_size == 1:
            return self.G, self.D
        if self.cfg.sync_bn:
            if self.device.type != "cuda":
                raise ValueError("--sync-bn needs CUDA (PyTorch's SyncBatchNorm is GPU-only)")
            self.G = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.G)
            self.D = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.D)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(self.G, device_ids=ids), DDP(self.D, device_ids=ids)

    # -- one step ---------------------------------------------------------------------------
    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _noise(self) -> torch.Tensor:
        return torch.randn(self.cfg.batch_size, self.model_cfg.z_dim, device=self.device)

    def _d(self, x: torch.Tensor, net: torch.nn.Module, aux: bool = False):
        """D's logits on (augmented) ``x``; with ``aux``, (logits, D's self-supervised loss)."""
        x = diff_augment(x, self.cfg.diffaug) if self.cfg.diffaug else x
        return net(x, aux=True) if aux else net(x)

    def lr_scale(self) -> float:
        """The learning rates' factor for the step about to run: 1, then over the last ``lr_decay`` steps
        falling linearly to 1/lr_decay at the last one. A function of the step alone, so a resume goes on
        along the same schedule."""
        if not self.cfg.lr_decay:
            return 1.0
        return min(1.0, (self.total_steps - self.step) / self.cfg.lr_decay)

    def train_step(self) -> torch.Tensor:
        """One step; returns [loss_d, loss_g, d_real, d_fake] as a detached tensor."""
        cfg = self.cfg
        scale = self.lr_scale()
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        warming = self.step < cfg.d_warmup  # D alone: G and its EMA are held
        # (1) update D on d_steps fresh real batches; the last fake batch is reused for G
        for i in range(cfg.d_steps):
            real = self.batches.get(self.step * cfg.d_steps + i)
            penalise = cfg.r1 > 0 and i == cfg.d_steps - 1 and self.step % cfg.r1_every == 0
            real = real.detach().requires_grad_(True) if penalise else real
            held = held_statistics(self.G) if warming else contextlib.nullcontext()  # G's BatchNorm buffers too
            with self.autocast():
                with torch.set_grad_enabled(i == cfg.d_steps - 1 and not warming), held:
                    fake = self.g_net(self._noise())
                logit_real, aux = self._d(real, self.d_net, aux=True) if self.d_aux else (
                    self._d(real, self.d_net), 0.0)
                logit_fake = self._d(fake.detach(), self.d_net)
            loss_d = aux + losses.d_loss(cfg.loss, logit_real, logit_fake, real_label=cfg.real_label,
                                         label_noise=cfg.label_noise)
            total = loss_d  # what is logged stays the adversarial loss
            if penalise:
                total = total + cfg.r1 / 2 * cfg.r1_every * losses.r1_penalty(logit_real, real,
                                                                           self.scaler_d.get_scale())
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler_d.scale(total).backward()
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
        if warming:
            return self._stats(loss_d, torch.zeros_like(loss_d), logit_real, logit_fake)
        # (2) update G to fool the updated D; D's weight gradients aren't needed here, and D is
        # called unwrapped (no DDP gradient sync for a network that isn't stepped)
        self.D.requires_grad_(False)
        for j in range(cfg.g_steps):
            with self.autocast():
                if j > 0:
                    fake = self.g_net(self._noise())
                logit_fake_g = self._d(fake, self.D)
                logit_real_g = self._d(real, self.D) if cfg.loss == "rals" else None
            loss_g = losses.g_loss(cfg.loss, logit_fake_g, logit_real_g)
            self.opt_g.zero_grad(set_to_none=True)
            self.scaler_g.scale(loss_g).backward()
            self.scaler_g.step(self.opt_g)
            self.scaler_g.update()
        self.D.requires_grad_(True)
        # (3) EMA generator: what gets sampled and exported; after a warm start it already holds trained
        # weights, so its decay needs no warm-up
        self.ema.update(self.G, None if self.warm_started else self.step)
        return self._stats(loss_d, loss_g, logit_real, logit_fake)

    @staticmethod
    def _stats(loss_d, loss_g, logit_real, logit_fake) -> torch.Tensor:
        return torch.stack([loss_d.detach(), loss_g.detach(), torch.sigmoid(logit_real.detach().float()).mean(),
                            torch.sigmoid(logit_fake.detach().float()).mean()])

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step, "G": self.G.state_dict(), "D": self.D.state_dict(), "ema": self.ema.model.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "rng": rng_state(), "model_config": asdict(self.model_cfg), "train_config": asdict(self.cfg),
            "train_time_s": self.elapsed(), "cpu_time_s": self.cpu_elapsed(), "warm_started": self.warm_started,
        }

    def _check_model(self, model_config: dict, where: str) -> None:
        if model_config != asdict(self.model_cfg):
            raise ValueError(f"{where} holds a {model_config} model, not {asdict(self.model_cfg)}")

    def _load_networks(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.ema.model.load_state_dict(state["ema"])

    def load_state_dict(self, state: dict) -> None:
        self._check_model(state["model_config"], "checkpoint")
        refuse_changed_settings(state.get("train_config", {}), asdict(self.cfg), RESUMABLE_CHANGES)
        self._load_networks(state)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        set_rng_state(state["rng"])
        self.step = state["step"]
        self.train_time_s = state.get("train_time_s", 0.0)
        self.cpu_time_s = state.get("cpu_time_s", 0.0)
        self.warm_started = state.get("warm_started", {})

    def elapsed(self) -> float:
        """Training wall time so far, including the processes before each resume."""
        now = time.perf_counter()
        return self.train_time_s + (now - self._process_t0 if self._process_t0 is not None else 0.0)

    def cpu_elapsed(self) -> float:
        """CPU time (every thread) while training so far, including the processes before each resume: what
        a run costs on a shared machine, where wall time also counts the other jobs."""
        now = time.process_time()
        return self.cpu_time_s + (now - self._process_cpu0 if self._process_cpu0 is not None else 0.0)

    def resume(self) -> None:
        """Continue from ``out/checkpoint.pt``; metrics logged after it (by a killed run) are dropped."""
        self.load_state_dict(load_checkpoint(self.out / CHECKPOINT_NAME, map_location=self.device, required=(
            "step", "G", "D", "ema", "opt_g", "opt_d", "scaler_g", "scaler_d", "rng", "model_config")))
        if self.is_main:
            drop_log_rows_after(self.out / METRICS_NAME, "step", self.step)

    def warm_start(self, source: str | Path) -> str:
        """Start from trained networks, with this run's own optimisers, settings and clocks, from step 0, so a
        new recipe (DiffAugment, another loss) goes on from where earlier training got to. ``source`` is a run
        (folder or checkpoint of the same model config: its G, D and EMA weights) or a released generator's
        weights folder (its weights start G and EMA G; D starts fresh, so pair it with ``d_warmup``).
        Returns what was taken, for the log."""
        if is_generator_folder(Path(source)):
            released = load_folder(source)
            self._check_model(asdict(released.config), f"--init-from {source}")
            weights = released.state_dict()
            self.G.load_state_dict(weights)
            self.ema.model.load_state_dict(weights)
            self.warm_started = {"generator": str(source)}
            return f"the generator of {source} (D starts fresh)"
        state = load_checkpoint(source, map_location=self.device, required=("step", "G", "D", "ema", "model_config"))
        self._check_model(state["model_config"], f"--init-from {source}")
        self._load_networks(state)
        before = state.get("warm_started", {}).get("cpu_time_s", 0.0)  # a chain of warm starts adds up
        self.warm_started = {"step": state["step"], "cpu_time_s": state.get("cpu_time_s", 0.0) + before}
        return f"the networks of {source} (its step {state['step']})"

    def save(self) -> None:
        bad = [n for n, p in self.G.named_parameters() if not torch.isfinite(p).all()]
        bad += [n for n, p in self.D.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise NonFiniteLossError(f"weights became non-finite at step {self.step} ({bad[0]}); {self._kept()}")
        if self.is_main:
            save_checkpoint(self.state_dict(), self.out / CHECKPOINT_NAME)

    def _kept(self) -> str:
        """What a stopped run leaves behind, truthfully."""
        ckpt = self.out / CHECKPOINT_NAME
        if ckpt.is_file():
            return f"{ckpt} keeps the last good state"
        return "no checkpoint was written yet (lower --ckpt-every to keep one sooner)"

    def check_ranks(self) -> dict:
        """Multi-process runs: are G, D and EMA G identical on every rank, and did the ranks
        draw disjoint data? Recorded in summary.json."""
        if self.world_size == 1:
            return {}
        sums = torch.cat([params_checksum(m) for m in (self.G, self.D, self.ema.model)]).to(self.device)
        in_sync = all(torch.equal(sums, other) for other in gather_across_ranks(sums))
        shards = [set(s.tolist()) for s in gather_across_ranks(self.batches.shard(0))]
        overlap = sum(len(a & b) for i, a in enumerate(shards) for b in shards[i + 1:])
        return {"ranks_in_sync": in_sync, "epoch0_shard_overlap": overlap,
                "epoch0_shard_sizes": [len(s) for s in shards]}

    # -- outputs -----------------------------------------------------------------------------
    @torch.no_grad()
    def save_samples(self) -> Path:
        grid = make_grid(self.ema.model(self.fixed_z).float(), nrow=int(math.sqrt(self.cfg.grid_size)))
        path = self.out / SAMPLES_DIR / f"step_{self.step:07d}.png"
        save_png(grid, path)
        return path

    def write_gif(self) -> None:
        frames = sorted((self.out / SAMPLES_DIR).glob("step_*.png"))
        stride = max(1, math.ceil(len(frames) / MAX_GIF_FRAMES))
        keep = frames[::stride] + ([frames[-1]] if (len(frames) - 1) % stride else [])

        def top(img):
            return img.crop((0, 0, img.width, round(img.height * GIF_FRACTION)))
        save_gif([top(Image.open(p).convert("RGB")) for p in keep], self.out / "evolution.gif", duration_ms=250)

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg, b = self.cfg, self.cfg.batch_size
        imgs_per_step = b * cfg.d_steps * self.world_size
        if self.is_main:
            (self.out / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(run_config_json(self.model_cfg, cfg))
        wall0 = time.perf_counter()
        self._process_t0, t_last, steps_since = wall0, wall0, 0
        self._process_cpu0 = time.process_time()
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not (self.progress and self.is_main), desc=self.model_cfg.name)
        with bar, open(self.out / METRICS_NAME, "a") if self.is_main else contextlib.nullcontext() as log:
            while self.step < self.total_steps:
                stats = self.train_step()
                self.step += 1
                steps_since += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                    loss_d, loss_g, d_real, d_fake = mean_across_ranks(stats).tolist()
                    if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
                        raise NonFiniteLossError(
                            f"loss became non-finite at step {self.step} (loss_d={loss_d}, loss_g={loss_g}); "
                            f"stopped. {self._kept()}. Try --precision fp32 or lower learning rates.")
                    now = time.perf_counter()
                    ips = steps_since * imgs_per_step / (now - t_last)
                    t_last, steps_since = now, 0
                    row = {"step": self.step, "epoch": round(self.step * cfg.d_steps / self.batches.per_epoch, 4),
                           "loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake,
                           "images_per_s": round(ips, 1), "cpu_s": round(self.cpu_elapsed(), 1)}
                    if log:
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                    bar.set_postfix(loss_d=f"{loss_d:.3f}", loss_g=f"{loss_g:.3f}", Dx=f"{d_real:.2f}",
                                    DGz=f"{d_fake:.2f}", img_s=f"{ips:.0f}")
                if self.is_main and self.step % cfg.sample_every == 0:
                    self.save_samples()
                if self.step % cfg.ckpt_every == 0:
                    self.save()
        self.save()
        wall = time.perf_counter() - wall0
        sync = self.check_ranks()
        total = self.elapsed()
        summary = {"steps": self.step, "images_seen": self.step * imgs_per_step, "wall_time_s": round(total, 2),
                   "cpu_time_s": round(self.cpu_elapsed(), 1),
                   "process_wall_time_s": round(wall, 2),
                   "mean_images_per_s": round(self.step * imgs_per_step / max(total, 1e-9), 1),
                   "device": str(self.device), "precision": self.precision, "world_size": self.world_size,
                   "epochs": round(self.step * cfg.d_steps / self.batches.per_epoch, 3), **sync}
        if self.is_main:
            self.save_samples()
            self.write_gif()
            (self.out / SUMMARY_NAME).write_text(json.dumps(summary, indent=2))
        return summary
