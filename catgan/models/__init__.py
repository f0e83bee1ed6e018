"""Model registry: ``arch`` in config.json picks the Architecture. A new family is one new file in
catgan/models/ (its networks and an ``ARCH = Architecture(...)``) plus one ``register`` line here."""
from . import dcgan, fastgan, gan, projected
from .base import ARCHITECTURES, SIZES, VARIANT, Architecture, Generator, HubModel, ModelConfig, architecture, register
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .gan import GANDiscriminator, GANGenerator

register(gan.ARCH)
register(dcgan.ARCH)
register(fastgan.ARCH)
register(projected.ARCH)


def build_generator(config: ModelConfig) -> Generator:
    return architecture(config.arch).generator(config)


def build_discriminator(config: ModelConfig) -> HubModel:
    return architecture(config.arch).discriminator(config)


__all__ = [
    "ARCHITECTURES", "SIZES", "VARIANT", "Architecture", "Generator", "HubModel", "ModelConfig", "architecture",
    "register", "GANGenerator", "GANDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "build_generator",
    "build_discriminator",
]
