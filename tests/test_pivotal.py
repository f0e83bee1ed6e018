"""Pivotal tuning: the generator's last layers, tuned to one cat, draw it more closely from the same
latent, while the shared generator stays as it was and a walk blends the tail away."""
import pytest
import torch

from app_ui.your_cat import FORGOTTEN, Tails
from catgan.latent.inversion import psnr
from catgan.latent.pivotal import TuneConfig, draw_tuned, tail_names, tune
from catgan.models import ModelConfig, build_generator


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return build_generator(ModelConfig(arch="dcgan", img_size=32, z_dim=16, g_width=8, d_width=8)).eval()


def test_the_tail_is_the_last_layers_that_fit(generator):
    convs = [n for n, _ in generator.named_parameters() if n.endswith("weight") and _.dim() == 4]
    sizes = {n: p.numel() for n, p in generator.named_parameters()}
    assert tail_names(generator, sizes[convs[-1]]) == [convs[-1]]
    two = tail_names(generator, sizes[convs[-1]] + sizes[convs[-2]])
    assert two == convs[-2:]  # whole layers, in order; BatchNorm is never tuned
    assert tail_names(generator, sizes[convs[-1]] - 1) == []  # not even the last fits


def test_tuning_draws_the_target_closer_and_leaves_the_shared_generator_alone(generator):
    z = torch.randn(1, 16, generator=torch.Generator().manual_seed(1))
    ramp = torch.linspace(-0.8, 0.8, 32)
    target = torch.stack([ramp[None].expand(32, 32), ramp[:, None].expand(32, 32), torch.full((32, 32), 0.5)])[None]
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    tail = tune(generator, z, target, config=TuneConfig(steps=40, lr=1e-2, max_params=10_000))
    assert set(tail) == set(tail_names(generator, 10_000)) and tail
    assert all(torch.equal(v, generator.state_dict()[k]) for k, v in before.items())
    with torch.no_grad():
        plain = generator(z)
    tuned = draw_tuned(generator, tail, z)
    assert float(psnr(tuned, target)) > float(psnr(plain, target)) + 1
    assert tune(generator, z, target, config=TuneConfig(steps=0)) == {}


def test_a_walk_blends_the_tail_away(generator):
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(3))
    target = torch.zeros(1, 3, 32, 32)
    tail = tune(generator, z[:1], target, config=TuneConfig(steps=5, lr=1e-2, max_params=10_000))
    with torch.no_grad():
        plain = generator(z)
    tuned = draw_tuned(generator, tail, z)
    walk = draw_tuned(generator, tail, z, torch.tensor([1.0, 0.5, 0.0]))
    assert torch.allclose(walk[0], tuned[0]) and torch.allclose(walk[2], plain[2])
    assert not torch.allclose(walk[1], tuned[1]) and not torch.allclose(walk[1], plain[1])
    assert torch.equal(draw_tuned(generator, tail, z, 0.0), plain)
    assert torch.equal(draw_tuned(generator, {}, z), plain)


def test_the_app_keeps_only_the_latest_tails_and_says_so():
    tails = Tails(capacity=2)
    keys = [tails.keep({"w": torch.full((2,), float(i))}) for i in range(3)]
    assert tails.get(keys[2])["w"].dtype == torch.float16 and float(tails.get(keys[1])["w"][0]) == 1
    with pytest.raises(Exception, match="let go to make room"):
        tails.get(keys[0])
    assert "Find its twin again" in FORGOTTEN
