"""catgan demo: grow cats from a trained generator.

    python app.py                 # serves on http://127.0.0.1:7860
    python app.py --weights DIR   # another folder of weights folders

The UI and its wiring live here; everything else is in the catgan package.
"""
import argparse
import functools
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing phones home

import gradio as gr  # noqa: E402

from catgan import load_generator, sample  # noqa: E402

WEIGHTS = Path(__file__).resolve().parent / "weights"
MAX_CATS = 64


def list_models(weights_root: Path) -> list[str]:
    """Weights folders (those holding a config.json) under ``weights_root``, by name."""
    if not weights_root.is_dir():
        return []
    return sorted(p.name for p in weights_root.iterdir() if (p / "config.json").is_file())


@functools.lru_cache(maxsize=8)
def _generator(path: str):
    return load_generator(path)  # read-only after loading: safe to share between users


def grow_cats(weights_root: Path, model: str | None, seed: float, n: float, upscale: float):
    if not model:
        raise gr.Error(f"No trained weights found in {weights_root}. Train one with `python train.py ...` "
                       "and export it with `python train.py export runs/NAME weights/NAME`.")
    if model not in list_models(weights_root):
        raise gr.Error(f"Unknown model {model!r}.")
    n = int(min(max(n, 1), MAX_CATS))
    try:
        generator = _generator(str(weights_root / model))
    except (OSError, ValueError) as e:
        raise gr.Error(f"Could not load {model}: {e}") from None
    size = generator.config.img_size * int(upscale)
    images = [im.resize((size, size), resample=0) for im in sample(generator, n, seed=int(seed))]
    return images, f"{model}: {generator.config.arch.upper()} at {generator.config.img_size}px, seed {int(seed)}"


def build_demo(weights_root: Path = WEIGHTS) -> gr.Blocks:
    models = list_models(weights_root)
    with gr.Blocks(title="catgan", analytics_enabled=False) as demo:
        gr.Markdown("# catgan\nCats grown by a GAN trained on unlabeled cat faces.")
        with gr.Row():
            model = gr.Dropdown(models, value=models[0] if models else None, label="Model (weights/)")
            seed = gr.Number(0, precision=0, label="Seed")
            n = gr.Slider(1, MAX_CATS, value=16, step=1, label="Cats")
            upscale = gr.Slider(1, 4, value=2, step=1, label="Upscale (nearest)")
        button = gr.Button("Grow cats", variant="primary")
        info = gr.Markdown()
        gallery = gr.Gallery(label="Generated cats", columns=8, height="auto")
        button.click(functools.partial(grow_cats, weights_root), [model, seed, n, upscale], [gallery, info],
                     api_name="grow")
    return demo


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="folder of weights folders")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    build_demo(args.weights).queue(default_concurrency_limit=2).launch(
        server_name=args.host, server_port=args.port, max_file_size="10mb")
