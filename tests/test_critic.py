"""The critic and rejection sampling (catgan.latent.critic): Platt scaling recovers a known calibration,
sampling is seeded and prefix-stable, a trained critic pulls a generator's samples toward the real
distribution, and its folder round-trips strictly. Tiny generators (32 px, width 8) keep each test to
seconds."""
import json

import pytest
import torch
from conftest import tiny_generator

from catgan.eval.evaluate import EvalConfig, Evaluator
from catgan.eval.inception import inception_weights_path
from catgan.images import to_uint8
from catgan.latent.critic import (
    BATCH,
    Critic,
    CriticConfig,
    CriticTrainConfig,
    critic_latents,
    fit_platt,
    has_critic,
    load_critic,
    save_critic,
    train_critic,
    with_strength,
)
from catgan.models import ModelConfig, build_generator
from catgan.weights import CRITIC_META, CRITIC_NAME

Z_DIM = 16
pytestmark = pytest.mark.usefixtures("one_thread")  # conftest's: torch at one thread, then as it was


def test_platt_scaling_recovers_a_known_calibration():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(20000, generator=gen) * 2
    labels = torch.rand(20000, generator=gen) < torch.sigmoid(0.5 * logits - 1.0)  # true scale 0.5, bias -1
    real, fake = logits[labels], logits[~labels]
    scale, bias = fit_platt(real, fake)
    # the class-balanced fit moves the bias by log(#fake / #real); the scale is the true one
    assert scale == pytest.approx(0.5, abs=0.05)
    assert bias == pytest.approx(-1.0 + torch.log(torch.tensor(len(fake) / len(real))).item(), abs=0.1)


def test_critic_latents_are_seeded_and_the_same_whatever_n():
    generator = tiny_generator()
    critic = Critic(CriticConfig(img_size=32, width=8, scale=1.0, bias=0.0, ceiling=2.0))
    z, kept = critic_latents(generator, critic, 40, seed=3)
    assert z.shape == (40, Z_DIM) and 0 < kept < 1
    assert torch.equal(critic_latents(generator, critic, 7, seed=3)[0], z[:7])
    assert not torch.equal(critic_latents(generator, critic, 7, seed=4)[0], z[:7])
    scaled, _ = critic_latents(generator, critic, 7, seed=3, truncation=0.5)
    assert scaled.norm(dim=1).mean() < 0.75 * z[:7].norm(dim=1).mean()


def test_a_critic_that_keeps_everything_keeps_every_candidate():
    generator = tiny_generator()
    critic = Critic(CriticConfig(img_size=32, width=8, scale=0.0, bias=0.0, ceiling=0.0))  # s = 0 = ceiling
    z, kept = critic_latents(generator, critic, BATCH, seed=0)
    assert kept == 1.0
    assert torch.equal(z, torch.randn(BATCH, Z_DIM, generator=torch.Generator().manual_seed(0)))


def test_a_weaker_critic_keeps_more_and_strength_zero_keeps_all():
    generator = tiny_generator()
    critic = Critic(CriticConfig(img_size=32, width=8, scale=1.0, bias=0.0, ceiling=2.0)).eval()
    rates = [with_strength(generator, critic, strength, n=512).config.keep_rate for strength in (1.0, 0.5, 0.0)]
    assert rates[0] < rates[1] < rates[2] == 1.0
    assert critic_latents(generator, critic, 8, seed=0)[1] == 1.0  # strength 0: plain sampling
    with pytest.raises(ValueError, match="strength in"):
        with_strength(generator, critic, 1.5)


def test_a_half_size_critic_sees_area_averaged_images():
    critic = Critic(CriticConfig(img_size=64, input_size=32, width=8)).eval()
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    small = torch.nn.functional.avg_pool2d(x, 2)
    assert torch.allclose(critic.logits(x), critic.net(small), atol=1e-6)
    with pytest.raises(ValueError, match="input_size"):
        CriticConfig(img_size=32, input_size=64)


def test_a_critic_that_keeps_nothing_says_so():
    generator = tiny_generator()
    critic = Critic(CriticConfig(img_size=32, width=8, scale=0.0, bias=-100.0, ceiling=0.0))
    with pytest.raises(RuntimeError, match="kept 0 of"):
        critic_latents(generator, critic, 4, seed=0, max_batches=3)


def test_a_trained_critic_pulls_samples_toward_the_real_distribution():
    """The 'real' faces are the generator's own samples with z[0] > 0: the density ratio is 2 there and
    0 elsewhere, so rejection sampling through a good critic keeps mostly latents with z[0] > 0."""
    generator = tiny_generator()
    z = torch.randn(4000, Z_DIM, generator=torch.Generator().manual_seed(1))
    z = z[z[:, 0] > 0]
    with torch.no_grad():
        real = to_uint8(generator(z))
    config = CriticTrainConfig(steps=300, batch_size=32, check_every=100, calibration_samples=1024)
    seen = []
    critic, report = train_critic(generator, real, config=config, width=8, callback=lambda s, r: seen.append(s))
    assert seen == [100, 200, 300] and report["steps"] == 300 and report["best_step"] in seen
    assert report["held_accuracy"] > 0.6 and report["calibrated_held_loss"] <= report["held_loss"] + 1e-6
    assert 0 < report["keep_rate"] < 1 and report["held_faces"] == len(real) // 10
    kept, rate = critic_latents(generator, critic, 300, seed=0)
    assert (kept[:, 0] > 0).float().mean() > 0.7  # without the critic: 0.5
    assert rate == pytest.approx(report["keep_rate"], abs=0.1)


def test_a_critic_round_trips_strictly_through_its_folder(tmp_path):
    generator = tiny_generator()
    critic = Critic(CriticConfig(img_size=32, width=8, scale=0.7, bias=-0.2, ceiling=1.5)).eval()
    assert not has_critic(tmp_path)
    with pytest.raises(FileNotFoundError, match="no critic.safetensors"):
        load_critic(tmp_path)
    save_critic(critic, tmp_path)
    assert has_critic(tmp_path)
    back = load_critic(tmp_path, generator)
    assert back.config == critic.config
    x = generator(torch.randn(4, Z_DIM))
    assert torch.allclose(back(x), critic(x), atol=1e-2)  # fp16 on disk
    with pytest.raises(ValueError, match="is for 32 px"):
        load_critic(tmp_path, build_generator(ModelConfig(arch="dcgan", img_size=64, g_width=8, z_dim=Z_DIM)))
    (tmp_path / CRITIC_META).write_text(json.dumps({**json.loads((tmp_path / CRITIC_META).read_text()), "x": 1}))
    with pytest.raises(ValueError, match="unknown keys"):
        load_critic(tmp_path)
    save_critic(critic, tmp_path)
    (tmp_path / CRITIC_NAME).write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_critic(tmp_path)


def test_the_evaluator_samples_a_folder_with_a_critic_through_it(tmp_path, cats_zip):
    if not inception_weights_path().is_file():
        pytest.skip("needs ../shared/weights/pt_inception-2015-12-05-pool3-nofc.pth")
    generator = tiny_generator()
    generator.save_pretrained(tmp_path / "dcgan-32")
    cfg = EvalConfig(real=str(cats_zip), judges=(), n=64, img_size=32, progress=False, real_limit=64)
    plain = Evaluator(cfg).generator_row(str(tmp_path / "dcgan-32"))
    assert "critic_keep_rate" not in plain
    save_critic(Critic(CriticConfig(img_size=32, width=8, scale=1.0, bias=0.0, ceiling=1.0)), tmp_path / "dcgan-32")
    row = Evaluator(cfg).generator_row(str(tmp_path / "dcgan-32"))
    assert 0 < row["critic_keep_rate"] < 1 and row["fid"] != plain["fid"]


def test_the_app_draws_a_model_with_a_critic_through_it_in_every_tab(tmp_path):
    """Models.latents, behind the sample grid, the sliders, interpolation, the quiz and the score tab,
    keeps what the critic keeps, remembers it per seed, and says so in the model's description."""
    app = pytest.importorskip("app")
    import gradio
    from app_ui import common

    generator = tiny_generator()
    generator.save_pretrained(tmp_path / "dcgan-32-critic")
    generator.save_pretrained(tmp_path / "dcgan-32")
    critic = Critic(CriticConfig(img_size=32, width=8, scale=1.0, bias=0.0, ceiling=1.0)).eval()
    save_critic(critic, tmp_path / "dcgan-32-critic")
    critic = load_critic(tmp_path / "dcgan-32-critic")  # as stored (fp16)
    models = app.Models(common.Settings(tmp_path, app.find_sources(tmp_path)[0]))
    _, z = models.latents("dcgan-32-critic", 7, 1.0, n=5)
    expected, kept = critic_latents(generator, critic, 5, seed=7)
    assert kept < 1 and torch.equal(z, expected)
    assert torch.equal(models.latents("dcgan-32-critic", 7, 1.0, n=2)[1], z[:2])  # from memory, same prefix
    assert torch.equal(models.latents("dcgan-32", 7, 1.0, n=2)[1],
                       torch.randn(2, Z_DIM, generator=torch.Generator().manual_seed(7)))  # no critic: plain
    assert "critic" in models.describe("dcgan-32-critic") and "critic" not in models.describe("dcgan-32")
    moved = models.latents("dcgan-32-critic", 7, 1.0, {"pc1": 2.0}, n=5)[1]
    assert not torch.equal(moved, z) and moved.shape == z.shape
    assert models.fake().image.shape == (3, 32, 32)
    save_critic(Critic(CriticConfig(img_size=32, width=8, scale=0.0, bias=-100.0, ceiling=0.0)),
                tmp_path / "dcgan-32")  # a critic that keeps nothing costs a bounded wait and says so
    models = app.Models(common.Settings(tmp_path, app.find_sources(tmp_path)[0]))
    with pytest.raises(gradio.Error, match="keeps too few of its cats"):
        models.latents("dcgan-32", 1, 1.0, n=4)


def test_a_critic_travels_with_its_model_to_the_hub_and_onto_its_card(fake_hub, tmp_path):
    """Publishing uploads the critic beside the generator and the card says how samples are drawn;
    a Hub load brings the critic back, and refresh_card renders the same section locally."""
    from catgan.hub.card import refresh_card
    from catgan.hub.loader import load
    from catgan.hub.publish import publish

    folder = tmp_path / "dcgan-32-critic"
    tiny_generator().save_pretrained(folder)
    save_critic(Critic(CriticConfig(img_size=32, width=8, strength=0.5, keep_rate=0.25)), folder)
    refresh_card(folder)
    local = (folder / "README.md").read_text()
    assert "## Critic" in local and "strength 0.5" in local and "keeps 25.0%" in local
    publish(folder, "me/catgan-dcgan-32-critic")
    files = fake_hub.files("me/catgan-dcgan-32-critic")
    assert {CRITIC_NAME, CRITIC_META} <= set(files) and files[CRITIC_NAME] == (folder / CRITIC_NAME).read_bytes()
    assert "load_critic(loaded.folder, loaded.generator)" in files["README.md"].decode()
    loaded = load("me/catgan-dcgan-32-critic", cache_dir=tmp_path / "hf-cache")
    assert load_critic(loaded.folder, loaded.generator).config.strength == 0.5
