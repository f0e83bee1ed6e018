"""Score a few non-CIFAR photos (scikit-image's) with resnet-animals folders: the chelsea/coffee check
of the tests, plus other non-animal photos as an out-of-distribution sanity check.

    python bench/judge_probe.py weights/resnet-animals runs/X/export ...
"""
import sys
from pathlib import Path

from PIL import Image
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catgan.judges import load_judge  # noqa: E402

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "camera", "coins", "clock", "moon", "page", "brick",
          "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "colorwheel", "logo")


def main(folders: list[str]) -> None:
    images = {n: Image.fromarray(getattr(skdata, n)()) for n in PHOTOS}
    for folder in folders:
        judge = load_judge("resnet-animals", weights=folder)
        print(f"== {folder}")
        for name, v in zip(images, judge.score(list(images.values()))):
            top = ", ".join(f"{label} {p:.2f}" for label, p in v.top5[:3])
            print(f"  {name:22s} {'CAT' if v.is_cat else '   '} p_cat={v.p_cat:.2f}  {top}")


if __name__ == "__main__":
    main(sys.argv[1:])
