"""Table 1: cat-rate per judge, FID, KID and near-copies for the real data and each generator.

    python -m catgan.eval --real ../shared/data/cat-faces-64.zip \
        --models weights/gan-64 weights/dcgan-64 --judges resnet50 efficientnet_lite0 --n 10000

Writes results/table1.md and results/table1.json (rows + the full protocol). The real row judges
every real image; its FID/KID compare two random halves of the real set (a floor, biased up at
small n); each generator's n samples are compared against the whole real set at its resolution.
Inception features and judge probabilities are cached by image content (and judge weights), so
re-running with the same weights and seed, say with another judge added, only computes what is new.

    python -m catgan.eval --update --models weights/gan-64 --n 10000 ...

``--update`` re-scores only the given generators and puts their rows into the existing
OUT/table1.json (replacing rows of the same source, keeping every other row), after checking that
the table was measured with the same protocol (real set, n, seed, judges, KID settings).
"""
from __future__ import annotations

import datetime
import json
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import cli
from ..data.dataset import image_names, load_images
from ..fileio import atomic_write_text
from ..hub.loader import load_generator
from ..images import from_uint8, to_uint8
from ..judges import DEFAULT_JUDGE, JUDGES, OFFLINE_JUDGE, load_judge
from ..latent.critic import critic_latents, has_critic, load_critic
from ..latent.sampling import latents
from ..models import SIZES
from . import metrics
from .inception import inception_features, load_inception
from .results import merge_rows, read_table, render_markdown


@dataclass(frozen=True)
class EvalConfig:
    real: str = "../shared/data/cat-faces-64.zip"  # the real images: a zip or folder of cat faces
    models: tuple[str, ...] = ()  # weights folders (config.json + model.safetensors), one table row each
    judges: tuple[str, ...] = (DEFAULT_JUDGE, OFFLINE_JUDGE)  # classifiers that say "cat" (catgan.judges)
    n: int = 10000  # samples per generator (the real row judges every real image)
    real_limit: int | None = None  # use only the first N real images (quick runs, tests)
    img_size: int = 64  # resolution of the real row
    seed: int = 0  # latent seed for the generators' samples
    batch_size: int = 64  # generator and judge batch size
    inception: str | None = None  # FID Inception weights; unset: $CATGAN_FID_INCEPTION, ../shared/weights, download
    kid_subsets: int = 100  # KID: number of random subsets
    kid_subset_size: int = 1000  # KID: images per subset
    out: str = "results"  # folder for table1.md and table1.json
    device: str = "cpu"  # cpu, cuda, cuda:1, ...
    progress: bool = True  # progress bars
    update: bool = False  # re-score only --models and merge their rows into OUT/table1.json (same protocol)

    def __post_init__(self):
        for name in ("n", "batch_size", "kid_subsets"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.real_limit is not None and self.real_limit < 2:
            raise ValueError(f"--real-limit must be >= 2 (two halves), got {self.real_limit}")
        if self.kid_subset_size < 2:
            raise ValueError(f"--kid-subset-size must be >= 2, got {self.kid_subset_size}")
        if self.img_size not in SIZES:
            raise ValueError(f"--img-size must be one of {SIZES}, got {self.img_size}")


class Evaluator:
    """Holds the loaded judges, Inception and per-resolution real data for one run."""

    def __init__(self, cfg: EvalConfig):
        self.cfg = cfg
        self.judges, self.judge_info, self._fingerprints = [], [], {}
        for name in cfg.judges:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                judge = load_judge(name, device=cfg.device)
            for w in caught:  # the fallback notice: show it, and record it in the protocol
                print(f"notice: {w.message}", file=sys.stderr)
            if any(j.name == judge.name for j in self.judges):
                print(f"notice: judge {judge.name!r} already in the table; skipping the duplicate", file=sys.stderr)
                continue
            self.judges.append(judge)
            self._fingerprints[judge.name] = judge.fingerprint()  # hashes every weight: once, not per row
            p = judge.preprocess
            self.judge_info.append({"requested": name, "name": judge.name, "weights": judge.weights,
                                    "notices": [str(w.message) for w in caught],
                                    "preprocess": f"resize short side {p.resize} (bilinear, antialias), "
                                                  f"centre crop {p.crop}, mean {p.mean}, std {p.std}"})
        self.inception, self.inception_source = load_inception(cfg.inception, cfg.device)
        self._features = lambda imgs: inception_features(self.inception, imgs, batch_size=50, device=cfg.device,
                                                          progress=False)  # cached_rows shows the bar
        self._real: dict[int, dict] = {}
        self._last_samples: tuple[str, tuple] | None = None

    def _desc(self, what: str) -> str | None:
        return what if self.cfg.progress else None

    def real(self, size: int) -> dict:
        """Real images at ``size`` px, their (cached) Inception features and the near-copy threshold."""
        if size not in self._real:
            images = load_images(self.cfg.real, size, limit=self.cfg.real_limit, progress=self.cfg.progress).images
            feats = self.features(images, f"real {size}px")
            self._real[size] = {"images": images, "features": feats, "key": metrics.images_key(images),
                                "near_copy_threshold": metrics.near_copy_threshold(images, seed=self.cfg.seed)}
        return self._real[size]

    def judge_row(self, images: torch.Tensor) -> dict:
        """Cat-rate + Wilson CI + mean P(cat) per judge for uint8 (N, 3, S, S) images."""
        out = {}
        for judge in self.judges:
            bs = self.cfg.batch_size

            def compute(todo: torch.Tensor) -> torch.Tensor:
                return torch.cat([judge.probs(from_uint8(todo[i:i + bs]), bs)
                                  for i in range(0, len(todo), bs)])

            probs = metrics.cached_rows(images, compute, metrics.default_cache_dir("judges"),
                                        prefix=f"{self._fingerprints[judge.name]}-", desc=self._desc(f"judge {judge.name}"))
            verdicts = judge.verdicts(probs.float())
            row = metrics.cat_rate([v.is_cat for v in verdicts], [v.p_cat for v in verdicts])
            row["big_cat_rate"] = sum(v.is_big_cat for v in verdicts) / max(len(verdicts), 1)
            out[judge.name] = row
        return out

    def real_row(self) -> dict:
        real = self.real(self.cfg.img_size)
        images, feats = real["images"], real["features"]
        perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.cfg.seed))
        scored = images  # every real image (or the first --real-limit): the cat-rate of the whole set
        half_a, half_b = feats[perm[: len(perm) // 2]], feats[perm[len(perm) // 2:]]
        kid_mean, kid_std = metrics.kid(half_a, half_b, subsets=self.cfg.kid_subsets,
                                        subset_size=self.cfg.kid_subset_size, seed=self.cfg.seed)
        return {"name": "real", "source": self.cfg.real, "img_size": self.cfg.img_size, "n": len(scored),
                "judges": self.judge_row(scored), "fid": metrics.fid(half_a, half_b), "kid": kid_mean,
                "kid_std": kid_std, "fid_note": "split-half (real vs real)", "near_copy_fraction": None}

    def samples(self, path: str) -> tuple[torch.nn.Module, torch.Tensor, dict]:
        """The generator in ``path``, its n samples of the seed (uint8) and what a row says of how they
        were drawn: through the folder's critic (rejection sampling, as in the app) when it has one.
        The last folder's are kept, for a caller that scores them further after its row."""
        if self._last_samples and self._last_samples[0] == path:
            return self._last_samples[1]
        generator = load_generator(path, device=self.cfg.device)
        n, bs, drawn = self.cfg.n, self.cfg.batch_size, {}
        if has_critic(path):
            critic = load_critic(path, generator).to(self.cfg.device)
            z, drawn["critic_keep_rate"] = critic_latents(generator, critic, n, self.cfg.seed)
        else:
            z = latents(generator.config.z_dim, n, self.cfg.seed)
        with torch.inference_mode():
            fake = torch.cat([to_uint8(generator(z[i:i + bs].to(self.cfg.device))) for i in
                              tqdm(range(0, n, bs), desc=f"sample {Path(path).name}", unit="batch",
                                   disable=not self.cfg.progress)])
        self._last_samples = (path, (generator, fake, drawn))
        return generator, fake, drawn

    def features(self, images: torch.Tensor, what: str) -> torch.Tensor:
        """Inception features of uint8 ``images`` (cached by content)."""
        return metrics.cached_features(images, self._features, desc=self._desc(f"inception {what}"))

    def generator_row(self, path: str) -> dict:
        generator, fake, drawn = self.samples(path)
        size = generator.config.img_size
        real = self.real(size)
        feats = self.features(fake, Path(path).name)
        kid_mean, kid_std = metrics.kid(real["features"], feats, subsets=self.cfg.kid_subsets,
                                        subset_size=self.cfg.kid_subset_size, seed=self.cfg.seed)
        copies = metrics.near_copies(fake, real["images"], real["near_copy_threshold"])
        return {"name": Path(path).name, "source": str(path), "arch": generator.config.arch, "img_size": size,
                "n": self.cfg.n, "judges": self.judge_row(fake), "fid": metrics.fid(real["features"], feats),
                "kid": kid_mean, "kid_std": kid_std, "near_copy_fraction": copies.fraction,
                "median_nearest_distance": copies.median_distance, **drawn}

    def protocol(self) -> dict:
        cfg = self.cfg
        return {
            "config": asdict(cfg),
            "judges": self.judge_info,
            "cat_rule": "ImageNet judges: top-1 in classes 281-285 (big cats 286-293 reported apart, never cats); "
                        "resnet-animals: top-1 = 'cat'. 95% CI: Wilson score interval.",
            "inception": {"weights": self.inception_source, "features": metrics.FEATURES_VERSION,
                          "resize": "bilinear to 299x299, align_corners=False, no antialias, input in [-1, 1] "
                                    "(as pytorch-fid)"},
            "real": {size: {"n": len(r["images"]), "content_key": r["key"],
                            "near_copy_threshold": r["near_copy_threshold"]} for size, r in self._real.items()},
            "kid": f"unbiased MMD^2, cubic polynomial kernel, {cfg.kid_subsets} subsets of "
                   f"min({cfg.kid_subset_size}, n)",
            "near_copy": f"RMS distance of {metrics.NEAR_COPY_SIZE}x{metrics.NEAR_COPY_SIZE} RGB thumbnails in "
                         f"[-1, 1] to the nearest real image; threshold = {metrics.NEAR_COPY_QUANTILE:.0%} quantile "
                         "of real-vs-real leave-one-out nearest distances (every real image a probe)",
            "critic": "a folder with critic.safetensors draws its latents through it: candidates from the same seeded "
                      "stream, kept with the critic's probability (catgan.latent.critic)",
            "seeds": {"latents": f"torch.randn(n, z_dim, generator=torch.Generator().manual_seed({cfg.seed}))",
                      "real_subset_and_split": cfg.seed, "kid_subsets": cfg.seed},
            "torch": torch.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }


# config fields that change what a row measures: an --update must match the table on every one
PROTOCOL_FIELDS = ("real", "judges", "n", "real_limit", "img_size", "seed", "kid_subsets", "kid_subset_size")


def previous_table(cfg: EvalConfig) -> dict:
    """OUT/table1.json for ``--update``, refused if it was measured with another protocol."""
    path = Path(cfg.out) / "table1.json"
    if not path.is_file():
        raise FileNotFoundError(f"--update needs an earlier {path}; run without --update first")
    table = read_table(path)
    old = table.get("protocol", {}).get("config", {})
    differ = [f"--{k.replace('_', '-')} {old.get(k)!r} (table) vs {getattr(cfg, k)!r} (now)" for k in PROTOCOL_FIELDS
              if json.loads(json.dumps(old.get(k))) != json.loads(json.dumps(getattr(cfg, k)))]
    if differ:
        raise ValueError(f"{path} was measured with another protocol: {'; '.join(differ)}. Pass the same "
                         "settings, or re-run the whole table without --update")
    return table


def evaluate(cfg: EvalConfig) -> dict:
    previous = previous_table(cfg) if cfg.update else None  # refuse before loading anything
    ev = Evaluator(cfg)
    rows = ([] if previous else [ev.real_row()]) + [ev.generator_row(m) for m in cfg.models]
    # the protocol after the rows: it lists every real set they were scored against
    result = merge_rows(previous, ev.protocol(), rows) if previous else {"protocol": ev.protocol(), "rows": rows}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table1.json", json.dumps(result, indent=2))
    atomic_write_text(out / "table1.md", render_markdown(result))
    return result


def parse_args(argv: list[str] | None = None) -> tuple[EvalConfig, bool]:
    """CLI flags map one-to-one onto EvalConfig fields."""
    parser = cli.ArgumentParser(prog="python -m catgan.eval", description=__doc__.split("\n")[0])
    cli.add_dataclass_args(parser, EvalConfig, title="evaluation")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    args = parser.parse_args(argv)
    return cli.from_args(EvalConfig, args), args.dry_run  # a refused value: cli.UsageError, exit status 2


def check_arguments(cfg: EvalConfig) -> None:
    """Every path and name the run will use, checked in seconds, before minutes of Inception features."""
    unknown = [j for j in cfg.judges if j not in JUDGES]
    if unknown:
        raise ValueError(f"--judges: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(JUDGES)}")
    try:
        device = torch.device(cfg.device)
    except RuntimeError:
        raise ValueError(f"--device must name a torch device (cpu, cuda, cuda:1, ...), got {cfg.device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {cfg.device}: no CUDA GPU is visible")
    if cfg.inception and not Path(cfg.inception).is_file():
        raise FileNotFoundError(f"--inception {cfg.inception}: no such file")
    for parent in (Path(cfg.out), *Path(cfg.out).parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--out {cfg.out}: {parent} is a file, not a folder")
    if cfg.update:
        previous_table(cfg)
    for m in cfg.models:  # each a weights folder whose generator loads strictly (a few MB, seconds)
        if not Path(m).is_dir():
            raise FileNotFoundError(f"--models {m}: weights folder not found")
        try:
            load_generator(m)
        except (ValueError, OSError) as e:
            raise ValueError(f"--models {m}: not a generator's weights folder (config.json + model.safetensors; "
                             f"a run's is RUN/generator): {e}") from None
    image_names(cfg.real)  # --real exists and holds images (it is decoded only when first needed)


def main(argv: list[str] | None = None) -> int:
    cfg, dry = parse_args(argv)
    if dry:
        print(json.dumps(asdict(cfg), indent=2))
        return 0
    with cli.argument_checks():  # a wrong command line is refused now, with exit status 2
        check_arguments(cfg)
    evaluate(cfg)
    print(f"wrote {Path(cfg.out) / 'table1.md'} and {Path(cfg.out) / 'table1.json'}")
    return 0


entry = cli.command(main)  # the console script
