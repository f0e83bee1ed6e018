"""How well one pixel feature tells the quiz's real photo from its fake, per generator.

    python bench/quiz_tells.py --models weights/dcgan-64 weights/gan-64 \\
        [--real ../shared/data/cat-faces-64.zip] [--pairs 2000] [--seed 0] [--report quiz-tells.json]

For each generator, --pairs pairs are made as the quiz makes them (catgan.quiz.pairs.present: both
images at the generator's resolution, then one random view of the pair, mirrored or not, scaled to
64 px), each a real face drawn without replacement and a fresh sample. For each feature, the share
of pairs in which the real side has more of it: 50 % means the feature tells nothing; a visitor who
knew the rule would pick the real side max(p, 1 - p) of the time. Features, on the 64 px file as the
browser gets it: sharpness (mean squared Laplacian of the grey image), contrast (standard deviation
of grey), saturation (mean of max - min over the colour channels) and brightness (mean grey).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catgan import load_generator  # noqa: E402
from catgan.data import load_images  # noqa: E402
from catgan.images import luma  # noqa: E402
from catgan.latent import latents  # noqa: E402
from catgan.quiz.pairs import present, random_view  # noqa: E402

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def features(images: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W, 3) uint8 files -> one value per image and feature."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    grey = luma(x).unsqueeze(1)
    laplacian = torch.nn.functional.conv2d(grey, LAPLACIAN)
    return {"sharpness": laplacian.pow(2).mean((1, 2, 3)).numpy(), "contrast": grey.std((1, 2, 3)).numpy(),
            "saturation": (x.amax(1) - x.amin(1)).mean((1, 2)).numpy(), "brightness": grey.mean((1, 2, 3)).numpy()}


def served_pairs(generator, photos: torch.Tensor, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, fake) files of ``n`` pairs, each pair through its own random view, as the quiz serves them."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(photos), size=n, replace=len(photos) < n)
    with torch.no_grad():
        fakes = torch.cat([generator(z) for z in latents(generator.config.z_dim, n, seed).split(256)])
    real, fake, size = [], [], generator.config.img_size
    for i in range(n):
        view = random_view()
        real.append(np.asarray(present(photos[picks[i]], size, view=view)))
        fake.append(np.asarray(present(fakes[i], size, view=view)))
    return np.stack(real), np.stack(fake)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", required=True, help="generators' weights folders")
    ap.add_argument("--real", default="../shared/data/cat-faces-64.zip", help="the quiz's real photos")
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0, help="seeds the latents and which photos are drawn")
    ap.add_argument("--report", help="write the shares as JSON here")
    args = ap.parse_args()
    photos = load_images(args.real, 64, progress=False).images
    report = {"pairs": args.pairs, "seed": args.seed, "real": args.real, "models": {}}
    print(f"share of {args.pairs} quiz pairs in which the real side has more of each feature (50 %: no tell)")
    for folder in args.models:
        generator = load_generator(folder).eval()
        real, fake = served_pairs(generator, photos, args.pairs, args.seed)
        f_real, f_fake = features(real), features(fake)
        shares = {k: float((f_real[k] > f_fake[k]).mean()) for k in f_real}
        report["models"][folder] = shares
        print(f"{folder}: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in shares.items()))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
