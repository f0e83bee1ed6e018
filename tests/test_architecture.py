"""Adding an architecture is one new file in catgan/models/ plus one registry line. Here a throwaway
third family is defined in this file and registered, then goes through training, export, the model
card, loading by folder and by Hub repo name, and the latent directions, with no other change."""
import pytest
import torch
from torch import nn

from catgan import latent, load_generator
from catgan.hub import loader as hub
from catgan.models import ARCHITECTURES, Architecture, Generator, HubModel, ModelConfig, register
from catgan.train.config import TrainConfig
from catgan.train.export import export_run
from catgan.train.trainer import Trainer


# ---- the "new file": catgan/models/tiny.py --------------------------------------------------
class TinyGenerator(Generator):
    def __init__(self, config):
        super().__init__(config)
        c = self.config
        self.net = nn.Sequential(nn.Linear(c.z_dim, c.g_width), nn.ReLU(), nn.Linear(c.g_width, 3 * c.img_size ** 2),
                                 nn.Tanh())

    def forward(self, z):
        return self.net(self.latent_input(z)).view(-1, 3, self.config.img_size, self.config.img_size)


class TinyDiscriminator(HubModel):
    def __init__(self, config):
        super().__init__(config)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * self.config.img_size ** 2, 1))

    def forward(self, x):
        return self.net(x).flatten()


ARCH = Architecture("tiny", "tiny test network (no paper)", TinyGenerator, TinyDiscriminator)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_registered():
    register(ARCH)  # the "registry line" in catgan/models/__init__.py
    yield
    ARCHITECTURES.pop("tiny")


def test_a_third_architecture_needs_only_its_file_and_a_registry_line(tiny_registered, tmp_path, monkeypatch):
    config = ModelConfig(arch="tiny", img_size=32, z_dim=8, g_width=16, d_width=16)
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    run = tmp_path / "run"
    Trainer(config, TrainConfig(out=str(run), steps=3, batch_size=16, sample_every=2), images, progress=False).fit()
    folder = export_run(run, tmp_path / "weights" / "tiny-32")
    modes = {f.name: f.stat().st_mode & 0o777 for f in folder.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"]  # as readable as the rest, not private
    card = (folder / "README.md").read_text()
    assert "A tiny test network (no paper) generator" in card and "--arch tiny --size 32" in card
    generator = load_generator(folder)
    assert type(generator) is TinyGenerator and generator(torch.zeros(2, 8)).shape == (2, 3, 32, 32)
    # a Hub repo id named after the family falls back to the bundled folder of that name, offline
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(UserWarning, match="bundled"):
        loaded = hub.load("someone/catgan-tiny-32", weights_root=tmp_path / "weights")
    assert loaded.origin == "bundled" and isinstance(loaded.generator, TinyGenerator)
    directions = latent.principal_directions(generator, k=2, samples=64)
    assert directions.vectors.shape == (2, 8) and directions.layer.startswith("net[0:2]")


def test_an_unregistered_architecture_is_refused_by_name():
    with pytest.raises(ValueError, match=r"arch must be one of \('gan', 'dcgan', 'fastgan', 'projected'\), got 'tiny'"):
        ModelConfig(arch="tiny")
