"""Table 1: cat-rate per judge, FID, KID and near-copies for the real data and each generator.

    python -m catgan.evaluate --real ../shared/data/cat-faces-64.zip \
        --models weights/gan-64 weights/dcgan-64 --judges resnet50 efficientnet_lite0 --n 10000

Writes results/table1.md and results/table1.json (rows + the full protocol). The real row judges
every real image; its FID/KID compare two random halves of the real set (a floor, biased up at
small n); each generator's n samples are compared against the whole real set at its resolution.
Inception features and judge probabilities are cached by image content (and judge weights), so
re-running with the same weights and seed, say with another judge added, only computes what is new.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import metrics
from .fileio import atomic_write_text
from .images import to_uint8


@dataclass(frozen=True)
class EvalConfig:
    real: str = "../shared/data/cat-faces-64.zip"
    models: tuple[str, ...] = ()
    judges: tuple[str, ...] = ("resnet50", "efficientnet_lite0")
    n: int = 10000  # images per generator (the real row judges every real image)
    real_limit: int | None = None  # use only the first real images (quick runs, tests)
    img_size: int = 64  # resolution of the real row
    seed: int = 0
    batch_size: int = 64
    inception: str | None = None  # FID Inception weights file; default: $CATGAN_FID_INCEPTION / shared / download
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    out: str = "results"
    device: str = "cpu"
    progress: bool = True


class Evaluator:
    """Holds the loaded judges, Inception and per-resolution real data for one run."""

    def __init__(self, cfg: EvalConfig):
        from .inception import inception_features, load_inception
        from .judges import load_judge

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

    def _desc(self, what: str) -> str | None:
        return what if self.cfg.progress else None

    def real(self, size: int) -> dict:
        """Real images at ``size`` px, their (cached) Inception features and the near-copy threshold."""
        if size not in self._real:
            from .data import load_images
            images = load_images(self.cfg.real, size, limit=self.cfg.real_limit, progress=self.cfg.progress).images
            feats = metrics.cached_features(images, self._features, desc=self._desc(f"inception real {size}px"))
            self._real[size] = {"images": images, "features": feats, "key": metrics.images_key(images),
                                "near_copy_threshold": metrics.near_copy_threshold(images, seed=self.cfg.seed)}
        return self._real[size]

    def judge_row(self, images: torch.Tensor) -> dict:
        """Cat-rate + Wilson CI + mean P(cat) per judge for uint8 (N, 3, S, S) images."""
        out = {}
        for judge in self.judges:
            bs = self.cfg.batch_size

            def compute(todo: torch.Tensor) -> torch.Tensor:
                return torch.cat([judge.probs(todo[i:i + bs].float().div(127.5).sub(1.0), bs)
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

    def generator_row(self, path: str) -> dict:
        from . import load_generator

        generator = load_generator(path, device=self.cfg.device)
        size, n, bs = generator.config.img_size, self.cfg.n, self.cfg.batch_size
        z = torch.randn(n, generator.config.z_dim, generator=torch.Generator().manual_seed(self.cfg.seed))
        with torch.inference_mode():
            fake = torch.cat([to_uint8(generator(z[i:i + bs].to(self.cfg.device))) for i in
                              tqdm(range(0, n, bs), desc=f"sample {Path(path).name}", unit="batch",
                                   disable=not self.cfg.progress)])
        real = self.real(size)
        feats = metrics.cached_features(fake, self._features, desc=self._desc(f"inception {Path(path).name}"))
        kid_mean, kid_std = metrics.kid(real["features"], feats, subsets=self.cfg.kid_subsets,
                                        subset_size=self.cfg.kid_subset_size, seed=self.cfg.seed)
        copies = metrics.near_copies(fake, real["images"], real["near_copy_threshold"])
        return {"name": Path(path).name, "source": str(path), "arch": generator.config.arch, "img_size": size, "n": n,
                "judges": self.judge_row(fake), "fid": metrics.fid(real["features"], feats), "kid": kid_mean,
                "kid_std": kid_std, "near_copy_fraction": copies.fraction,
                "median_nearest_distance": copies.median_distance}

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
            "seeds": {"latents": f"torch.randn(n, z_dim, generator=torch.Generator().manual_seed({cfg.seed}))",
                      "real_subset_and_split": cfg.seed, "kid_subsets": cfg.seed},
            "torch": torch.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }


def render_markdown(rows: list[dict], protocol: dict) -> str:
    names = [j["name"] for j in protocol["judges"]]
    head = ["set", "n"] + [f"cat-rate {n} [95% CI]" for n in names] + [f"mean P(cat) {n}" for n in names]
    head += ["FID", "KID x10^3", "near-copies"]
    lines = ["# Table 1", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"], str(r["n"])]
        cells += [f"{100 * r['judges'][n]['cat_rate']:.1f}% [{100 * r['judges'][n]['ci95'][0]:.1f}, "
                  f"{100 * r['judges'][n]['ci95'][1]:.1f}]" for n in names]
        cells += [f"{r['judges'][n]['mean_p_cat']:.3f}" for n in names]
        fid = f"{r['fid']:.2f}" + (" (split-half)" if r.get("fid_note") else "")
        copies = "—" if r["near_copy_fraction"] is None else f"{100 * r['near_copy_fraction']:.2f}%"
        cells += [fid, f"{1000 * r['kid']:.2f} ± {1000 * r['kid_std']:.2f}", copies]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Protocol", "", "```json", json.dumps(protocol, indent=2), "```", ""]
    return "\n".join(lines)


def evaluate(cfg: EvalConfig) -> dict:
    ev = Evaluator(cfg)
    rows = [ev.real_row()] + [ev.generator_row(m) for m in cfg.models]
    result = {"protocol": ev.protocol(), "rows": rows}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table1.json", json.dumps(result, indent=2))
    atomic_write_text(out / "table1.md", render_markdown(rows, result["protocol"]))
    return result


HELP = {
    "real": "the real images: a zip or folder of cat faces",
    "models": "weights folders (config.json + model.safetensors), one table row each",
    "judges": "classifiers that say 'cat': resnet50, efficientnet_lite0, mobilenet_v2, resnet-animals",
    "n": "samples per generator (the real row judges every real image)",
    "real_limit": "use only the first N real images (quick runs)",
    "img_size": "resolution of the real row",
    "seed": "latent seed for the generators' samples",
    "batch_size": "generator and judge batch size",
    "inception": "FID Inception weights file; unset: $CATGAN_FID_INCEPTION, else ../shared/weights, else download",
    "kid_subsets": "KID: number of random subsets",
    "kid_subset_size": "KID: images per subset",
    "out": "folder for table1.md and table1.json",
    "device": "cpu, cuda, cuda:1, ...",
    "progress": "progress bars",
}


def parse_args(argv: list[str] | None = None) -> tuple[EvalConfig, bool]:
    """CLI flags map one-to-one onto EvalConfig fields."""
    parser = argparse.ArgumentParser(prog="python -m catgan.evaluate", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(EvalConfig):
        flag, kind, what = f"--{f.name.replace('_', '-')}", str(f.type), HELP[f.name]
        if kind.startswith("tuple"):
            parser.add_argument(flag, nargs="+", default=list(f.default), help=what)
        elif kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=what)
        else:
            parser.add_argument(flag, type=int if "int" in kind else str, default=f.default, help=what)
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    args = vars(parser.parse_args(argv))
    dry = args.pop("dry_run")
    return EvalConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}), dry


def main(argv: list[str] | None = None) -> int:
    cfg, dry = parse_args(argv)
    if dry:
        print(json.dumps(asdict(cfg), indent=2))
        return 0
    for m in cfg.models:
        if not Path(m).is_dir():
            print(f"error: weights folder not found: {m}", file=sys.stderr)
            return 1
    evaluate(cfg)
    print(f"wrote {Path(cfg.out) / 'table1.md'} and {Path(cfg.out) / 'table1.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
