"""Find a generator's named latent directions and write them into its weights folder.

    python -m catgan.latent weights/dcgan-64 [--n-fit 3000] [--n-test 500]

See catgan.latent.directions for the method. Writes directions.safetensors, directions.json and
directions.jpg, and re-renders the folder's model card with the directions' effects.
"""
import sys
from pathlib import Path

from .. import cli
from ..hub.card import refresh_card
from ..hub.loader import load_generator
from ..judges import load_judge
from ..weights import DIRECTIONS_PICTURE
from .directions import DirectionsConfig, effect_table, find_directions, load_directions, picture, save_directions


def main(argv: list[str]) -> int:
    parser = cli.ArgumentParser(prog="python -m catgan.latent", description=__doc__.splitlines()[0])
    parser.add_argument("weights", help="a generator's weights folder; the directions are written into it")
    cli.add_dataclass_args(parser, DirectionsConfig, title="directions")
    args = parser.parse_args(argv)
    cfg = cli.from_args(DirectionsConfig, args)
    generator = load_generator(args.weights)
    judge = load_judge(cfg.judge, fallback=False)
    vectors, meta = find_directions(generator, judge, cfg)
    save_directions(args.weights, vectors, meta)
    named = load_directions(args.weights)
    if len(named):
        picture(generator, named).save(Path(args.weights) / DIRECTIONS_PICTURE, quality=92)
    refresh_card(args.weights)
    print(effect_table(meta))
    print(f"wrote {len(named)} direction(s) to {args.weights}: {', '.join(named.labels()) or 'none passed'}")
    return 0


entry = cli.command(main)  # the console script


if __name__ == "__main__":
    sys.exit(entry())
