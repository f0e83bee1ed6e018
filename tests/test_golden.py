"""The shipped generators' outputs, pinned: a few pixels of three seeded samples each.

Any change to a generator's layers, its forward pass, its weights or the latent sampler shows up
here, even when the weights still load strictly. The values were recorded from the shipped weights."""
import pytest
import torch

from catgan import load_generator
from catgan.latent import latents

SEED = 1234
GOLDEN = {  # name: (9 pixel values (sample, channel, y, x) at the picks below, mean of all 3 samples)
    "dcgan-64-r1": ([0.7406, -0.0182, 0.3647, -0.2594, 0.8259, -0.2102, 0.2164, 0.4744, 0.2804], 0.25662),
    "dcgan-64": ([0.0834, -0.0315, -0.315, -0.4725, -0.5474, 0.4914, -0.086, -0.2251, -0.3766], -0.12099),
    "dcgan-32": ([-0.7321, -0.4277, -0.3059, 0.5913, 0.4469, -0.0325, -0.2678, -0.0398, 0.8598], -0.07977),
    "gan-64": ([0.4526, -0.0778, 0.209, 0.1058, -0.0892, -0.3386, 0.0256, -0.5923, -0.2896], -0.16122),
    "gan-32": ([-0.711, -0.6576, -0.4597, -0.2648, -0.4275, -0.5228, 0.2623, 0.3255, -0.0584], -0.32554),
}


def picks(size: int) -> list[tuple[int, int, int, int]]:
    s = size
    return [(i, c, y, x) for i in range(3) for (c, y, x) in ((0, s // 2, s // 2), (1, s // 4, 3 * s // 4),
                                                               (2, 3 * s // 4, s // 4))]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_shipped_generator_outputs_are_pinned(name):
    generator = load_generator(f"weights/{name}")
    with torch.no_grad():
        x = generator(latents(generator.config.z_dim, 3, seed=SEED))
    values, mean = GOLDEN[name]
    got = [float(x[p]) for p in picks(x.shape[-1])]
    assert got == pytest.approx(values, abs=1e-3)
    assert float(x.mean()) == pytest.approx(mean, abs=1e-4)
