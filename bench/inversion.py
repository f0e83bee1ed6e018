"""How well a generator's latent space holds real cats: train the inversion encoder, then invert
(a) generated cats with known z, (b) training faces, (c) cats it never saw (CIFAR-10 test cats, 32 px
upscaled, and skimage's Chelsea cropped by the cat-face cascade), and print a table.

    python bench/inversion.py --weights weights/dcgan-64 [--minutes 3] [--n 8] [--steps 60] [--out DIR]

Per set and start (encoder alone / encoder + optimisation / best random start + optimisation / the
app's twin: encoder + optimisation + the generator's last layers tuned to each cat):
PSNR (dB), the Lite1 perceptual distance, for tuned twins how much the named sliders still move them as
they move the shared generator's (cosine), whether MobileNetV2 and EfficientNet-Lite0 pick the same
domestic-cat class (ImageNet 281-285) for the original and its twin, and the same top-1 of all 1,000
classes, and wall seconds per cat (the set inverted as one batch); then the app's own path timed on
Chelsea: find the face, crop, encoder, --steps of refinement, --tune-steps of tuning, one cat at a
time. Resumable: the encoder (encoder.safetensors + encoder.json) and every finished row
(results.json) are kept in --out; a rerun skips them (--fresh starts over). --save-encoder also
copies the trained encoder into the weights folder; --picture writes Chelsea's twin moved along two
named directions (docs/your-cat.jpg). Prints figures; never fails because a machine is slow.
"""
import argparse
import json
import shutil
import statistics
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catgan import load_generator  # noqa: E402
from catgan.data import load_images  # noqa: E402
from catgan.fileio import atomic_write_text  # noqa: E402
from catgan.images import decode_rgb, pil_to_float, to_pil  # noqa: E402
from catgan.judges import JudgeUnavailable, load_judge  # noqa: E402
from catgan.judges.imagenet import CAT_CLASSES  # noqa: E402
from catgan.latent.directions import load_directions  # noqa: E402
from catgan.latent.encoder import (  # noqa: E402
    ENCODER_META,
    ENCODER_NAME,
    EncoderTrainConfig,
    load_encoder,
    save_encoder,
    train_encoder,
)
from catgan.latent.inversion import invert, psnr  # noqa: E402
from catgan.latent.perceptual import load_perceptual  # noqa: E402
from catgan.latent.pivotal import draw_tuned, tune  # noqa: E402
from catgan.latent.twin import TWIN_CONFIG, TWIN_TUNING, NoFace, face_crop, find_twin  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
STARTS = ("encoder", "encoder+opt", "random+opt", "encoder+opt+tuned")


def cifar_cats(path: Path, n: int, size: int) -> torch.Tensor:
    """The first ``n`` CIFAR-10 test cats (never training data here), upscaled bilinearly to ``size``."""
    with zipfile.ZipFile(path) as z:
        names = sorted(m for m in z.namelist() if m.startswith("test/cat/") and not m.endswith("/"))[:n]
        x = torch.stack([pil_to_float(decode_rgb(z.read(m))) for m in names])
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def chelsea() -> Image.Image | None:
    try:
        from skimage.data import chelsea as photo
    except ImportError:
        return None
    return Image.fromarray(photo())


def face_of(photo: Image.Image | None, size: int) -> torch.Tensor | None:
    """(1, 3, size, size): the face as the app crops it, or None."""
    try:
        return None if photo is None else pil_to_float(face_crop(photo, size)[0])[None]
    except NoFace:
        return None


def agreement(judges, original: torch.Tensor, twin: torch.Tensor) -> dict:
    """Per judge: the share of pairs with the same domestic-cat class (argmax over 281-285) and the
    same top-1 over all 1,000 classes."""
    out = {}
    for judge in judges:
        p, q = judge.probs(original), judge.probs(twin)
        cats = list(CAT_CLASSES)
        out[judge.name] = {"cat_class": float((p[:, cats].argmax(1) == q[:, cats].argmax(1)).float().mean()),
                           "top1": float((p.argmax(1) == q.argmax(1)).float().mean())}
    return out


@torch.no_grad()
def edit_agreement(generator, named, z: torch.Tensor, tails: list[dict]) -> float | None:
    """Mean cosine between what a named slider (+2.5) changes in a tuned twin and what it changes in the
    same latent drawn by the shared generator: 1 when tuning leaves the sliders' effect as it was."""
    if named is None:
        return None
    cosines = []
    for zi, tail in zip(z, tails):
        for k in range(len(named.labels())):
            moved = named.apply(zi[None], [2.5 if j == k else 0.0 for j in range(len(named.labels()))])
            tuned = draw_tuned(generator, tail, moved) - draw_tuned(generator, tail, zi[None])
            shared = generator(moved) - generator(zi[None])
            cosines.append(float(F.cosine_similarity(tuned.flatten(), shared.flatten(), dim=0)))
    return statistics.mean(cosines)


def get_encoder(generator, args, out: Path, faces: torch.Tensor, perceptual):
    if (out / ENCODER_NAME).is_file():
        print(f"encoder: resumed from {out}")
        return load_encoder(out, generator)
    config = EncoderTrainConfig(steps=10**9, batch_size=args.batch, lr=args.lr, seed=args.seed,
                                perceptual_weight=args.enc_perceptual)
    last = [time.perf_counter()]

    def report(step, record):
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k != "step"), flush=True)

    start = time.perf_counter()
    encoder, history = train_encoder(generator, faces, config=config, perceptual=perceptual if args.enc_perceptual else None,
                                     width=args.width, max_seconds=args.minutes * 60, callback=report)
    first, final = history[0], history[-1]
    print(f"encoder: {len(history)} steps in {time.perf_counter() - start:.0f} s; latent {first['latent']:.3f} -> "
          f"{final['latent']:.3f}, recon {first['recon']:.3f} -> {final['recon']:.3f}, real "
          f"{first.get('real', float('nan')):.3f} -> {final.get('real', float('nan')):.3f}")
    save_encoder(encoder, out)
    if args.save_encoder:
        for name in (ENCODER_NAME, ENCODER_META):
            shutil.copy(out / name, Path(args.weights) / name)
    return encoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="weights/dcgan-64")
    ap.add_argument("--out", default=None, help="results + encoder (default runs/inversion/<weights name>)")
    ap.add_argument("--faces", default=str(SHARED / "cat-faces-64.zip"))
    ap.add_argument("--cifar", default=str(SHARED / "cifar10.zip"))
    ap.add_argument("--minutes", type=float, default=3.0, help="encoder training budget")
    ap.add_argument("--n", type=int, default=8, help="cats per set")
    ap.add_argument("--steps", type=int, default=TWIN_CONFIG.steps, help="optimisation steps per inversion (default: "
                                                                        "the app's)")
    ap.add_argument("--tune-steps", type=int, default=TWIN_TUNING.steps, help="pivotal tuning steps of the "
                    "encoder+opt+tuned start (default: the app's)")
    ap.add_argument("--batch", type=int, default=16, help="encoder training batch")
    ap.add_argument("--lr", type=float, default=3e-4, help="encoder learning rate")
    ap.add_argument("--width", type=int, default=32, help="encoder width")
    ap.add_argument("--enc-perceptual", type=float, default=0.0, help="perceptual weight while training the encoder")
    ap.add_argument("--perceptual-weight", type=float, default=TWIN_CONFIG.perceptual_weight,
                    help="perceptual weight while optimising z (default: the app's)")
    ap.add_argument("--starts", nargs="+", choices=STARTS, default=list(STARTS), help="starts to compare")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-encoder", action="store_true", help="copy the encoder into the weights folder")
    ap.add_argument("--fresh", action="store_true", help="forget --out's encoder and results")
    ap.add_argument("--picture", help="also write Chelsea, her twin and the twin moved by named sliders (JPEG)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/inversion/{Path(args.weights).name}")
    if args.fresh:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}

    generator = load_generator(args.weights).eval()
    size, z_dim = generator.config.img_size, generator.config.z_dim
    perceptual = load_perceptual()
    judges = []
    for name in ("mobilenet_v2", "efficientnet_lite0"):
        try:
            judges.append(load_judge(name, fallback=False))
        except JudgeUnavailable as err:
            print(f"judge {name} skipped: {err}")
    faces = load_images(args.faces, size, progress=False).images  # uint8 (N, 3, S, S)
    held = faces[-args.n:]  # evaluated faces: the encoder trains on the others (the generator saw them all)
    encoder = get_encoder(generator, args, out, faces[:-args.n], perceptual)

    z_known = torch.randn(args.n, z_dim, generator=torch.Generator().manual_seed(10_000 + args.seed))
    with torch.no_grad():
        sets = {"generated": generator(z_known), "training faces": held.float() / 127.5 - 1,
                "CIFAR-10 cats": cifar_cats(Path(args.cifar), args.n, size)}
    if (one := face_of(chelsea(), size)) is not None:
        sets["Chelsea (cascade crop)"] = one
    named = load_directions(args.weights, z_dim)
    config = replace(TWIN_CONFIG, steps=args.steps, perceptual_weight=args.perceptual_weight, seed=args.seed)
    tuning = replace(TWIN_TUNING, steps=args.tune_steps)
    for set_name, target in sets.items():
        for start in args.starts:
            key = f"{set_name} | {start} | {args.steps} steps, perceptual {args.perceptual_weight:g}"
            key += f", {args.tune_steps} tuning steps" if start.endswith("tuned") else ""
            if key in results:
                continue
            steps = 0 if start == "encoder" else args.steps
            inv = invert(generator, target, encoder if start != "random+opt" else None, config=config,
                         perceptual=perceptual, steps=steps)
            image, seconds = inv.image, inv.seconds
            edits = None
            if start.endswith("tuned"):  # the app's twin: each cat's own tail, tuned one cat at a time
                began = time.perf_counter()
                tails = [tune(generator, z[None], t[None], perceptual, tuning) for z, t in zip(inv.z, inv.target)]
                image = torch.cat([draw_tuned(generator, tail, z[None]) for tail, z in zip(tails, inv.z)])
                seconds += time.perf_counter() - began
                edits = edit_agreement(generator, named, inv.z, tails)
            row = {"n": len(target), "psnr": float(psnr(image, inv.target).mean()),
                   "perceptual": float(perceptual.distance(image, inv.target).mean()),
                   "seconds_per_cat": seconds / len(target), "z_norm": float(inv.z.norm(dim=1).mean() / z_dim ** 0.5),
                   "judges": agreement(judges, target, image)}
            if edits is not None:
                row["edit_cosine"] = edits
            if set_name == "generated":
                row["z_error"] = float((inv.z - z_known).norm(dim=1).mean() / z_dim ** 0.5)
            results[key] = row
            atomic_write_text(results_path, json.dumps(results, indent=1))
            print(f"done: {key}  PSNR {row['psnr']:.2f} dB in {row['seconds_per_cat']:.1f} s/cat", flush=True)
    mine = f"| {args.steps} steps, perceptual {args.perceptual_weight:g}"
    print_table({k: r for k, r in results.items() if k.endswith((mine, f"{mine}, {args.tune_steps} tuning steps"))},
                [j.name for j in judges], args)
    if (photo := chelsea()) is not None:  # the app's path, one cat at a time
        times = [find_twin(generator, photo, encoder, perceptual=perceptual, config=config, tuning=tuning).seconds
                 for _ in range(5)]
        print(f"\nthe app's path on Chelsea (face search, crop, encoder, {args.steps} steps on z, {args.tune_steps} "
              f"tuning steps; {args.threads} thread(s)): "
              f"median {statistics.median(times):.2f} s per cat, max {max(times):.2f} s (5 runs)")
        if args.picture:
            picture(generator, named, find_twin(generator, photo, encoder, perceptual=perceptual, config=config,
                                                       tuning=tuning), args.picture)


def picture(generator, named, twin, path: str) -> None:
    """Chelsea's face, her twin, and the twin moved along two named directions: one strip (JPEG)."""
    cols = [("your cat", twin.face[None]), (f"twin ({twin.psnr:.1f} dB)", twin.image[None])]
    for label in ("grey ↔ ginger", "dark ↔ light fur"):
        if named is None or label not in named.labels():
            continue
        for amount in (-2.5, 2.5):
            amounts = [amount if other == label else 0.0 for other in named.labels()]
            with torch.no_grad():
                moved = draw_tuned(generator, twin.tail, named.apply(twin.z[None], amounts))
                cols.append((f"{label.replace('↔', '<->')} {amount:+g}", moved))
    cell, pad, top = 160, 6, 22
    strip = Image.new("RGB", (len(cols) * (cell + pad) + pad, cell + top + pad), "white")
    draw = ImageDraw.Draw(strip)
    for k, (name, x) in enumerate(cols):
        strip.paste(to_pil(x.clamp(-1, 1))[0].resize((cell, cell), Image.Resampling.BICUBIC), (pad + k * (cell + pad), top))
        draw.text((pad + k * (cell + pad), 5), name, fill="black")
    strip.save(path, quality=90)
    print(f"wrote {path}")


def print_table(results: dict, judge_names: list[str], args) -> None:
    heads = ["set | start", "PSNR dB", "Lite1 dist", "|z|/sqrt(d)"]
    heads += [f"{j} cat/top1" for j in judge_names] + ["slider cosine", "s/cat"]
    print(f"\n{args.weights}: {args.n} cats per set, {args.steps} steps, encoder budget {args.minutes} min\n")
    print("| " + " | ".join(heads) + " |\n|" + "---|" * len(heads))
    for key, r in results.items():
        cells = [key, f"{r['psnr']:.2f}", f"{r['perceptual']:.3f}", f"{r['z_norm']:.2f}"]
        cells += [f"{r['judges'][j]['cat_class']:.2f} / {r['judges'][j]['top1']:.2f}" if j in r["judges"] else "-"
                  for j in judge_names]
        cosine = f"{r['edit_cosine']:.2f}" if r.get("edit_cosine") is not None else "-"
        print("| " + " | ".join(cells + [cosine, f"{r['seconds_per_cat']:.1f}"]) + " |")
    if gen := results.get("generated | encoder+opt"):
        print(f"\ngenerated, encoder+opt: mean |z - z_true| / sqrt(z_dim) = {gen.get('z_error', float('nan')):.2f}")


if __name__ == "__main__":
    main()
