"""Train a catgan generator, or export a run's EMA generator as a weights folder.

    python train.py --data cats.zip --arch dcgan --size 64 --out runs/dcgan-64 --epochs 25
    python train.py --data cats.zip --out runs/dcgan-64 --resume --epochs 50
    python train.py export runs/dcgan-64 weights/dcgan-64 [--fp16]
    python train.py --data cats.zip --out runs/dcgan-64 --push-to-hub USER/REPO [--private]

Flags map one-to-one onto catgan.models.ModelConfig and catgan.train.config.TrainConfig. A mistake ends
as one `error: ...` line (CATGAN_DEBUG=1 shows the traceback).
"""
import sys

from catgan.train.__main__ import entry, main  # noqa: F401 - main: tests drive the command line in-process

if __name__ == "__main__":
    sys.exit(entry())
