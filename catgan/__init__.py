"""catgan: grow cat faces with a GAN or a DCGAN, then ask a classifier whether they are cats."""
import os

import torch

from .models import GENERATORS, HubModel, ModelConfig

__version__ = "0.1.0"


def load_generator(path_or_repo: str | os.PathLike, *, revision: str | None = None,
                   device: str | torch.device = "cpu") -> HubModel:
    """Load a generator from a weights folder or a Hub repo id; the class comes from config.json."""
    import json

    from huggingface_hub import hf_hub_download

    src = str(path_or_repo)
    if os.path.isdir(src):
        config_file = os.path.join(src, "config.json")
        if not os.path.isfile(config_file):
            raise FileNotFoundError(f"no config.json in {src}")
    elif os.path.exists(src) or src.startswith((".", "/")) or src.count("/") != 1:
        raise FileNotFoundError(f"weights folder not found: {src}")
    else:
        config_file = hf_hub_download(src, "config.json", revision=revision)
    with open(config_file) as f:
        config = ModelConfig.from_dict(json.load(f))
    model = GENERATORS[config.arch].from_pretrained(src, revision=revision)
    return model.to(device).eval()


@torch.no_grad()
def sample(generator: HubModel, n: int = 16, *, seed: int = 0, z: torch.Tensor | None = None):
    """``n`` PIL images from ``generator`` (or from explicit latents ``z``), seeded."""
    from .images import to_pil

    device = next(generator.parameters()).device
    if z is None:
        z = torch.randn(n, generator.config.z_dim, generator=torch.Generator().manual_seed(seed))
    return to_pil(generator.eval()(z.to(device)))


__all__ = ["load_generator", "sample", "ModelConfig", "__version__"]
