"""Find a generator's named latent directions and write them into its weights folder.

    python -m catgan.latent weights/dcgan-64 [--n-fit 3000] [--n-test 500]

See catgan.latent.directions for the method. Writes directions.safetensors, directions.json and
directions.jpg, and re-renders the folder's model card with the directions' effects.
"""
import os
import sys
from pathlib import Path

from .. import cli
from ..fileio import atomic_write_text
from ..hub.card import read_card_data, render_card
from ..hub.loader import load_generator
from ..judges import load_judge
from ..weights import CARD_NAME, DIRECTIONS_PICTURE, ENCODER_NAME
from .directions import DirectionsConfig, effect_table, find_directions, load_directions, picture, save_directions


def refresh_card(folder: str | os.PathLike, config, meta: dict) -> None:
    """Re-render the folder's model card with its directions (the rest from the card's own metadata)."""
    card = Path(folder) / CARD_NAME
    data = read_card_data(card.read_text()) if card.is_file() else {}
    atomic_write_text(card, render_card(config, folder=folder, train_config=data.get("train_config"),
                                        summary=data.get("summary"), metrics=data.get("metrics"),
                                        gif=(Path(folder) / "evolution.gif").is_file(),
                                        directions=meta if meta["directions"] else None,
                                        encoder=(Path(folder) / ENCODER_NAME).is_file()))


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
    refresh_card(args.weights, generator.config, meta)
    print(effect_table(meta))
    print(f"wrote {len(named)} direction(s) to {args.weights}: {', '.join(named.labels()) or 'none passed'}")
    return 0


entry = cli.command(main)  # the console script


if __name__ == "__main__":
    sys.exit(entry())
