"""The judges' command line: score image files, train the resnet-animals judge, ship a run into weights/.

    python -m catgan.judges score cat.jpg --judge efficientnet_lite0
    python -m catgan.judges train --data ../shared/data/cifar10.zip --out weights/resnet-animals
    python -m catgan.judges ship runs/resnet-animals --out weights/resnet-animals --note "..."

``python -m catgan.judges`` is the same command. Training flags map one-to-one onto AnimalTrainConfig.
Images are decoded by catgan.images.decode_rgb (at most 4096x4096 pixels), all before a judge loads.
A mistake ends as one ``error: ...`` line (CATGAN_DEBUG=1 shows the traceback).
"""
import argparse
import json
import sys

from ..cli import ArgumentParser, add_dataclass_args, argument_checks, from_args, run
from ..images import decode_rgb
from . import DEFAULT_JUDGE, JUDGES, load_judge
from .animals import ARCHS
from .train_animals import PRECISIONS, SCHEDULES, AnimalTrainConfig, ship, train


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m catgan.judges", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_score = sub.add_parser("score", help="score image files")
    p_score.add_argument("images", nargs="+", help="image files, any size and mode")
    p_score.add_argument("--judge", default=DEFAULT_JUDGE, choices=list(JUDGES), help="(default: %(default)s)")
    p_train = sub.add_parser("train", help="train the resnet-animals judge on cifar10.zip")
    add_dataclass_args(p_train, AnimalTrainConfig, title="training",
                       choices={"arch": ARCHS, "schedule": SCHEDULES, "precision": PRECISIONS})
    p_ship = sub.add_parser("ship", help="copy a finished resnet-animals run into weights/ and re-write its card",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p_ship.add_argument("run", help="the run's folder: summary.json and export/ (as `train --run` writes them)")
    p_ship.add_argument("--out", default="weights/resnet-animals", help="the weights folder to write")
    p_ship.add_argument("--data", default="../shared/data/cifar10.zip",
                        help="cifar10.zip, to re-measure the test accuracy")
    p_ship.add_argument("--note", default="", help="a sentence for the card on how the run was made")
    return parser


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        cfg = from_args(AnimalTrainConfig, args)
        summary = train(cfg)
        print(json.dumps(summary["test"], indent=1))
        print(f"wrote {cfg.out} (test accuracy {100 * summary['test']['accuracy']:.2f} %)")
    elif args.command == "ship":
        summary = ship(args.run, args.out, args.data, args.note)
        print(f"wrote {args.out} (test accuracy {100 * summary['test']['accuracy']:.2f} %, as the run measured)")
    else:
        with argument_checks():  # a missing, unreadable or oversized image is a usage error, found before any work
            images = [_decode(path) for path in args.images]
        judge = load_judge(args.judge)
        for path, v in zip(args.images, judge.score(images)):
            top = ", ".join(f"{label} {p:.3f}" for label, p in v.top5)
            print(f"{path}: {'CAT' if v.is_cat else 'not cat'} P(cat)={v.p_cat:.3f} [{v.judge}] top-5: {top}")
    return 0


def _decode(path: str):
    try:
        return decode_rgb(path)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except OSError as e:
        raise OSError(f"{path}: {e.strerror or e}") from None


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
