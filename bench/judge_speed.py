"""Judge and Inception throughput on CPU: images/s at batch 64 (judges) and 50 (Inception).

    python bench/judge_speed.py [--batches 3] [--threads N]

Prints figures; never fails because a machine is slow. Judges whose weights are missing are skipped.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catgan.eval.inception import inception_features, load_inception  # noqa: E402
from catgan.judges import JUDGES, JudgeUnavailable, load_judge  # noqa: E402


def throughput(fn, n_images: int, batches: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        fn()
    return batches * n_images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", nargs="+", choices=[*JUDGES, "fid_inception"], default=None, metavar="NAME",
                        help="measure only these (default: every judge and the FID Inception)")
    args = parser.parse_args()
    wanted = set(args.only or [*JUDGES, "fid_inception"])
    if args.threads:
        torch.set_num_threads(args.threads)
    x = torch.rand(64, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1  # GAN-sized inputs
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, input 64x64 in [-1, 1]")
    for name in [j for j in JUDGES if j in wanted]:
        try:
            judge = load_judge(name, fallback=False)
        except JudgeUnavailable as err:
            print(f"{name:20s} skipped ({err})")
            continue
        ips = throughput(lambda: judge.score(x, batch_size=64), 64, args.batches)
        print(f"{name:20s} {ips:8.1f} images/s (batch 64, incl. resize to {judge.preprocess.crop})")
    if "fid_inception" not in wanted:
        return
    model, _ = load_inception()
    ips = throughput(lambda: inception_features(model, x[:50], batch_size=50), 50, max(1, args.batches - 1))
    print(f"{'fid_inception':20s} {ips:8.1f} images/s (batch 50, resize to 299)")


if __name__ == "__main__":
    main()
