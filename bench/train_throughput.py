"""DCGAN-64 training throughput on this machine: catgan's trainer vs the PyTorch DCGAN tutorial.

The reference is written the way pytorch/examples' dcgan and the official tutorial are:
torchvision ImageFolder + DataLoader (per-step PIL decode, 2 workers), fp32, NCHW, a Sigmoid at
the end of D and BCELoss. catgan: in-memory uint8 batches, bf16 autocast, channels_last,
logits + BCE-with-logits (the same loss, so the comparison is like for like).

    python bench/train_throughput.py [--data ../shared/data/cat-faces-64.zip] [--steps 20]
"""
import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catgan.data.dataset import load_images  # noqa: E402
from catgan.models import ModelConfig  # noqa: E402
from catgan.train.config import TrainConfig  # noqa: E402
from catgan.train.trainer import Trainer  # noqa: E402

NZ, NGF, NDF = 100, 64, 64


def tutorial_models():
    """The tutorial's G and D, verbatim in structure (Sigmoid output, BCELoss)."""
    g = nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 8), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 3, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(3, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())
    return g, d


def reference_images_per_s(folder: Path, batch_size: int, steps: int, warmup: int) -> float:
    import torchvision.datasets as dset
    import torchvision.transforms as transforms

    dataset = dset.ImageFolder(root=str(folder), transform=transforms.Compose([
        transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
    net_g, net_d = tutorial_models()
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    done, t0 = 0, None
    while done < steps + warmup:
        for data in loader:
            if done == warmup:
                t0 = time.perf_counter()
            # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
            net_d.zero_grad()
            real = data[0]
            label = torch.full((real.size(0),), 1.0)
            err_real = criterion(net_d(real).view(-1), label)
            err_real.backward()
            fake = net_g(torch.randn(real.size(0), NZ, 1, 1))
            label.fill_(0.0)
            err_fake = criterion(net_d(fake.detach()).view(-1), label)
            err_fake.backward()
            opt_d.step()
            # (2) update G: maximize log(D(G(z)))
            net_g.zero_grad()
            label.fill_(1.0)
            err_g = criterion(net_d(fake).view(-1), label)
            err_g.backward()
            opt_g.step()
            done += 1
            if done == steps + warmup:
                break
    return steps * batch_size / (time.perf_counter() - t0)


def catgan_images_per_s(zip_path: Path, batch_size: int, steps: int, warmup: int, precision: str) -> float:
    images = load_images(zip_path, 64, progress=False).images
    cfg = TrainConfig(batch_size=batch_size, loss="bce", precision=precision, out=tempfile.mkdtemp())
    trainer = Trainer(ModelConfig(arch="dcgan", img_size=64), cfg, images, progress=False)
    for _ in range(warmup):
        trainer.train_step()
        trainer.step += 1
    t0 = time.perf_counter()
    for _ in range(steps):
        stats = trainer.train_step()
        trainer.step += 1
    stats.tolist()  # wait for the last step
    return steps * batch_size / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/cat-faces-64.zip"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, DCGAN-64, batch {args.batch_size}, "
          f"{args.steps} timed steps after {args.warmup} warm-up steps")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.data) as z:
            z.extractall(tmp)  # ImageFolder wants files on disk, as in the tutorial
        ref = reference_images_per_s(Path(tmp), args.batch_size, args.steps, args.warmup)
    print(f"reference (tutorial loop, fp32, DataLoader): {ref:7.1f} img/s")
    results = {}
    for precision in ("fp32", "bf16"):
        results[precision] = catgan_images_per_s(Path(args.data), args.batch_size, args.steps, args.warmup, precision)
        print(f"catgan trainer ({precision}, in-memory):        {results[precision]:7.1f} img/s "
              f"= {results[precision] / ref:.2f}x reference")


if __name__ == "__main__":
    main()
