"""The model card of a resnet-animals weights folder: what the net is, its measured test accuracy (as the
judge runs it, on the files as shipped), how it was trained and the command that reproduces it."""
import json

import torch

from .animals import ANIMALS, NOT_ANIMALS, OTHER


def render_card(model: torch.nn.Module, summary: dict, command: str) -> str:
    """README.md for ``model`` from a training ``summary`` (test figures, steps, time, device, config, note)
    and the ``command`` that reproduces it."""
    test, cfg, net = summary["test"], summary["config"], model.config
    rows = "\n".join(f"| {c} | {100 * a:.1f} |" for c, a in test["per_class"].items())
    params = sum(p.numel() for p in model.parameters())
    if net.arch == "fast-resnet":
        what = (f"A fast residual network (ResNet-9 / airbench family: whitened 2x2 stem, three residual stages of "
                f"widths {net.width}, {4 * net.width}, {4 * net.width}; {params / 1e6:.2f} M parameters)")
    else:
        what = f"A CIFAR-style ResNet-{net.depth} (He et al. 2016; width {net.width}, {params / 1e6:.2f} M parameters)"
    tta = ("averaged over the image and its mirror, as the judge runs it; the centre image alone gives "
           f"{100 * test['accuracy_plain']:.2f} %" if net.flip_tta else
           f"centre 32x32, no test-time augmentation; averaging over a horizontal flip would give "
           f"{100 * test['accuracy_flip_tta']:.2f} %")
    fp16 = " (stored as fp16, loaded as fp32)" if summary.get("fp16") else ""
    note = f" {summary['note']}" if summary.get("note") else ""  # e.g. how the run was made, added when shipping
    if OTHER in net.classes:
        classes = (f"the six animal classes of CIFAR-10 ({', '.join(ANIMALS)}) or `other`, a class learnt from "
                   f"{cfg['other_per_class']} training images of each of CIFAR-10's vehicles "
                   f"({', '.join(NOT_ANIMALS)}) so that the judge can answer \"none of these animals\"")
        other = (f" On the {test['n_other']} vehicle test images, {100 * test['per_class'][OTHER]:.1f} % are called "
                 "`other`.")
    else:
        classes, other = f"the six animal classes of CIFAR-10: {', '.join(net.classes)}", ""
    return f"""# resnet-animals

{what} that classifies 32x32 images into {classes}.
catgan uses it as a judge: an image "is a cat" when its top-1 class is `cat`.

## Measured test accuracy

**{100 * test["accuracy"]:.2f} %** on the {test["n"]} CIFAR-10 test images of the six animal classes
(top-1 among all {len(net.classes)} classes, {tta}). Measured on the weights as shipped{fp16}.{other}

| class | accuracy (%) |
|---|---|
{rows}

## Training

{summary["train_images"]} CIFAR-10 training images (cifar10.zip, JPEG re-encodings), {summary["epochs"]} epochs
({summary["steps"]} steps), {summary["wall_time_s"]} s on {summary["device"]}.{note} Reproduce:

```bash
{command}
```

```json
{json.dumps(cfg, indent=2)}
```

Data: CIFAR-10 (Krizhevsky 2009), research use.
"""
