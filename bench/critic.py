"""Train a critic for a generator, and measure what rejection sampling through it does to FID and KID.

    python bench/critic.py --weights weights/dcgan-64 --out weights/dcgan-64-critic \\
        [--data ../shared/data/cat-faces-64.zip] [--steps 2000] [--minutes 40] [--n 2000] [--threads 2] \\
        [--strength 1] [--sweep 0.25,0.5] [--picture docs/critic.jpg] [--results results/table1.json]

Copies the weights folder to --out (its generator, directions and encoder), trains a critic against
the frozen generator on the real faces and calibrates it on the tenth held out (catgan.latent.critic),
and saves critic.safetensors + critic.json into --out, with samples.png drawn through the critic and
the model card re-rendered; a critic already there is kept (--fresh trains a new one). --strength
sets the saved critic's strength (1: full rejection sampling).

Then scores with catgan.eval's protocol (--n samples, seed 0, FID and KID against every real face,
near-copies): --weights as it is, --out through its critic, and --out at each --sweep strength; and
KID apart against the faces the critic trained on and the tenth it never saw, so that a critic that
had learnt its training faces by heart would show; improved precision and recall (realism and
coverage); and the --judges' cat-rates. Prints the critic's held-out report and the rows, and writes
them to --report.

--picture draws, from 1,024 samples of seed 0, the ten the critic rates highest, ten around the
median and the ten lowest, with each row's chance of being kept. --results puts --out's row of a
catgan.eval table on its card (after `python -m catgan.eval --update --models weights/dcgan-64-critic ...`).
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catgan import load_generator  # noqa: E402
from catgan.data import load_images  # noqa: E402
from catgan.eval import metrics  # noqa: E402
from catgan.eval.evaluate import EvalConfig, Evaluator  # noqa: E402
from catgan.eval.results import find_row, read_table  # noqa: E402
from catgan.fileio import atomic_write_text  # noqa: E402
from catgan.hub.card import refresh_card  # noqa: E402
from catgan.images import make_grid  # noqa: E402
from catgan.latent import latents, sample_grid  # noqa: E402
from catgan.latent.critic import (  # noqa: E402
    CriticTrainConfig,
    has_critic,
    holdout_split,
    load_critic,
    save_critic,
    train_critic,
    with_strength,
)
from catgan.weights import CARD_NAME, CRITIC_META, CRITIC_NAME, FOLDER_FILES, SAMPLES_NAME  # noqa: E402


def copy_folder(src: Path, out: Path, card: bool) -> None:
    """The generator's own files into ``out``, its model card too with ``card`` (a critic and its samples
    already in ``out`` stay)."""
    out.mkdir(parents=True, exist_ok=True)
    skip = {CRITIC_NAME, CRITIC_META, SAMPLES_NAME} | (set() if card else {CARD_NAME})
    for name in FOLDER_FILES:
        if (src / name).is_file() and name not in skip:
            shutil.copy(src / name, out / name)


@torch.no_grad()
def picture(generator, critic, n: int = 1024, per_row: int = 10) -> Image.Image:
    """Samples of seed 0 as the critic ranks them: its highest, around its median, its lowest."""
    x = torch.cat([generator(z) for z in latents(generator.config.z_dim, n, 0).split(256)])
    s = torch.cat([critic(b) for b in x.split(256)])
    order = s.argsort(descending=True)
    mid = n // 2 - per_row // 2
    rows = (("rated highest", order[:per_row]), ("around the median", order[mid:mid + per_row]),
            ("rated lowest", order[-per_row:]))
    blocks = []
    for label, idx in rows:
        keep = critic.keep_probability(x[idx]).mean()
        grid = make_grid(x[idx], nrow=per_row)
        block = Image.new("RGB", (grid.width, grid.height + 16), "white")
        block.paste(grid, (0, 16))
        text = f"{label}: kept with probability {100 * keep:.2g} % on average"
        ImageDraw.Draw(block).text((4, 3), text, fill=(0, 0, 0))
        blocks.append(block)
    out = Image.new("RGB", (blocks[0].width, sum(b.height for b in blocks)), "white")
    for i, block in enumerate(blocks):
        out.paste(block, (0, i * block.height))
    return out


def score(ev: Evaluator, folder: Path) -> dict:
    """catgan.eval's row for ``folder``, with KID apart against the critic's training faces and its held-out tenth."""
    start = time.perf_counter()
    row = ev.generator_row(str(folder))
    out = {k: row.get(k) for k in ("fid", "kid", "kid_std", "near_copy_fraction", "critic_keep_rate")}
    out["cat_rate"] = {judge: r["cat_rate"] for judge, r in row["judges"].items()}
    generator, fake, _ = ev.samples(str(folder))
    feats, real = ev.features(fake, folder.name), ev.real(generator.config.img_size)["features"]
    out["precision"], out["recall"] = metrics.precision_recall(real, feats)
    split = holdout_split(len(real), CriticTrainConfig.holdout, CriticTrainConfig.seed)
    for name, idx in zip(("kid_critic_train_faces", "kid_held_out_faces"), split):
        out[name] = metrics.kid(real[idx], feats)[0]
    return out | {"n": ev.cfg.n, "seconds": round(time.perf_counter() - start, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="weights/dcgan-64", help="the generator's weights folder")
    ap.add_argument("--out", required=True, help="the weights folder to write: the generator and its critic")
    ap.add_argument("--data", default="../shared/data/cat-faces-64.zip", help="the generator's training faces")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=None, help="stop training after this long")
    ap.add_argument("--width", type=int, default=64, help="the critic's base channels")
    ap.add_argument("--input-size", type=int, default=64, choices=(32, 64),
                    help="the side the critic sees (32: images area-averaged to half size first)")
    ap.add_argument("--n", type=int, default=2000, help="samples per FID/KID (0: train only)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--judges", type=lambda v: [j for j in v.split(",") if j],
                    default=["efficientnet_lite0", "resnet-animals"],
                    help="judges whose cat-rate each row reports (comma-separated; empty: none)")
    ap.add_argument("--fresh", action="store_true", help="train a new critic even if --out has one")
    ap.add_argument("--report", default=None, help="JSON report (default: results/critic-<out name>.json)")
    ap.add_argument("--strength", type=float, default=None,
                    help="set the critic's strength (0-1; 1: full rejection sampling) before anything is scored")
    ap.add_argument("--sweep", type=lambda v: [float(x) for x in v.split(",")], default=[],
                    help="also score the critic at these strengths (comma-separated), in temporary copies")
    ap.add_argument("--picture", default=None, help="where to draw samples as the critic ranks them (a .jpg)")
    ap.add_argument("--results", default=None, help="a catgan.eval table1.json whose row for --out goes on its card")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    src, out = Path(args.weights), Path(args.out)
    if src.resolve() == out.resolve():
        raise SystemExit("error: --out must be another folder; --weights is scored without a critic")
    report_path = Path(args.report or f"results/critic-{out.name}.json")
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    trained = args.fresh or not has_critic(out)
    copy_folder(src, out, card=trained)
    if trained:
        generator = load_generator(src)
        real = load_images(args.data, generator.config.img_size).images
        start = time.perf_counter()
        critic, report["critic"] = train_critic(
            generator, real, config=CriticTrainConfig(steps=args.steps), width=args.width, input_size=args.input_size,
            max_seconds=args.minutes * 60 if args.minutes else None,
            callback=lambda step, r: print(f"  step {step}: loss {r['loss']:.3f}, held-out {r['held_loss']:.3f}",
                                           flush=True))
        report["critic"]["train_seconds"] = round(time.perf_counter() - start, 1)
        report["critic"]["data"], report["critic"]["weights"] = args.data, str(src)
        save_critic(critic, out)
        sample_grid(generator, critic=critic).save(out / SAMPLES_NAME)
        atomic_write_text(report_path, json.dumps(report, indent=2))
    if args.strength is not None and args.strength != load_critic(out).config.strength:
        generator = load_generator(out)
        critic = with_strength(generator, load_critic(out, generator), args.strength)
        save_critic(critic, out)
        sample_grid(generator, critic=critic).save(out / SAMPLES_NAME)
        trained = True  # what the card says of the critic's samples no longer holds
    card_metrics = None
    if args.results:
        card_metrics = find_row(read_table(args.results), [str(out), str(out.resolve()), out.name])
        if card_metrics is None:
            raise SystemExit(f"error: {args.results} has no row for {out}; run catgan.eval on it first")
    refresh_card(out, metrics=card_metrics, keep_metrics=not trained)  # a new critic: the old figures are stale
    c = report.get("critic", {})
    if c:
        print(f"critic: best of {c['steps']} steps at {c['best_step']}; held-out loss {c['held_loss']:.3f} "
              f"(accuracy {c['held_accuracy']:.1%}), calibrated {c['calibrated_held_loss']:.3f}; "
              f"scale {c['scale']:.3f}, bias {c['bias']:.3f}, ceiling {c['ceiling']:.3f}; keeps {c['keep_rate']:.1%}")
    if args.picture:
        picture(load_generator(out), load_critic(out)).save(args.picture, quality=92)
        print(f"wrote {args.picture}")
    if args.n:
        ev = Evaluator(EvalConfig(real=args.data, judges=tuple(args.judges), n=args.n, progress=True))
        rows = [("without critic", src), (f"critic at strength {load_critic(out).config.strength:g}", out)]
        with tempfile.TemporaryDirectory() as tmp:
            for strength in args.sweep:  # each in a copy of --out with its critic at that strength
                copy = Path(tmp) / f"{out.name}-{strength:g}"
                shutil.copytree(out, copy)
                save_critic(with_strength(load_generator(copy), load_critic(copy), strength), copy)
                rows.append((f"critic at strength {strength:g}", copy))
            for label, folder in rows:
                r = report.setdefault("rows", {})[label] = score(ev, folder)
                atomic_write_text(report_path, json.dumps(report, indent=2))
                print(f"{label}: FID {r['fid']:.2f}  KID {r['kid'] * 1e3:.2f}e-3 (against the critic's training "
                      f"faces {r['kid_critic_train_faces'] * 1e3:.2f}e-3, held-out {r['kid_held_out_faces'] * 1e3:.2f}"
                      f"e-3)  precision {r['precision']:.3f}  recall {r['recall']:.3f}  near-copies "
                      f"{r['near_copy_fraction']:.1%}  cat-rate "
                      + ", ".join(f"{judge} {rate:.1%}" for judge, rate in r["cat_rate"].items())
                      + f"  kept {r.get('critic_keep_rate') or 1:.1%}  {r['seconds']:.0f} s", flush=True)
    if report_path.is_file():
        print(f"report: {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
