"""Judges: pretrained classifiers that say whether an image is a cat (see catgan/judges/).

    python -m catgan.judge score cat.jpg --judge efficientnet_lite0
    python -m catgan.judge train --data ../shared/data/cifar10.zip --out weights/resnet-animals
    python -m catgan.judge ship runs/resnet-animals --out weights/resnet-animals --note "..."
"""
import argparse
import json
import sys

from .judges import (DEFAULT_JUDGE, FALLBACKS, JUDGES, Judge, JudgeFallbackWarning, JudgeUnavailable, Verdict,
                     load_judge, score)


def main(argv: list[str] | None = None) -> int:
    from .judges import train_animals

    parser = argparse.ArgumentParser(prog="python -m catgan.judge", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_score = sub.add_parser("score", help="score image files")
    p_score.add_argument("images", nargs="+")
    p_score.add_argument("--judge", default=DEFAULT_JUDGE, choices=list(JUDGES))
    p_train = sub.add_parser("train", help="train the resnet-animals judge on cifar10.zip")
    train_animals.add_arguments(p_train)
    p_ship = sub.add_parser("ship", help="copy a finished resnet-animals run into weights/ and re-write its card",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p_ship.add_argument("run", help="the run's folder: summary.json and export/ (as `train --run` writes them)")
    p_ship.add_argument("--out", default="weights/resnet-animals", help="the weights folder to write")
    p_ship.add_argument("--data", default="../shared/data/cifar10.zip",
                        help="cifar10.zip, to re-measure the test accuracy")
    p_ship.add_argument("--note", default="", help="a sentence for the card on how the run was made")
    args = parser.parse_args(argv)

    if args.command == "ship":
        try:
            summary = train_animals.ship(args.run, args.out, args.data, args.note)
        except (OSError, ValueError) as err:  # a missing run or zip, the run's own export as --out, a mismatch
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"wrote {args.out} (test accuracy {100 * summary['test']['accuracy']:.2f} %, as the run measured)")
        return 0

    if args.command == "train":
        values = {k: v for k, v in vars(args).items() if k != "command"}
        summary = train_animals.train(train_animals.AnimalTrainConfig(**values))
        print(json.dumps(summary["test"], indent=1))
        print(f"wrote {values['out']} (test accuracy {100 * summary['test']['accuracy']:.2f} %)")
        return 0
    from PIL import Image
    try:
        judge = load_judge(args.judge)
    except JudgeUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path, v in zip(args.images, judge.score([Image.open(p) for p in args.images])):
        top = ", ".join(f"{label} {p:.3f}" for label, p in v.top5)
        print(f"{path}: {'CAT' if v.is_cat else 'not cat'} P(cat)={v.p_cat:.3f} [{v.judge}] top-5: {top}")
    return 0


__all__ = ["JUDGES", "FALLBACKS", "DEFAULT_JUDGE", "Judge", "JudgeUnavailable", "JudgeFallbackWarning", "Verdict",
           "load_judge", "score", "main"]

if __name__ == "__main__":
    sys.exit(main())
