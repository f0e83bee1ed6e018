"""Score a training run's latest checkpoint as the screening does, and add the point to its curve.

    python bench/score_run.py ../runs/dcgan-drop-64-long --curve ../runs/screen-64/gpu.json \\
        --name dcgan-drop [--n 2000] [--threads 2] [--picture docs/screening.png] \\
        [--reference weights/dcgan-64] [--standing-stats 100]

Exports the run's EMA generator (RUN/generator) and scores FID and KID of --n samples against every
real image of the run's data, with catgan.eval's protocol (the real set's Inception features are
cached). The point {steps, CPU seconds, FID, KID} joins the run named --name in --curve (a
bench/gpu_trainer.py JSON; the CPU time is the checkpoint's own, which train.py sums over every
resume), and the curves are redrawn: FID against CPU minutes. A step already on the curve is not
scored again. A --reference weights folder is scored once, the same way, and drawn as a dotted line:
the bar a run must pass at this n. --standing-stats exports with BatchNorm statistics recomputed for the
EMA weights (train.py export --standing-stats); score such a curve under its own --name.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gpu_trainer import picture  # noqa: E402  (bench/ is this script's folder)

from catgan.eval.evaluate import EvalConfig, Evaluator  # noqa: E402
from catgan.fileio import atomic_write_text  # noqa: E402
from catgan.train.checkpoint import CHECKPOINT_NAME, load_checkpoint  # noqa: E402
from catgan.train.export import export_run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a train.py output folder with a checkpoint")
    ap.add_argument("--curve", required=True, help="a bench/gpu_trainer.py gpu.json (created if missing)")
    ap.add_argument("--name", required=True, help="the run's name on the curve")
    ap.add_argument("--n", type=int, default=2000, help="samples per FID/KID")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--target", type=float, default=15.0, help="the dashed line of the picture")
    ap.add_argument("--picture", help="where to draw the curves (default: gpu.png beside --curve)")
    ap.add_argument("--reference", action="append", default=[],
                    help="a weights folder to score once and draw as a line (repeatable)")
    ap.add_argument("--standing-stats", type=int, default=0, metavar="BATCHES",
                    help="export with standing BatchNorm statistics over this many batches (0: as trained)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run, curve_path = Path(args.run), Path(args.curve)
    state = load_checkpoint(run / CHECKPOINT_NAME, required=("step", "train_config"))
    if "cpu_time_s" not in state:
        raise SystemExit(f"error: {run / CHECKPOINT_NAME} has no CPU time (written by an older train.py)")
    result = json.loads(curve_path.read_text()) if curve_path.is_file() else {"runs": []}
    entry = next((r for r in result["runs"] if r["name"] == args.name), None)
    if entry is None:
        entry = {"name": args.name, "flags": str(run), "curve": [], "best": None}
        result["runs"].append(entry)
    references = result.setdefault("references", {})
    new_references = {Path(folder).name: folder for folder in args.reference if Path(folder).name not in references}
    scored = any(c["steps"] == state["step"] for c in entry["curve"])
    if new_references or not scored:  # the Inception loads only when there is something to score
        ev = Evaluator(EvalConfig(real=state["train_config"]["data"], judges=(), n=args.n, img_size=64,
                                  progress=False))
    for name, folder in new_references.items():
        row = ev.generator_row(folder)
        references[name] = row["fid"]
        atomic_write_text(curve_path, json.dumps(result, indent=2))
        print(f"[{name}] FID {row['fid']:.2f}  KID {row['kid'] * 1e3:.2f}e-3", flush=True)
    # a warm-started run (train.py --init-from) also carries what its networks had cost before
    cpu_s = state["cpu_time_s"] + state.get("warm_started", {}).get("cpu_time_s", 0.0)
    if scored:
        print(f"step {state['step']} of {args.name} is on the curve already")
    else:
        export_run(run, run / "generator", standing=args.standing_stats)
        row = ev.generator_row(str(run / "generator"))
        entry["curve"].append({"steps": state["step"], "images_seen": state["step"] * state["train_config"]["batch_size"],
                               "train_s": round(state.get("train_time_s", 0.0), 1),
                               "cpu_s": round(cpu_s, 1), "fid": row["fid"], "kid": row["kid"]})
        entry["curve"].sort(key=lambda c: c["steps"])  # checkpoint copies may be scored in any order
        entry["best"] = min(entry["curve"], key=lambda c: c["fid"])
        atomic_write_text(curve_path, json.dumps(result, indent=2))
        print(f"[{args.name}] step {state['step']}  cpu {cpu_s / 60:.1f} min  FID {row['fid']:.2f}  "
              f"KID {row['kid'] * 1e3:.2f}e-3", flush=True)
    picture(result["runs"], args.target, Path(args.picture or curve_path.with_name("gpu.png")), "cpu_s", args.n,
            {f"{name} (shipped)": fid for name, fid in references.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
