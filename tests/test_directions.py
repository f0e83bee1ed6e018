"""catgan.latent.directions: InterFaceGAN boundaries recover known directions, and the shipped named
directions of DCGAN-64 do what their names say on held-out seeds."""
from types import SimpleNamespace

import pytest
import torch

from catgan import load_generator
from catgan.latent import latents
from catgan.latent.directions import (
    DirectionsConfig,
    Effect,
    Measurer,
    colour_attributes,
    condition,
    find_directions,
    fit_boundary,
    load_directions,
    passes,
    regions,
    save_directions,
)

HELD_OUT = 424242  # the directions were fitted on seed 7 and tested on seed 8


def test_a_linear_attribute_is_recovered_and_conditioning_removes_another():
    z = latents(32, 4000, seed=0)
    w = torch.zeros(32)
    w[:2] = torch.tensor([3.0, 4.0]) / 5
    values = z @ w + 0.3 * torch.randn(4000, generator=torch.Generator().manual_seed(1))
    found = fit_boundary(z, values.double())
    assert torch.dot(found, w) > 0.97 and found.norm() == pytest.approx(1, abs=1e-5)
    other = torch.zeros(32)
    other[0] = 1.0
    pure = condition(found, [other])
    assert abs(float(pure @ other)) < 1e-5 and float(pure @ w) > 0.7


def test_passing_needs_significance_and_the_largest_change():
    e = lambda m, lo: Effect(m, lo, 2 * m - lo, 0.9)  # noqa: E731
    assert passes("lightness", {"lightness": e(1.5, 1.2), "warmth": e(0.4, 0.1), "cat": e(-0.9, -1.2)})
    assert not passes("lightness", {"lightness": e(1.5, -0.1), "warmth": e(0.4, 0.1)})  # CI includes 0
    assert not passes("lightness", {"lightness": e(1.5, 1.2), "warmth": e(-1.6, -1.9)})  # entangled
    assert passes("p_tabby", {"p_tabby": e(1.5, 1.2), "cat": e(1.9, 1.5)})  # P(cat) holds P(tabby)


def test_round_trip(tmp_path):
    vectors = torch.nn.functional.normalize(torch.randn(2, 16), dim=1)
    meta = {"judge": "j", "step": 2.0, "spread": {}, "config": {"n_test": 5}, "tried": [],
            "directions": [{"attribute": "lightness", "label": "dark ↔ light fur"},
                           {"attribute": "p_siamese", "label": "Siamese ↔"}]}
    save_directions(tmp_path, vectors, meta)
    named = load_directions(tmp_path)
    assert torch.equal(named.vectors, vectors) and named.labels() == ["dark ↔ light fur", "Siamese ↔"]
    assert torch.allclose(named.apply(torch.zeros(1, 16), [1.0]), vectors[:1])
    assert load_directions(tmp_path / "nothing") is None


class AxisGenerator(torch.nn.Module):
    """A 16x16 'generator' with known directions: the face's grey level is 0.1 z[0], its warm tint
    (red up, blue down) 0.1 z[1], and the background's grey level 0.1 z[2]; z[3:] do nothing."""

    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(z_dim=8)
        self.face = regions(16)[0]

    def forward(self, z):
        grey, tint, back = (0.1 * z[:, i].view(-1, 1, 1) for i in range(3))
        face = torch.stack([grey + tint, grey.expand(-1, 1, 1), grey - tint], 1)  # (N, 3, 1, 1)
        return torch.where(self.face, face, back.unsqueeze(1)).expand(-1, 3, 16, 16)


class FlatJudge:
    """What find_directions asks of a judge: a name, and (N, 1000) ImageNet probabilities per image."""

    name = "flat"

    def probs(self, images, batch_size):
        return torch.full((len(images), 1000), 1e-3)


def test_find_directions_finds_the_known_axes_and_ships_only_those():
    cfg = DirectionsConfig(n_fit=400, n_test=60, n_pick=30, batch_size=500, progress=False)
    vectors, meta = find_directions(AxisGenerator(), FlatJudge(), cfg)
    shipped = [row["attribute"] for row in meta["directions"]]
    assert sorted(shipped) == ["background", "lightness", "warmth"] and vectors.shape == (3, 8)
    assert len(meta["tried"]) == 9 and meta["judge"] == "flat"  # breeds and P(cat) never move: not shipped
    for name, axis in (("lightness", 0), ("warmth", 1), ("background", 2)):
        cosine = float(vectors[shipped.index(name)][axis])  # rows are unit vectors
        assert cosine > 0.9, (name, vectors[shipped.index(name)])
    effect = next(row for row in meta["directions"] if row["attribute"] == "lightness")["effects"]["lightness"]
    assert effect["lo"] > 0 and effect["share_up"] == 1.0


@pytest.fixture(scope="module")
def dcgan64():
    generator = load_generator("weights/dcgan-64")
    named = load_directions("weights/dcgan-64")
    assert named is not None and len(named) >= 2, "weights/dcgan-64 ships its named directions"
    return generator, named


def moved(named, name: str, z: torch.Tensor, step: float = 2.0):
    d = named.vectors[named.names.index(name)]
    return z + step * d, z - step * d


@torch.no_grad()
def test_the_shipped_light_fur_direction_lightens_the_fur(dcgan64):
    generator, named = dcgan64
    z = latents(generator.config.z_dim, 200, seed=HELD_OUT)
    up, down = moved(named, "lightness", z)
    gain = colour_attributes(generator(up))["lightness"] - colour_attributes(generator(down))["lightness"]
    assert (gain > 0).double().mean() >= 0.9


@pytest.mark.slow
def test_a_shipped_breed_direction_raises_its_judge_probability(dcgan64):
    from catgan.judges import load_judge

    generator, named = dcgan64
    breed = next(n for n in named.names if n.startswith("p_"))
    measure = Measurer(generator, load_judge("efficientnet_lite0", fallback=False))
    z = latents(generator.config.z_dim, 48, seed=HELD_OUT)
    up, down = moved(named, breed, z)
    gain = measure(up)[breed] - measure(down)[breed]
    assert (gain > 0).double().mean() >= 0.9, breed


def test_directions_travel_with_the_model_through_the_hub(fake_hub, tmp_path):
    """Published with the weights folder, and fetched back with the model from the Hub."""
    from catgan.hub import loader as hub
    from catgan.hub.publish import publish
    from catgan.models import ModelConfig, build_generator
    from catgan.train.export import save_generator

    g = build_generator(ModelConfig(img_size=32, z_dim=16, g_width=8, d_width=8)).eval()
    folder = save_generator(g, tmp_path / "w" / "dcgan-32", n_grid=4)
    vectors = torch.nn.functional.normalize(torch.randn(1, 16), dim=1)
    meta = {"judge": "j", "step": 2.0, "spread": {"lightness": 1.0}, "config": {"n_test": 5}, "directions": [
        {"attribute": "lightness", "label": "dark ↔ light fur", "ships": True,
         "effects": {"lightness": {"mean": 1.0, "lo": 0.5, "hi": 1.5, "share_up": 0.9}}}]}
    meta["tried"] = meta["directions"]
    save_directions(folder, vectors, meta)
    done = publish(folder, "me/catgan-dcgan-32")
    assert {"directions.json", "directions.safetensors"} <= set(done.files)
    assert "## Named latent directions" in fake_hub.files("me/catgan-dcgan-32")["README.md"].decode()
    loaded = hub.load("me/catgan-dcgan-32", cache_dir=tmp_path / "hf-cache")
    assert loaded.origin == "hub" and loaded.folder != str(folder)
    named = load_directions(loaded.folder)
    assert named.labels() == ["dark ↔ light fur"] and torch.equal(named.vectors, vectors)
