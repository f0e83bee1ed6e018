"""catgan: grow cat faces with a GAN or a DCGAN, then ask a classifier whether they are cats."""
import os

import torch

from .models import HubModel, ModelConfig

__version__ = "0.1.0"


def load_generator(path_or_repo: str | os.PathLike, *, revision: str | None = None,
                   device: str | torch.device = "cpu") -> HubModel:
    """Load a generator from a weights folder or a Hub repo id; the class comes from config.json.

    A repo id goes through huggingface_hub's cache: offline (HF_HUB_OFFLINE=1 or no network) it
    falls back to the cached copy, then to the bundled weights/<arch>-<size>, with a warning.
    The returned model's ``load_notice`` says which fallback was taken (None: none), and
    ``loaded_from`` where the weights came from. See catgan.hub.load for the full result.
    """
    from .hub import load

    loaded = load(path_or_repo, revision=revision, device=device)
    loaded.generator.load_notice, loaded.generator.loaded_from = loaded.notice, loaded.location
    return loaded.generator


@torch.no_grad()
def sample(generator: HubModel, n: int = 16, *, seed: int = 0, z: torch.Tensor | None = None):
    """``n`` PIL images from ``generator`` (or from explicit latents ``z``), seeded."""
    from .images import to_pil
    from .latent import latents

    device = next(generator.parameters()).device
    if z is None:
        z = latents(generator.config.z_dim, n, seed)
    return to_pil(generator.eval()(z.to(device)))


__all__ = ["load_generator", "sample", "ModelConfig", "__version__"]
