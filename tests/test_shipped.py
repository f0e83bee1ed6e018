"""The weights that ship in weights/: they load offline from the repo, fit their size budgets, and
each card carries the figures that results/table1.json (the last catgan.eval.evaluate run) measured."""
import re
from pathlib import Path

import pytest
import torch
from conftest import assert_fp16_file_loads_exactly

from catgan import load_generator
from catgan.eval.results import find_row, read_table
from catgan.hub.card import read_card_data
from catgan.judges import load_judge
from catgan.latent.encoder import load_encoder
from catgan.judges.animals import ANIMALS, OTHER, load_cifar, load_model
from catgan.judges.train_animals import evaluate

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = ("dcgan-64-r1", "dcgan-64", "dcgan-32", "gan-64", "gan-32")


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir())


@pytest.mark.parametrize("name", GENERATORS)
def test_shipped_generator_loads_offline_and_its_card_matches_table1(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = ROOT / "weights" / name
    generator = load_generator(folder)
    assert_fp16_file_loads_exactly(generator, folder / "model.safetensors")  # F16 on disk, exact in fp32
    z = torch.randn(8, generator.config.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        images = generator(z)
    size = int(name.split("-")[1])
    assert images.shape == (8, 3, size, size) and torch.isfinite(images).all() and images.abs().max() <= 1
    assert images.std(0).mean() > 0.05  # different latents, different cats
    assert {"README.md", "config.json", "model.safetensors", "samples.png", "evolution.gif"} <= \
        {f.name for f in folder.iterdir()}
    assert folder_bytes(folder) <= 25_000_000  # what the Space carries per model
    encoder = folder / "encoder.safetensors"
    if encoder.is_file():  # your cat's first guess: it travels with the model
        assert encoder.stat().st_size <= 5_000_000 and load_encoder(folder, generator).config.z_dim == generator.config.z_dim

    row = find_row(read_table(ROOT / "results" / "table1.json"), [f"weights/{name}"])
    card = read_card_data((folder / "README.md").read_text())["metrics"]
    for key in ("n", "fid", "kid", "near_copy_fraction"):
        assert card[key] == pytest.approx(row[key]), key
    assert card["judges"] == row["judges"]


def test_shipped_resnet_animals_fits_and_states_its_accuracy():
    folder = ROOT / "weights" / "resnet-animals"
    assert folder_bytes(folder) <= 5_000_000 + 20_000  # weights <= 5 MB, plus config and card
    judge = load_judge("resnet-animals", weights=folder)
    assert judge.labels == [*ANIMALS, OTHER]
    card = (folder / "README.md").read_text()
    assert "## Measured test accuracy" in card and "6000 CIFAR-10 test images" in card
    assert "4000 vehicle test images" in card


def test_shipped_resnet_animals_accuracy_on_a_test_sample_agrees_with_its_card(real_cifar):
    """150 test images per animal class, scored the way the card's figure was measured: the sample's
    accuracy must lie within 4 points of the stated one (its standard error is about 1 point)."""
    folder = ROOT / "weights" / "resnet-animals"
    stated = float(re.search(r"\*\*([\d.]+) %\*\* on the", (folder / "README.md").read_text()).group(1))
    x, y = load_cifar(real_cifar, "test", ANIMALS, limit_per_class=150, other_per_class=0)
    measured = 100 * evaluate(load_model(folder), x, y, "cpu")["accuracy"]
    assert abs(measured - stated) < 4, (measured, stated)
