"""The latent space: sampling and interpolation (sampling), GANSpace's principal directions
(ganspace), directions named by the judges (directions; `python -m catgan.latent` finds them), a
photo's twin (encoder, inversion, pivotal, twin) and a critic to sample through (critic)."""
from .ganspace import Directions, cached_directions, principal_directions
from .sampling import METHODS, MODES, latents, lerp, move, path, sample, sample_grid, schedule, slerp

__all__ = ["METHODS", "MODES", "Directions", "cached_directions", "latents", "lerp", "move", "path",
           "principal_directions", "sample", "sample_grid", "schedule", "slerp"]
