"""DCGAN-64 on one GPU: images/s in bf16 and fp16, training time to FID <= 15, best FID reached.

    python bench/gpu_trainer.py --data .data/cat-faces-64.zip --out $OUT/gpu --minutes 3 \\
        --run shipped="" --run dropout-b256="--g-dropout 0.5 --batch-size 256 --lr-g 4e-4 --lr-d 4e-4"

(1) Throughput: for each of --precisions, --warmup steps of the shipped DCGAN-64 recipe, then
    --tp-steps timed steps (CUDA synchronised) -> images/s.
(2) Time to target: each --run (the shipped recipe plus its train.py flags) trains in segments of
    --segment steps, resuming from its own checkpoint, until --minutes of training. After each
    segment its EMA generator is exported and scored with catgan.eval.evaluate's protocol: FID/KID of --n
    samples against every real image (Inception on the same device). The curve gives the training
    time at which FID first reached --target, and the best FID.

Writes OUT/gpu.json after every segment (a killed run keeps what it measured) and OUT/gpu.png. The
same command again resumes: each run continues from its last segment and checkpoint.
Checks itself anywhere: `--device cpu --precisions fp32 --limit 256 --n 64 --segment 5 --minutes 0.1`.

On a CPU, `--clock cpu --threads 1 --precisions` (no throughput rows) screens candidates at equal
CPU time, as the background screening does:

    nohup python bench/gpu_trainer.py --device cpu --precision auto --precisions --threads 1 \
        --clock cpu --minutes 40 --segment 500 --n 2000 --out ../runs/screen \
        --data ../shared/data/cat-faces-64.zip --run dcgan-drop-d2="--g-dropout 0.5 --d-steps 2" &

On a lent machine with no download: the data zip (28 MB) travels in an ignored folder, and so must
the FID Inception (83 MB, $CATGAN_FID_INCEPTION), which is over one call's 64 MiB: send it as two
halves (`split -n 2`) in two calls while the machine is warm, and `cat` them together there.
"""
import argparse
import json
import math
import resource
import shlex
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catgan.cli import from_args  # noqa: E402
from catgan.data.dataset import load_images  # noqa: E402
from catgan.eval.evaluate import EvalConfig, Evaluator  # noqa: E402
from catgan.fileio import atomic_write_text  # noqa: E402
from catgan.models import ModelConfig  # noqa: E402
from catgan.train.config import TrainConfig, add_train_args  # noqa: E402
from catgan.train.export import export_run  # noqa: E402
from catgan.train.trainer import Trainer  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=".data/cat-faces-64.zip")
    p.add_argument("--out", default="runs/gpu")
    p.add_argument("--device", default="cuda")
    p.add_argument("--precisions", nargs="*", default=["bf16", "fp16"],
                   help="throughput: one row each (none: skip the throughput rows)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--score-threads", type=int, default=0, help="torch CPU threads while scoring (0: as --threads)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="what --minutes counts: training wall time, or this process's CPU time")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--tp-steps", type=int, default=200)
    p.add_argument("--run", action="append", default=[], metavar='NAME="FLAGS"',
                   help='a run for the FID curve: the shipped recipe plus train.py FLAGS (default: shipped="")')
    p.add_argument("--precision", default="bf16", help="precision of the FID-curve runs")
    p.add_argument("--segment", type=int, default=2000, help="training steps between FID measurements")
    p.add_argument("--minutes", type=float, default=3.0, help="training time per run, by --clock (FID not counted)")
    p.add_argument("--n", type=int, default=10000, help="samples per FID/KID (catgan.eval.evaluate's protocol)")
    p.add_argument("--target", type=float, default=15.0, help="report the training time to this FID")
    p.add_argument("--limit", type=int, default=0, help="train and score on the first N images only (checks)")
    return p.parse_args()


def train_config(args, run: Path, flags: list[str], **overrides) -> tuple[ModelConfig, TrainConfig]:
    """train.py's own flag parsing: the shipped DCGAN-64 recipe plus ``flags``."""
    parser = argparse.ArgumentParser()
    add_train_args(parser)
    ns = parser.parse_args(["--arch", "dcgan", "--size", "64", "--data", args.data, "--out", str(run),
                            "--device", args.device, "--limit", str(args.limit), *flags])
    for key, value in overrides.items():
        setattr(ns, key, value)
    return from_args(ModelConfig, ns), from_args(TrainConfig, ns)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(args, images: torch.Tensor, precision: str) -> dict:
    model_cfg, cfg = train_config(args, Path(args.out) / f"tp-{precision}", [], precision=precision,
                                  steps=args.warmup + args.tp_steps)
    t = Trainer(model_cfg, cfg, images, progress=False)
    for _ in range(args.warmup):
        t.train_step()
        t.step += 1
    sync(t.device)
    t0 = time.perf_counter()
    for _ in range(args.tp_steps):
        t.train_step()
        t.step += 1
    sync(t.device)
    wall = time.perf_counter() - t0
    return {"precision": t.precision, "batch_size": cfg.batch_size, "steps": args.tp_steps, "wall_s": round(wall, 2),
            "images_per_s": round(args.tp_steps * cfg.batch_size * cfg.d_steps / wall, 1)}


CPU_NAME = "cpu.json"  # a run's training CPU seconds at its last trained segment, kept before scoring


def cpu_seconds() -> float:
    """This process's CPU time (user + system), every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fid_curve(args, images: torch.Tensor, ev: Evaluator, name: str, flags: list[str], runs: list, report) -> None:
    """Trains ``name`` segment by segment and scores it after each; its entry in ``runs`` is filled
    in as it goes (``report`` saves it), and an entry already there (a resumed bench) is continued."""
    run, segment = Path(args.out) / name, 0
    key = f"train_s_to_fid_{args.target:g}"
    entry = next((r for r in runs if r["name"] == name), None)
    if entry is None:
        entry = {"name": name, "flags": " ".join(flags) or "(shipped recipe)", "precision": args.precision,
                 "curve": [], "best": None, key: None}
        runs.append(entry)
    curve = entry["curve"]
    clock = "cpu_s" if args.clock == "cpu" else "train_s"
    while not curve or curve[-1].get(clock, 0) < 60 * args.minutes:
        segment = len(curve) + 1
        model_cfg, cfg = train_config(args, run, flags, precision=args.precision, steps=segment * args.segment,
                                      sample_every=args.segment, ckpt_every=args.segment)
        t = Trainer(model_cfg, cfg, images, progress=False)
        if (run / "checkpoint.pt").is_file():
            t.resume()  # a segment cut short restarts from the last checkpoint
        spent = json.loads((run / CPU_NAME).read_text()) if (run / CPU_NAME).is_file() else {}
        cpu0 = cpu_seconds()
        summary = t.fit()
        if spent.get("steps") == summary["steps"]:  # trained before a restart, not scored yet
            cpu_s = spent["cpu_s"]
        else:
            cpu_s = spent.get("cpu_s", 0.0) + cpu_seconds() - cpu0
        atomic_write_text(run / CPU_NAME, json.dumps({"steps": summary["steps"], "cpu_s": cpu_s}))
        export_run(run, run / "generator")
        torch.set_num_threads(args.score_threads or torch.get_num_threads())
        row = ev.generator_row(str(run / "generator"))
        if args.threads:
            torch.set_num_threads(args.threads)
        curve.append({"steps": summary["steps"], "images_seen": summary["images_seen"],
                      "train_s": summary["wall_time_s"], "cpu_s": round(cpu_s, 1), "fid": row["fid"],
                      "kid": row["kid"]})
        print(f"[{name}] step {curve[-1]['steps']}  train {curve[-1]['train_s']:.0f} s  cpu {cpu_s:.0f} s  "
              f"FID {row['fid']:.2f}", flush=True)
        entry["best"] = min(curve, key=lambda c: c["fid"])
        entry[key] = entry[key] or (curve[-1]["train_s"] if row["fid"] <= args.target else None)
        report()


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"]  # matplotlib's tab10: one colour per run, up to ten


def picture(runs: list[dict], target: float, path: Path, clock: str = "train_s", n: int | None = None,
            references: dict[str, float] | None = None) -> None:
    """FID (log scale: a curve falls by orders of magnitude, then by a few units) against training time
    (``clock``: "train_s" wall or "cpu_s"), one line per run with its measured points marked, axes with
    ticks, the target dashed, and each of ``references`` (name: FID of a finished model at the same n)
    dotted."""
    font = ImageFont.load_default(size=14)
    img = Image.new("RGB", (760, 480), "white")
    d = ImageDraw.Draw(img)
    x0, y0, w, h = 70, 40, 640, 360
    points = [c for r in runs for c in r["curve"]]
    if not points:
        return
    tmax = max(max(c[clock] for c in points) / 60, 1.0) * 1.05  # minutes
    references = references or {}
    fids = [c["fid"] for c in points] + [target, *references.values()]
    lo, hi = math.log10(min(fids) / 1.2), math.log10(max(fids) * 1.2)

    def y_of(fid: float) -> float:
        return y0 + h - h * (math.log10(fid) - lo) / (hi - lo)

    d.rectangle([x0, y0, x0 + w, y0 + h], outline="black")
    xstep = next(s for s in (5, 10, 20, 30, 60, 120, 240, 480) if tmax / s <= 10)
    for k in range(0, int(tmax // xstep) + 1):
        x = x0 + w * k * xstep / tmax
        d.line([x, y0 + h, x, y0 + h + 5], fill="black")
        d.text((x - 8, y0 + h + 8), f"{k * xstep}", fill="black", font=font)
    for tick in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if lo <= math.log10(tick) <= hi:
            y = y_of(tick)
            d.line([x0 - 5, y, x0, y], fill="black")
            d.text((x0 - 40, y - 8), f"{tick}", fill="black", font=font)
    ty = y_of(target)
    for x in range(x0, x0 + w, 12):
        d.line([x, ty, x + 6, ty], fill="grey")
    d.text((x0 + 4, ty - 16), f"FID {target:g}", fill="grey", font=font)
    for name, fid in references.items():
        ry = y_of(fid)
        for x in range(x0, x0 + w, 6):
            d.point([(x, ry), (x + 1, ry)], fill="black")
        d.text((x0 + w / 2, ry - 16), f"{name}: {fid:.2f}", fill="black", font=font)
    for i, r in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        xy = [(x0 + w * c[clock] / 60 / tmax, y_of(c["fid"])) for c in r["curve"]]
        if len(xy) > 1:
            d.line(xy, fill=colour, width=2)
        for x, y in xy:
            d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        label = f"{r['name']}: best {r['best']['fid']:.2f}"
        d.text((x0 + w - 8 - d.textlength(label, font=font), y0 + 8 + 18 * i), label, fill=colour, font=font)
    what = "CPU time" if clock == "cpu_s" else "training time"
    d.text((x0, 10), f"FID{f' (n = {n:,})' if n else ''}, log scale, against {what}", fill="black", font=font)
    d.text((x0 + w / 2 - 60, y0 + h + 28), f"{what}, minutes", fill="black", font=font)
    img.save(path)


def main() -> int:
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"args": vars(args), "torch": torch.__version__,
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "throughput": [], "runs": []}
    if (out / "gpu.json").is_file():  # resume: keep what earlier invocations measured
        result["runs"] = json.loads((out / "gpu.json").read_text())["runs"]

    def report():
        atomic_write_text(out / "gpu.json", json.dumps(result, indent=2))

    images = load_images(args.data, 64, limit=args.limit or None, progress=False).images
    for precision in args.precisions:
        result["throughput"].append(throughput(args, images, precision))
        print(json.dumps(result["throughput"][-1]), flush=True)
        report()
    ev = Evaluator(EvalConfig(real=args.data, judges=(), n=args.n, img_size=64, real_limit=args.limit or None,
                              device=args.device, progress=False))
    for spec in args.run or ['shipped=']:
        name, _, flags = spec.partition("=")
        fid_curve(args, images, ev, name, shlex.split(flags), result["runs"], report)
        picture(result["runs"], args.target, out / "gpu.png", "cpu_s" if args.clock == "cpu" else "train_s", args.n)
    print(f"wrote {out / 'gpu.json'} and {out / 'gpu.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
