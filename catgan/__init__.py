"""catgan: grow cat faces with a GAN or a DCGAN, then ask a classifier whether they are cats.

    from catgan import load_generator, sample
    generator = load_generator("weights/dcgan-64")  # or "USER/REPO", via the Hugging Face cache
    cats = sample(generator, n=16, seed=0)  # list of PIL images
"""
from .hub.loader import load_generator
from .latent import sample
from .models import ModelConfig

__version__ = "0.1.0"

__all__ = ["load_generator", "sample", "ModelConfig", "__version__"]
