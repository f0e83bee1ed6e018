"""Model registry: ``arch`` in config.json picks the classes."""
from .base import ARCHS, SIZES, WEIGHTS_NAME, HubModel, ModelConfig, load_weights_strict
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .gan import GANDiscriminator, GANGenerator

GENERATORS = {"gan": GANGenerator, "dcgan": DCGANGenerator}
DISCRIMINATORS = {"gan": GANDiscriminator, "dcgan": DCGANDiscriminator}

# Defaults per family: a GAN's width is its first hidden layer, a DCGAN's its base channels.
DEFAULT_WIDTHS = {"gan": 256, "dcgan": 64}


def build_generator(config: ModelConfig) -> HubModel:
    return GENERATORS[config.arch](config)


def build_discriminator(config: ModelConfig) -> HubModel:
    return DISCRIMINATORS[config.arch](config)


__all__ = [
    "ARCHS", "SIZES", "WEIGHTS_NAME", "ModelConfig", "HubModel", "load_weights_strict",
    "GANGenerator", "GANDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
    "GENERATORS", "DISCRIMINATORS", "DEFAULT_WIDTHS", "build_generator", "build_discriminator",
]
