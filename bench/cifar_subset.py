"""Copy the members of cifar10.zip that a resnet-animals run reads into a smaller zip, byte for byte.

The GPU machine takes at most 64 MiB of working tree, so the full 52 MB zip cannot travel with the
repository. ``load_cifar`` picks the first N images of each vehicle folder in name order, so a zip
holding every animal image, the first ``--other-per-class`` images of each vehicle folder and the whole
test split loads to exactly the same tensors as the full zip for runs with that many ``other`` images
or fewer.

    python bench/cifar_subset.py ../shared/data/cifar10.zip .data/cifar10-judge.zip --other-per-class 1250
"""
import argparse
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catgan.judges.animals import NOT_ANIMALS, cifar_index  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--other-per-class", type=int, default=1250)
    args = ap.parse_args()
    with zipfile.ZipFile(args.src) as src, zipfile.ZipFile(args.dst, "w") as dst:
        for folder, names in cifar_index(src).items():
            if folder.startswith("train/") and folder.split("/")[1] in NOT_ANIMALS:
                names = names[:args.other_per_class]
            for name in names:
                info = src.getinfo(name)
                dst.writestr(info, src.read(info), compress_type=info.compress_type)


if __name__ == "__main__":
    main()
