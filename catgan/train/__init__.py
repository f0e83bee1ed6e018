"""Training: the config (config), the loop (trainer) and its parts (losses, diffaug, ema, batches,
checkpoint, devices, distributed), and the release of a run as a weights folder (export).
`python train.py` and `python -m catgan.train` are the command line (__main__)."""
