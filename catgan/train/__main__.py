"""Train a catgan generator, or export a run's EMA generator as a weights folder.

    python train.py --data cats.zip --arch dcgan --size 64 --out runs/dcgan-64 --epochs 25
    python train.py --data cats.zip --out runs/dcgan-64 --resume --epochs 50
    python train.py export runs/dcgan-64 weights/dcgan-64 [--fp16]
    python train.py --data cats.zip --out runs/dcgan-64 --push-to-hub USER/REPO [--private]

Flags map one-to-one onto catgan.models.ModelConfig and catgan.train.config.TrainConfig. A mistake ends
as one `error: ...` line (CATGAN_DEBUG=1 shows the traceback): exit status 2 for a wrong command line,
found before any work (values, model size, the data source, the run folder, device and precision), 1 for
a failed run.
"""
import sys
import warnings
from pathlib import Path

from ..cli import ArgumentParser, argument_checks, command, from_args
from ..data.dataset import image_names, load_images
from ..hub.loader import HubError
from ..hub.publish import publish, require_token
from ..models import ModelConfig
from . import distributed
from .checkpoint import CHECKPOINT_NAME, check_run_folder, move_run_aside
from .config import TrainConfig, add_train_args, run_config_json
from .devices import resolve_device, resolve_precision
from .export import export_run
from .trainer import Trainer


def train_main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="train.py", description="Train a GAN or DCGAN on cat photos.")
    add_train_args(parser)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a fresh run in an OUT that holds one; the old run is kept, renamed "
                             "OUT.replaced-DATE-TIME (without --resume or --overwrite, such an OUT is refused)")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar (logs still go to metrics.jsonl)")
    parser.add_argument("--push-to-hub", metavar="USER/REPO", help="publish the exported generator to the Hub at the end")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    args = parser.parse_args(argv)
    model_cfg, train_cfg = from_args(ModelConfig, args), from_args(TrainConfig, args)  # the model's size too
    if args.dry_run:
        print(run_config_json(model_cfg, train_cfg))
        return 0
    if not train_cfg.data:
        parser.error("--data is required: a folder or .zip of cat photos")
    with argument_checks(), warnings.catch_warnings():  # before any work; the Trainer warns about bf16 itself
        warnings.simplefilter("ignore")
        image_names(train_cfg.data)  # the source exists and holds image files
        check_run_folder(train_cfg.out, resume=args.resume, overwrite=args.overwrite)
        resolve_precision(train_cfg.precision, resolve_device(train_cfg.device))
    if args.push_to_hub:  # fail now, not after hours of training
        try:
            require_token()
        except HubError as e:
            parser.error(str(e))

    dist = distributed.init_from_env(train_cfg.device)  # torchrun sets the env; else single-process
    say = (lambda msg: print(msg, file=sys.stderr)) if dist.is_main else (lambda msg: None)
    progress = dist.is_main and not args.no_progress
    try:
        images = load_images(train_cfg.data, model_cfg.img_size, limit=train_cfg.limit or None,
                             cache_dir=train_cfg.cache_dir or None, progress=progress)
        trainer = Trainer(model_cfg, train_cfg, images.images, dist=dist, progress=progress)
        if args.resume:
            trainer.resume()
        elif train_cfg.init_from:
            started = trainer.warm_start(train_cfg.init_from)
        # every check has passed: from here on, report and write
        say(images.report())
        if args.resume:
            say(f"resumed from step {trainer.step}")
        elif train_cfg.init_from:
            say(f"started from {started}")
        if args.overwrite and dist.is_main and (aside := move_run_aside(train_cfg.out)):
            say(f"the old run in {train_cfg.out} was moved to {aside}")
        distributed.wait_for_all()
        summary = trainer.fit()
        if dist.is_main:
            out = export_run(train_cfg.out, f"{train_cfg.out}/generator")
            say(f"done: {summary['steps']} steps, {summary['mean_images_per_s']} img/s; generator in {out}")
        distributed.wait_for_all()
    finally:
        distributed.shutdown()
    if args.push_to_hub and dist.is_main:
        try:
            print(f"pushed to {publish(out, args.push_to_hub, private=args.private, run_dir=train_cfg.out).commit_url}")
        except HubError as e:
            raise HubError(f"{e} (retry: python -m catgan.hub.publish {out} {args.push_to_hub})") from None
    return 0


def export_main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="train.py export", description="Export a run's EMA generator.")
    parser.add_argument("run", help="run folder holding checkpoint.pt")
    parser.add_argument("out", help="weights folder to write (config.json, model.safetensors, README.md)")
    parser.add_argument("--fp16", action="store_true", help="store weights in fp16 (half the size)")
    parser.add_argument("--results", help="catgan.eval.evaluate JSON with a row for OUT: its metrics go in the card")
    parser.add_argument("--standing-stats", type=int, default=0, metavar="BATCHES",
                        help="recompute BatchNorm statistics for the EMA weights, dropout off, over this many "
                             "batches of 64 latents (BigGAN's standing statistics; 0: keep the trained ones)")
    args = parser.parse_args(argv)
    with argument_checks():
        if not (Path(args.run) / CHECKPOINT_NAME).is_file():
            raise FileNotFoundError(f"no checkpoint at {Path(args.run) / CHECKPOINT_NAME}")
        if args.results and not Path(args.results).is_file():
            raise FileNotFoundError(f"results file not found: {args.results}")
        if args.standing_stats < 0:
            raise ValueError(f"--standing-stats must be 0 or more, got {args.standing_stats}")
    print(export_run(args.run, args.out, fp16=args.fp16, results=args.results, standing=args.standing_stats))
    return 0


def main(argv: list[str]) -> int:
    return export_main(argv[1:]) if argv[:1] == ["export"] else train_main(argv)


entry = command(main)  # the console script


if __name__ == "__main__":
    sys.exit(entry())
