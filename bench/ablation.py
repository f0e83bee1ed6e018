"""Which training stabilisers help? Recipes at an equal budget (steps, seed, batch).

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python bench/ablation.py \
        --data ../shared/data/cat-faces-64.zip --steps 800 --n 1000 --out runs/ablation --png docs/ablation.png

    # fully connected GAN-32, every recipe with G dropout, plus a recipe of one's own
    python bench/ablation.py --arch gan --size 32 --base-flags="--g-dropout 0.5" \
        --recipes baseline d-steps-2 wide --recipe wide="--g-width 256 --d-width 256" --out runs/fc-probe

Each recipe is the baseline (default: DCGAN-32, BCE; ``--arch``, ``--size``, ``--base-flags``)
with one change. It trains with ``train.py`` (a subprocess), then its exported EMA generator is
scored with catgan.eval.evaluate's Evaluator: FID and KID of ``--n`` samples against the whole real set
at ``--size`` px, and near-copies (no classifier judges).
Then baseline and the best recipe (lowest FID) are repeated with each ``--repeat-seeds`` seed,
which measures the seed-to-seed spread. Writes OUT/ablation.json, OUT/ablation.md (the table)
and the picture (``--png``, default OUT/ablation.png). Finished runs (RUN/eval.json) are
skipped and a killed training resumes from its checkpoint, so rerunning the same command
continues a stopped sweep.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECIPES = {  # name -> train.py flags added to the baseline
    "baseline": [],
    "soft-labels": ["--real-label", "0.9"],
    "g-dropout": ["--g-dropout", "0.5"],
    "d-steps-2": ["--d-steps", "2"],
    "hinge": ["--loss", "hinge"],
    "rals": ["--loss", "rals"],
    "d-spectral-norm": ["--d-spectral-norm"],
    "diffaug": ["--diffaug", "color,translation"],
}
COLOURS = ["#222222", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]), help="catgan checkout to run")
    p.add_argument("--data", default="../shared/data/cat-faces-64.zip")
    p.add_argument("--steps", type=int, default=800, help="training steps per recipe")
    p.add_argument("--n", type=int, default=1000, help="generated images per FID/KID")
    p.add_argument("--seed", type=int, default=0, help="seed of the first pass over every recipe")
    p.add_argument("--repeat-seeds", type=int, nargs="*", default=[1], help="seeds for baseline + best")
    p.add_argument("--arch", default="dcgan", help="model family of every run")
    p.add_argument("--size", type=int, default=32, help="image size of every run")
    p.add_argument("--base-flags", default="", help="train.py flags shared by every recipe, baseline included")
    p.add_argument("--recipe", action="append", default=[], metavar='NAME="FLAGS"',
                   help="add (or redefine) a recipe: the baseline plus FLAGS")
    p.add_argument("--recipes", nargs="+", default=None, help=f"recipes to run (default: {' '.join(RECIPES)} "
                                                              "and every --recipe)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precision", default="auto")
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only (tests)")
    p.add_argument("--real-limit", type=int, default=0, help="score against the first N real images (tests)")
    p.add_argument("--out", default="runs/ablation", help="run folders and ablation.json")
    p.add_argument("--png", default=None, help="picture to write (default OUT/ablation.png)")
    args = p.parse_args()
    for spec in args.recipe:
        name, sep, flags = spec.partition("=")
        if not sep or not name:
            p.error(f'--recipe wants NAME="FLAGS", got {spec!r}')
        RECIPES[name] = shlex.split(flags)
    args.recipes = args.recipes or list(RECIPES)
    unknown = [n for n in args.recipes if n not in RECIPES]
    if unknown or "baseline" not in args.recipes:
        p.error(f"--recipes: unknown {unknown} (known: {', '.join(RECIPES)})" if unknown else
                "--recipes must include baseline (every row is compared with it)")
    return args


def train(args, name: str, seed: int, run: Path) -> None:
    if (run / "summary.json").is_file():
        return
    resume = (run / "checkpoint.pt").is_file()
    if run.exists() and not resume:
        shutil.rmtree(run)  # died before its first checkpoint: start clean (metrics.jsonl appends)
    cmd = [sys.executable, "train.py", "--data", str(Path(args.data).resolve()), "--arch", args.arch, "--size", str(args.size),
           "--steps", str(args.steps), "--seed", str(seed), "--batch-size", str(args.batch_size),
           "--precision", args.precision, "--limit", str(args.limit), "--out", str(run.resolve()), "--no-progress",
           "--sample-every", str(args.steps), "--ckpt-every", str(max(50, args.steps // 8)),
           *shlex.split(args.base_flags), *RECIPES[name]]
    print(f"[{time.strftime('%H:%M:%S')}] train {run.name}{' (resume)' if resume else ''}", flush=True)
    subprocess.run(cmd + (["--resume"] if resume else []), cwd=args.repo, check=True)


class Scorer:
    """catgan.eval.evaluate's protocol in-process: the Inception net and real features load once."""

    def __init__(self, args):
        sys.path.insert(0, args.repo)
        import torch

        from catgan.eval.evaluate import EvalConfig, Evaluator
        torch.set_num_threads(1)
        self.ev = Evaluator(EvalConfig(real=str(Path(args.data).resolve()), judges=(), n=args.n, img_size=args.size,
                                       real_limit=args.real_limit or None, progress=False))

    def score(self, run: Path) -> dict:
        t0 = time.perf_counter()
        row = self.ev.generator_row(str(run / "generator"))
        row["eval_wall_s"] = round(time.perf_counter() - t0, 1)
        return row


def loss_curve(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def result(args, name: str, seed: int, scorer_box: list) -> dict:
    run = Path(args.out) / f"{name}-s{seed}"
    if not (run / "eval.json").is_file():
        train(args, name, seed, run)
        if not scorer_box:
            scorer_box.append(Scorer(args))
        print(f"[{time.strftime('%H:%M:%S')}] score {run.name}", flush=True)
        (run / "eval.json").write_text(json.dumps(scorer_box[0].score(run), indent=2))
    ev, summary = json.loads((run / "eval.json").read_text()), json.loads((run / "summary.json").read_text())
    log = loss_curve(run)
    tail = log[-max(1, len(log) // 10):]  # the last 10 % of logged steps
    return {"recipe": name, "seed": seed, "flags": " ".join(RECIPES[name]) or "(none)", "steps": summary["steps"],
            "train_wall_s": summary["wall_time_s"], "eval_wall_s": ev["eval_wall_s"], "n": ev["n"],
            "fid": ev["fid"], "kid": ev["kid"], "kid_std": ev["kid_std"],
            "near_copy_fraction": ev["near_copy_fraction"],
            **{k: sum(r[k] for r in tail) / len(tail) for k in ("loss_d", "loss_g", "d_real", "d_fake")}}


def markdown(rows: list[dict], spread: dict, real: dict) -> str:
    base = next(r["fid"] for r in rows if r["recipe"] == "baseline")
    head = ["recipe", "flags", "seed", "steps", "train s", "eval s", "n", "FID", "ΔFID vs baseline s0",
            "KID ×10³ ± sd", "near-copies", "D(x) / D(G(z)) end"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            r["recipe"], f"`{r['flags']}`", str(r["seed"]), str(r["steps"]), f"{r['train_wall_s']:.0f}",
            f"{r['eval_wall_s']:.0f}", str(r["n"]), f"{r['fid']:.1f}", f"{r['fid'] - base:+.1f}",
            f"{1000 * r['kid']:.1f} ± {1000 * r['kid_std']:.1f}", f"{100 * r['near_copy_fraction']:.2f}%",
            f"{r['d_real']:.2f} / {r['d_fake']:.2f}"]) + " |")
    lines += ["", f"Real data, split-half floor (n = {real['n'] // 2} per half): FID {real['fid']:.2f}, "
              f"KID ×10³ {1000 * real['kid']:.2f} ± {1000 * real['kid_std']:.2f}.", "",
              "Seed spread (max − min FID over seeds): " +
              (", ".join(f"{k} {v:.1f}" for k, v in spread.items()) or "no repeats"), ""]
    return "\n".join(lines)


def picture(rows: list[dict], out_dir: Path, path: Path) -> None:
    """Left: FID per recipe (bar = first seed, dots = repeats). Right: smoothed loss_d curves."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default(size=14)
    img = Image.new("RGB", (1200, 520), "white")
    d = ImageDraw.Draw(img)
    names = list(dict.fromkeys(r["recipe"] for r in rows))
    colour = {n: COLOURS[list(RECIPES).index(n) % len(COLOURS)] for n in names}
    top = max(r["fid"] for r in rows) * 1.1
    x0, y0, w, h = 150, 40, 400, 420  # FID panel: horizontal bars
    d.text((x0, 10), "FID (lower is better); bar: first seed, ring: repeat; grey: baseline's range",
           fill="black", font=font)
    base = [r["fid"] for r in rows if r["recipe"] == "baseline"]
    d.rectangle([x0 + w * min(base) / top, y0, x0 + w * max(base) / top + 1, y0 + h], fill="#dddddd")
    for i, n in enumerate(names):
        y = y0 + i * h / len(names)
        fids = [r for r in rows if r["recipe"] == n]
        d.text((10, y + 8), n, fill="black", font=font)
        d.rectangle([x0, y + 4, x0 + w * fids[0]["fid"] / top, y + h / len(names) - 8], fill=colour[n])
        d.text((x0 + w * fids[0]["fid"] / top + 6, y + 8), f"{fids[0]['fid']:.1f}", fill="black", font=font)
        for r in fids[1:]:
            cx, cy = x0 + w * r["fid"] / top, y + h / len(names) / 2
            d.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], outline="black", width=2)
            d.text((cx + 8, cy), f"{r['fid']:.1f}", fill="black", font=font)
    d.line([x0, y0, x0, y0 + h], fill="black")
    px, py, pw, ph = 680, y0, 500, h  # loss_d panel
    first = [r for r in rows if r["seed"] == rows[0]["seed"]]
    curves = {r["recipe"]: loss_curve(out_dir / f"{r['recipe']}-s{r['seed']}") for r in first}
    k = max(1, len(next(iter(curves.values()))) // 40)  # moving average over ~1/40 of the run
    smooth = {n: [(c[i]["step"], sum(x["loss_d"] for x in c[max(0, i - k + 1):i + 1]) / len(c[max(0, i - k + 1):i + 1]))
                  for i in range(len(c))] for n, c in curves.items()}
    ymax, smax = max(v for s in smooth.values() for _, v in s) * 1.05, max(s for c in smooth.values() for s, _ in c)
    d.text((px, 10), f"D loss, seed {rows[0]['seed']} (moving average; colours as left; scales differ by loss)",
           fill="black", font=font)
    d.rectangle([px, py, px + pw, py + ph], outline="black")
    for n, pts in smooth.items():
        d.line([(px + pw * s / smax, py + ph - ph * v / ymax) for s, v in pts], fill=colour[n], width=2)
    d.text((px, py + ph + 6), f"step 0 … {smax}; y 0 … {ymax:.2f}", fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> int:
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    out, box, t0 = Path(args.out), [], time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rows = [result(args, name, args.seed, box) for name in args.recipes]
    best = min((r for r in rows if r["recipe"] != "baseline"), key=lambda r: r["fid"], default=None)
    for seed in args.repeat_seeds:
        for name in dict.fromkeys(["baseline"] + ([best["recipe"]] if best else [])):
            rows.append(result(args, name, seed, box))
    rows.sort(key=lambda r: (list(RECIPES).index(r["recipe"]), r["seed"]))
    if not (out / "real.json").is_file():  # evaluate's real row: FID/KID of two random halves, a floor
        box = box or [Scorer(args)]
        (out / "real.json").write_text(json.dumps(box[0].ev.real_row(), indent=2))
    real = json.loads((out / "real.json").read_text())
    by = {}
    for r in rows:
        by.setdefault(r["recipe"], []).append(r["fid"])
    spread = {k: max(v) - min(v) for k, v in by.items() if len(v) > 1}
    (out / "ablation.json").write_text(json.dumps({"args": vars(args), "rows": rows, "fid_seed_spread": spread,
                                                   "real": real, "best": best and best["recipe"]}, indent=2))
    (out / "ablation.md").write_text(markdown(rows, spread, real))
    picture(rows, out, Path(args.png or out / "ablation.png"))
    print(markdown(rows, spread, real))
    print(f"this invocation: {time.perf_counter() - t0:.0f} s; wrote {out / 'ablation.json'}, "
          f"{out / 'ablation.md'}, {args.png or out / 'ablation.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
